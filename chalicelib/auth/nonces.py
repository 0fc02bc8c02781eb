"""Replay protection: each (key id, nonce) is accepted once.

One item per nonce in NONCES_TABLE, put only if absent; DynamoDB's conditional write decides
between concurrent replays, so exactly one of them is accepted. The item expires (TTL
attribute `expires_at`) once its timestamp has left the window: by then the timestamp check
refuses the request anyway, and the table does not grow without end.
"""
import re
from datetime import datetime, timezone

from pynamodb.exceptions import PutError

from ..dynamo import condition_failed
from .models import Nonce

NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Kept a minute past the window: a clock a little ahead of the caller's cannot let the
# item expire while the request it guards is still acceptable.
TTL_MARGIN_SECONDS = 60


def well_formed(nonce: str) -> bool:
    return NONCE_PATTERN.fullmatch(nonce) is not None


def expires_at(timestamp: int, window_seconds: int) -> int:
    return timestamp + window_seconds + TTL_MARGIN_SECONDS


def claim(key_id: str, nonce: str, expires: int) -> bool:
    """True if this call is the first to use the nonce; False if it was already used."""
    item = Nonce(Nonce.key(key_id, nonce),
                 expires_at=datetime.fromtimestamp(expires, tz=timezone.utc))
    try:
        item.save(condition=Nonce.nonce_key.does_not_exist())
    except PutError as error:
        # Matched by code: a client's `exceptions` classes are built lazily, and two threads
        # building them at once get different classes, so an `except` on one misses the other.
        if not condition_failed(error):
            raise
        return False
    return True
