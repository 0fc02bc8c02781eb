"""The merchant's client of the payment API, over real HTTP (urllib3).

One call, `send(kind, message)`, POSTs the seed's request message to
`<base_url>/pay` or `<base_url>/withdraw` and names what came back:

* `Recorded(answer)`: HTTP 200 with `response_code` SUCCESS or FAIL, echoing our
  request_id: the payment system recorded the order (FAIL: e.g. 账户余额不足);
* `Refused(answer)`: HTTP 400: the payment API refused the message and recorded
  nothing (its `response_msg` says why);
* `Conflict(detail)`: HTTP 409: the request_id is known there with other
  parameters. The merchant never re-sends with other parameters, so this is a
  bug somewhere; the caller keeps the order UNKNOWN and logs an error;
* `Lost(reason)`: no usable answer: timeout, connection error, 5xx (503 BUSY
  included), any other status, or a body that is not the expected message.
  The payment system may or may not have recorded the order.

No retries here: a lost call is resolved by re-sending the identical message
later (`chalicelib.merchant.service.resolve`).
"""
import json
from dataclasses import dataclass
from typing import Optional, Union

import urllib3

from ..payments.orders import Kind
from .orders import Answer

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
    if status == 400:
        answer = answer or {}
        return Refused(Answer(response_code="FAIL",
                              response_msg=_text(answer.get("response_msg")) or "refused (HTTP 400)",
                              response_time=_text(answer.get("response_time")),
                              response_id=None))
    if status == 409:
        return Conflict(_text((answer or {}).get("response_msg")) or "HTTP 409")
    return Lost(f"HTTP {status}")


class PaymentApi:
    """Thread-safe (one urllib3 pool shared by every thread of the handler)."""

    def __init__(self, base_url: str, timeout_seconds: float, pool_size: int = 32):
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._pool = urllib3.PoolManager(maxsize=pool_size, block=False)

    def send(self, kind: Kind, message: dict) -> Outcome:
        try:
            response = self._pool.request(
                "POST", self.base_url + PATHS[kind],
                body=json.dumps(message, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json"},
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
        return classify(response.status, response.data, message["request_id"])
