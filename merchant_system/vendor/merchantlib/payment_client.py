"""The merchant's client of the payment API, over real HTTP (urllib3).

One call, `send(kind, message)`, POSTs the contract's request message to
`<base_url>/pay` or `<base_url>/withdraw` and names what came back:

* `Recorded(answer)`: HTTP 200 with `response_code` SUCCESS or FAIL, echoing our
  request_id: the payment system recorded the order (FAIL: e.g. 账户余额不足);
* `Refused(answer)`: HTTP 400, or 403 (our key may not act for this saler): the
  payment API refused the message and recorded nothing (its `response_msg` says why);
* `Conflict(detail)`: HTTP 409: the request_id is known there with other
  parameters. The merchant never re-sends with other parameters, so this is a
  bug somewhere; the caller keeps the order UNKNOWN and logs an error;
* `Lost(reason)`: no usable answer: timeout, connection error, 5xx (503 BUSY
  included), any other status, or a body that is not the expected message.
  The payment system may or may not have recorded the order. A 401 (signature
  refused) is Lost too: nothing was recorded, but a stale cached key is the likely
  cause, so the key is read again and the resolver's re-send gets through.

Every call is signed (chalicelib.auth.signature) with the merchant's key over the exact
bytes sent and the full request path, the base URL's path prefix included (that is the
target the payment API receives). A re-send of the same order sends the same bytes
under a fresh nonce and timestamp: the payment API's replay guard refuses a reused nonce.

No retries here: a lost call is resolved by re-sending the identical message
later (`merchantlib.service.resolve`).
"""
import json
from dataclasses import dataclass
from typing import Optional, Union
from urllib.parse import urlsplit

import urllib3

from chalicelib.auth import signature
from chalicelib.payments.orders import Kind
from .orders import Answer
from .signing_key import SecretsManagerKey, SigningKeyUnavailable

PATHS = {Kind.PAY: "/pay", Kind.WITHDRAW: "/withdraw"}
RESPONSE_CODES = ("SUCCESS", "FAIL")


@dataclass(frozen=True)
class Recorded:
    answer: Answer


@dataclass(frozen=True)
class Refused:
    answer: Answer


@dataclass(frozen=True)
class Conflict:
    detail: str


@dataclass(frozen=True)
class Lost:
    reason: str


Outcome = Union[Recorded, Refused, Conflict, Lost]


def _json(body: bytes) -> Optional[dict]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _text(value) -> Optional[str]:
    return value if isinstance(value, str) else None


def classify(status: int, body: bytes, request_id: str) -> Outcome:
    """Name an HTTP answer of the payment API (pure: the tests drive it directly too)."""
    answer = _json(body)
    if status == 200:
        if (answer is None or answer.get("request_id") != request_id
                or answer.get("response_code") not in RESPONSE_CODES
                or not _text(answer.get("response_id")) or not _text(answer.get("response_time"))):
            return Lost(f"HTTP 200 without a valid answer for {request_id}")
        return Recorded(Answer(response_code=answer["response_code"],
                               response_msg=_text(answer.get("response_msg")) or "",
                               response_time=answer["response_time"],
                               response_id=answer["response_id"]))
    if status in (400, 403):
        answer = answer or {}
        return Refused(Answer(response_code="FAIL",
                              response_msg=_text(answer.get("response_msg")) or f"refused (HTTP {status})",
                              response_time=_text(answer.get("response_time")),
                              response_id=None))
    if status == 409:
        return Conflict(_text((answer or {}).get("response_msg")) or "HTTP 409")
    return Lost(f"HTTP {status}")


def encode(message: dict) -> bytes:
    """The bytes sent for a message: the same message always gives the same bytes."""
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


class PaymentApi:
    """Thread-safe (one urllib3 pool shared by every thread of the handler).

    `signing_key`: where the merchant's key comes from (None sends unsigned: only for a
    payment API that does not verify, e.g. a test double)."""

    def __init__(self, base_url: str, timeout_seconds: float,
                 signing_key: Optional[SecretsManagerKey] = None, pool_size: int = 32):
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.signing_key = signing_key
        # The payment API may be mounted under a prefix (API Gateway's stage, a proxy):
        # the signed path is the whole target the request line carries.
        self._path_prefix = urlsplit(self.base_url).path
        self._pool = urllib3.PoolManager(maxsize=pool_size, block=False)

    def path(self, kind: Kind) -> str:
        return self._path_prefix + PATHS[kind]

    def headers(self, kind: Kind, body: bytes) -> dict:
        """Content type and, with a key, the four signature headers (a fresh nonce each time)."""
        headers = {"Content-Type": "application/json"}
        if self.signing_key is not None:
            key = self.signing_key.key()
            headers.update(signature.signed_headers(key.key_id, key.secret, "POST",
                                                    self.path(kind), body))
        return headers

    def send(self, kind: Kind, message: dict) -> Outcome:
        body = encode(message)
        try:
            headers = self.headers(kind, body)
        except SigningKeyUnavailable as error:
            # Nothing was sent, but the order stays UNKNOWN rather than FAIL: a key that is
            # briefly unreadable must not turn a payment into a refusal; the resolver re-sends.
            return Lost(str(error))
        try:
            response = self._pool.request(
                "POST", self.base_url + PATHS[kind], body=body, headers=headers,
                # One budget for connecting and reading the whole answer.
                timeout=urllib3.Timeout(total=self.timeout_seconds),
                retries=False, redirect=False)
        except urllib3.exceptions.NewConnectionError as error:
            # Checked first: urllib3 makes it a subclass of ConnectTimeoutError.
            return Lost(f"connection: {type(error).__name__}")
        except urllib3.exceptions.TimeoutError:
            return Lost("timeout")
        except urllib3.exceptions.HTTPError as error:
            return Lost(f"connection: {type(error).__name__}")
        if response.status == 401 and self.signing_key is not None:
            self.signing_key.forget()
        return classify(response.status, response.data, message["request_id"])
