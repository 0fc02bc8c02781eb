"""The subsidy API's answers: `{"code", "message", "data"}` (seed 000), refusals included.

Success: `{"code": 0, "message": "success", "data": {...}}`. A refusal: the number of the one
error table as `code`, its message (naming the field when one is at fault), `data` (null, or
what is known: the outbound numbers, the channel's code and message), plus `error_name` and
`field` like every other refusal of PaySettle.
"""
import functools
from typing import Optional

from botocore.exceptions import BotoCoreError, ClientError

from ..dynamo import RETRYABLE_ERRORS, error_code
from ..errors import ErrorCode, PaySettleError
from ..http import json_response
from ..logs import log


class SubsidyError(PaySettleError):
    """A refusal that carries data (e.g. the channel's code and message)."""

    def __init__(self, code: ErrorCode, detail: Optional[str] = None, field: Optional[str] = None,
                 data: Optional[dict] = None):
        super().__init__(code, detail=detail, field=field)
        self.data = data


def ok(data: dict) -> dict:
    return {"code": 0, "message": "success", "data": data}


def refusal(error: PaySettleError) -> dict:
    return {"code": error.code.number, "message": error.message,
            "data": getattr(error, "data", None), "error_name": error.code.name,
            "field": error.field}


def enveloped(route):
    """`chalicelib.http.handled` for the subsidy routes: every exception becomes an answer."""
    @functools.wraps(route)
    def wrapper(*args, **kwargs):
        try:
            return route(*args, **kwargs)
        except PaySettleError as error:
            return json_response(refusal(error), error.code.http_status)
        except (ClientError, BotoCoreError) as error:
            code = error_code(error) if isinstance(error, ClientError) else type(error).__name__
            log("aws.error", route=route.__name__, error=code)
            transient = code in RETRYABLE_ERRORS or isinstance(error, BotoCoreError)
            refused = PaySettleError(ErrorCode.BUSY if transient else ErrorCode.INTERNAL)
            return json_response(refusal(refused), refused.code.http_status)
        except Exception as error:  # noqa: BLE001 - the last line of defence: log it, answer JSON
            log("route.failed", route=route.__name__, error=type(error).__name__,
                detail=str(error)[:300])
            return json_response(refusal(PaySettleError(ErrorCode.INTERNAL)), 500)
    return wrapper
