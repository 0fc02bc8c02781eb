"""The one place the simulator sends requests to the payment center.

Every notification is signed with the channel's credential (`{"key_id", "secret"}`, the
contract's `channel` role) over the exact bytes sent: the center answers an unsigned one
401 and records nothing. No retries: a failed
notification is reported to whoever asked for it (the control API answers 502), so a test
sees it instead of a center that silently missed a payment.
"""
import json
import urllib.error
import urllib.request
from typing import Mapping, Optional
from urllib.parse import urlsplit

from chalicelib.auth import signature

DEFAULT_TIMEOUT_SECONDS = 5.0
TRANSACTIONS_PATH = "/channel/notifications/transactions"
PROFITSHARING_PATH = "/channel/notifications/profitsharing"


class NotificationFailed(RuntimeError):
    """The center did not acknowledge: unreachable, timed out, or answered other than 200
    (`status`: the center's HTTP status, None when there was no answer)."""

    def __init__(self, reason: str, status=None):
        super().__init__(reason)
        self.status = status


def send(center_url: str, path: str, body: dict, timeout: float = DEFAULT_TIMEOUT_SECONDS,
         credential: Optional[Mapping] = None) -> dict:
    """POST `body` as JSON to `center_url` + `path`, signed with `credential` when given;
    the center's JSON answer on HTTP 200.

    Raises NotificationFailed with the reason otherwise."""
    url = center_url.rstrip("/") + path
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if credential is not None:
        # The signed path is the whole target, the center URL's own prefix included.
        headers.update(signature.signed_headers(credential["key_id"], credential["secret"],
                                                "POST", urlsplit(url).path, data))
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        detail = error.read()[:500].decode("utf-8", "replace")
        raise NotificationFailed(f"the center answered HTTP {error.code}: {detail}", error.code) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise NotificationFailed(f"the center could not be reached: {reason}") from None
    if status != 200:
        raise NotificationFailed(f"the center answered HTTP {status}", status)
    try:
        return json.loads(raw.decode("utf-8") or "{}")
    except ValueError:
        raise NotificationFailed("the center's answer is not JSON", status) from None
