"""The request signature, shared by the center (to verify) and every caller (to sign).

    X-Signature = lowercase hex of HMAC-SHA256(secret, "METHOD\nPATH\nTIMESTAMP\nNONCE\nBODY\n")

PATH is the request target in its canonical form (`canonical_target`): its path with empty
segments dropped (`//pay` and `/pay/` are `/pay`), then the query string as sent. BODY is the
exact bytes sent (empty when there is none). Pure: no I/O, no clock unless one is not given.

Why a canonical path rather than the target exactly as sent: the center never sees the path as
sent. API Gateway and the local server route `/pay/` and `//pay` to `/pay` and hand the app a
routed path (locally, only the route and its parameters), so "as sent" could not be verified
the same way everywhere. Both sides compute this one form instead: a caller may send either
spelling, and a signature over the uncanonical spelling never verifies (4012).
"""
import hashlib
import hmac
import secrets
import time
from typing import Dict, Optional, Union

KEY_ID = "X-Key-Id"
TIMESTAMP = "X-Timestamp"
NONCE = "X-Nonce"
SIGNATURE = "X-Signature"
HEADERS = (KEY_ID, TIMESTAMP, NONCE, SIGNATURE)

Body = Union[bytes, str, None]


def _bytes(body: Body) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def canonical_target(target: str) -> str:
    """The target as signed: empty path segments dropped, the query string (if any) unchanged."""
    path, _, query = target.partition("?")
    path = "/" + "/".join(segment for segment in path.split("/") if segment)
    return f"{path}?{query}" if query else path


def message(method: str, path: str, timestamp: str, nonce: str, body: Body) -> bytes:
    """The string to sign; `path` is put in its canonical form first."""
    head = f"{method.upper()}\n{canonical_target(path)}\n{timestamp}\n{nonce}\n".encode("utf-8")
    return head + _bytes(body) + b"\n"


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: Body) -> str:
    return hmac.new(secret.encode("utf-8"), message(method, path, timestamp, nonce, body),
                    hashlib.sha256).hexdigest()


def matches(secret: str, signature: str, method: str, path: str, timestamp: str, nonce: str,
            body: Body) -> bool:
    """Constant-time: how much of a guess is right must not show in the time taken."""
    expected = sign(secret, method, path, timestamp, nonce, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


def new_nonce() -> str:
    return secrets.token_hex(16)


def signed_headers(key_id: str, secret: str, method: str, path: str, body: Body,
                   now: Optional[float] = None, nonce: Optional[str] = None) -> Dict[str, str]:
    """The four headers for one request; a fresh nonce unless one is given (tests of replay)."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or new_nonce()
    return {KEY_ID: key_id, TIMESTAMP: timestamp, NONCE: nonce,
            SIGNATURE: sign(secret, method, path, timestamp, nonce, body)}
