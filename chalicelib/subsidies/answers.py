"""The subsidy API's answers: `{"code", "message", "data"}`, refusals included.

Success: `{"code": 0, "message": "success", "data": {...}}`. A refusal: the number of the one
error table as `code`, its message (naming the field when one is at fault), `data` (null, or
what is known: the outbound numbers, the channel's code and message), plus `error_name` and
`field` like every other refusal of PaySettle.
"""
from typing import Optional

from ..errors import ErrorCode, PaySettleError


class SubsidyError(PaySettleError):
    """A refusal that carries data (e.g. the channel's code and message)."""

    def __init__(self, code: ErrorCode, detail: Optional[str] = None, field: Optional[str] = None,
                 data: Optional[dict] = None):
        super().__init__(code, detail=detail, field=field)
        self.data = data


