"""Turns raw request bytes into a JSON object, refusing anything hostile."""
import json
from typing import Optional

from .config import MAX_BODY_BYTES, MAX_JSON_DEPTH
from .errors import ErrorCode, InvalidField, PaySettleError


def _no_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            # Two values for one key: which one a parser keeps differs between
            # systems, so the request is ambiguous.
            # An empty key is named as the JSON it was: "" (as messages.parse names it).
            raise InvalidField(key or '""', "is given more than once")
        seen[key] = value
    return seen


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _too_deep(value, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def parse_object(raw: bytes, max_bytes: Optional[int] = None) -> dict:
    """`max_bytes`: MAX_BODY_BYTES unless a route documents a larger limit (50 receivers)."""
    limit = max_bytes or MAX_BODY_BYTES
    if raw is None or len(raw) == 0:
        raise PaySettleError(ErrorCode.MALFORMED_BODY, "request body is empty", field="body")
    if len(raw) > limit:
        raise PaySettleError(ErrorCode.BODY_TOO_LARGE,
                             f"is larger than {limit} bytes", field="body")
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
        value = json.loads(text, object_pairs_hook=_no_duplicate_keys,
                           parse_constant=_refuse_constant)
    except InvalidField:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PaySettleError(ErrorCode.MALFORMED_BODY,
                             f"is not valid JSON ({type(exc).__name__})", field="body") from None
    if not isinstance(value, dict):
        raise PaySettleError(ErrorCode.MALFORMED_BODY, "must be a JSON object", field="body")
    if _too_deep(value, MAX_JSON_DEPTH):
        raise PaySettleError(ErrorCode.MALFORMED_BODY,
                             f"nests deeper than {MAX_JSON_DEPTH} levels", field="body")
    return value
