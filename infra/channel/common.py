"""What every operation of the channel shares: operation names, outcomes, errors,
answers, field parsing (WeChat v3 bodies: strings and integer fen), and the one reentry
mechanism on outbound numbers (`_Reentry`). Pure: no HTTP, no threads."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Dict, Optional

CHINA = timezone(timedelta(hours=8))

# Outcomes of a call, as the call log writes them.
APPLIED = "APPLIED"
REPLAYED = "REPLAYED"
REJECTED = "REJECTED"
NOT_APPLIED = "NOT_APPLIED"

# Operation names (the fault schedule and the call log use them).
SUBSIDY_CREATE = "subsidies.create"
SUBSIDY_RETURN = "subsidies.return"
SUBSIDY_CANCEL = "subsidies.cancel"
SUBSIDY_QUERY = "subsidies.query"
# Profit sharing .
SHARING_ORDERS = "profitsharing.orders"
SHARING_QUERY = "profitsharing.query"
SHARING_UNFREEZE = "profitsharing.unfreeze"
SHARING_RETURN_ORDERS = "profitsharing.return-orders"
SHARING_RETURN_QUERY = "profitsharing.return-query"
# Not a call of the center: the simulator's own notification of a settled receiver.
SHARING_NOTIFICATION = "profitsharing.notification"
FAULTABLE_OPERATIONS = (SUBSIDY_CREATE, SUBSIDY_RETURN, SUBSIDY_CANCEL, SUBSIDY_QUERY,
                        SHARING_ORDERS, SHARING_QUERY, SHARING_UNFREEZE,
                        SHARING_RETURN_ORDERS, SHARING_RETURN_QUERY)
# The field that carries each operation's outbound number (the call log's `outbound_no`).
OUTBOUND_FIELD = {SUBSIDY_CREATE: "out_subsidy_no", SUBSIDY_QUERY: "out_subsidy_no",
                  SUBSIDY_RETURN: "out_order_no", SHARING_ORDERS: "out_order_no",
                  SHARING_QUERY: "out_order_no", SHARING_UNFREEZE: "out_order_no",
                  SHARING_NOTIFICATION: "out_order_no",
                  SHARING_RETURN_ORDERS: "out_return_no", SHARING_RETURN_QUERY: "out_return_no"}

# WeChat's words for the refusals.
CANNOT_SUBSIDISE = "对应的订单不能补差"
RETURN_OVER_SUBSIDY = "回退金额超过补差金额"
NO_SUBSIDY_TO_RETURN = "对应的订单没有补差，不能回退"
REFUND_ALREADY_RETURNED = "该退款单已回退补差"
SUBSIDY_ALREADY_SUCCEEDED = "订单已补差成功，不能取消补差"
REENTRY_MISMATCH = "请求重入参数与原请求不一致"

MAX_AMOUNT = 10 ** 12          # fen; anything larger is not a plausible order
MAX_TEXT = 256


class ChannelError(Exception):
    """A refusal with its HTTP status, WeChat code and message (and the field, if one)."""

    def __init__(self, status: int, code: str, message: str, field_name: Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field_name

    def body(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


def param_error(field_name: str, problem: str) -> ChannelError:
    return ChannelError(400, "PARAM_ERROR", f"{field_name}: {problem}", field_name)


@dataclass(frozen=True)
class Answer:
    """What the channel answers one call: HTTP status, JSON body, and the log outcome."""
    status: int
    body: dict
    outcome: str


# -- field parsing (WeChat v3 bodies: strings and integer fen) --------------------------

def _text(body: dict, name: str, max_length: int = MAX_TEXT, required: bool = True) -> Optional[str]:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise param_error(name, "required, a non-empty string")
    if len(value) > max_length:
        raise param_error(name, f"at most {max_length} characters")
    return value


def _fen(body: dict, name: str, minimum: int = 1, allow_digit_string: bool = False) -> int:
    value = body.get(name)
    if allow_digit_string and isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise param_error(name, "required, an integer number of fen")
    if not minimum <= value <= MAX_AMOUNT:
        raise param_error(name, f"must be from {minimum} to {MAX_AMOUNT} fen")
    return value


def _flag(body: dict, name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise param_error(name, "required, true or false")
    return value


def _ratio(body: dict, name: str, default: str) -> Decimal:
    """A share in (0, 1], exact: JSON numbers and digit strings go through their text, so
    0.3 is 3/10 and never 0.29999..."""
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise param_error(name, "a number greater than 0 and at most 1")
    try:
        ratio = Decimal(str(value))
    except InvalidOperation:
        raise param_error(name, "a number greater than 0 and at most 1") from None
    if not ratio.is_finite() or not 0 < ratio <= 1:
        raise param_error(name, "a number greater than 0 and at most 1")
    return ratio


def _object(body) -> dict:
    if not isinstance(body, dict):
        raise param_error("body", "must be a JSON object")
    return body


@dataclass
class _Registered:
    params: dict
    answer: dict


class _Reentry:
    """Outbound number -> (the parameters that must match, the original answer)."""

    def __init__(self):
        self._entries: Dict[str, _Registered] = {}

    def replay(self, outbound_no: str, params: dict) -> Optional[Answer]:
        """The original answer (REPLAYED) for the same parameters; PARAM_ERROR for other
        parameters under the same number; None when the number is new."""
        known = self._entries.get(outbound_no)
        if known is None:
            return None
        if known.params != params:
            different = sorted(k for k in params if params[k] != known.params.get(k))
            raise ChannelError(400, "PARAM_ERROR",
                               f"{REENTRY_MISMATCH}: {', '.join(different)}",
                               different[0] if different else None)
        return Answer(200, dict(known.answer), REPLAYED)

    def known(self, outbound_no: str, params: dict) -> bool:
        """True when the number is registered with these parameters (the caller answers
        with the current state); PARAM_ERROR for other parameters; False when new."""
        if outbound_no not in self._entries:
            return False
        self.replay(outbound_no, params)
        return True

    def register(self, outbound_no: str, params: dict, answer: dict) -> None:
        self._entries[outbound_no] = _Registered(dict(params), dict(answer))

    def answer(self, outbound_no: str) -> Optional[dict]:
        known = self._entries.get(outbound_no)
        return dict(known.answer) if known else None


def rfc3339(moment: datetime) -> str:
    """WeChat's time format: `2026-11-22T13:53:27+08:00`."""
    return moment.astimezone(CHINA).isoformat(timespec="seconds")

