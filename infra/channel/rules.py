"""The channel's rules, as pure logic: no HTTP, no sleeping, no threads of its own.

`ChannelBook` holds what the simulated channel (modelled on WeChat Pay's e-commerce
subsidies API) knows: paid transactions, their subsidy, the subsidy returns, and the
log of every call; all of it behind one lock, so each call is judged, applied and
logged atomically (32 concurrent identical creates give exactly one APPLIED).
Amounts are integer fen everywhere.

Every operation is `call(operation, body, fault=None) -> Answer`. Its outcome, as
written in the call log:

* `APPLIED`     the channel moved money (or changed state) for this call;
* `REPLAYED`    the outbound number was known with the same parameters: the original
                answer (same ids, same `success_time`) and no second movement;
* `REJECTED`    the rules refused it (HTTP 4xx with a WeChat code), nothing changed;
* `NOT_APPLIED` an injected fault stopped the call before the rules saw it
                (`record_unapplied`, used by the server), nothing changed.

Reentrancy is one mechanism shared by every operation that carries an outbound
number (`_Reentry`: the outbound number, the parameters that must match, the
original answer). Only successful answers are registered: a refused call consumes
no number, so a re-send of a refused request is judged afresh (the seed's "a failed
subsidy is executed again"). Profit sharing (issue 6) adds its operations to
`OPERATIONS` with their own handlers and stores, using the same `_Reentry`.
"""
import itertools
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Dict, List, Optional

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
# Named now so faults can be scheduled for them; their handlers come with issue 6.
SHARING_ORDERS = "profitsharing.orders"
SHARING_RETURN_ORDERS = "profitsharing.return-orders"
FAULTABLE_OPERATIONS = (SUBSIDY_CREATE, SUBSIDY_RETURN, SUBSIDY_CANCEL, SUBSIDY_QUERY,
                        SHARING_ORDERS, SHARING_RETURN_ORDERS)
# The field that carries each operation's outbound number (the call log's `outbound_no`).
OUTBOUND_FIELD = {SUBSIDY_CREATE: "out_subsidy_no", SUBSIDY_QUERY: "out_subsidy_no",
                  SUBSIDY_RETURN: "out_order_no", SHARING_ORDERS: "out_order_no",
                  SHARING_RETURN_ORDERS: "out_return_no"}

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


def _object(body) -> dict:
    if not isinstance(body, dict):
        raise param_error("body", "must be a JSON object")
    return body


# -- what the channel stores ------------------------------------------------------------

@dataclass
class Transaction:
    """A paid order on the channel (made by the control API)."""
    transaction_id: str
    openid: str
    payment_order_id: str
    biz_order_id: str
    mch_id: str
    sub_mchid: str
    amount: int
    subsidy_limit: int
    success_time: str
    cancelled: bool = False
    subsidy: Optional[dict] = None          # the one successful subsidy
    returns: List[dict] = field(default_factory=list)

    @property
    def returned_amount(self) -> int:
        return sum(item["amount"] for item in self.returns)

    def identity(self) -> dict:
        return {"payment_order_id": self.payment_order_id, "biz_order_id": self.biz_order_id,
                "mch_id": self.mch_id, "sub_mchid": self.sub_mchid, "amount": self.amount,
                "subsidy_limit": self.subsidy_limit}

    def view(self) -> dict:
        return {"transaction_id": self.transaction_id, "openid": self.openid,
                **self.identity(), "success_time": self.success_time,
                "cancelled": self.cancelled,
                "subsidy": dict(self.subsidy) if self.subsidy else None,
                "returns": [dict(item) for item in self.returns],
                "returned_amount": self.returned_amount}


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

    def register(self, outbound_no: str, params: dict, answer: dict) -> None:
        self._entries[outbound_no] = _Registered(dict(params), dict(answer))

    def answer(self, outbound_no: str) -> Optional[dict]:
        known = self._entries.get(outbound_no)
        return dict(known.answer) if known else None


def rfc3339(moment: datetime) -> str:
    """WeChat's time format: `2026-11-22T13:53:27+08:00`."""
    return moment.astimezone(CHINA).isoformat(timespec="seconds")


class ChannelBook:
    """The simulated channel's state and rules; thread-safe (one lock for everything).

    `now`: a clock returning an aware datetime (tests may fix it)."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self._now = now
        self._lock = threading.Lock()
        # Ids stay unique across reset(): a center that kept records must never see one twice.
        self._ids = itertools.count(time.time_ns() // 1000 % 10 ** 10)
        self._handlers = {
            SUBSIDY_CREATE: self._create_subsidy,
            SUBSIDY_RETURN: self._return_subsidy,
            SUBSIDY_CANCEL: self._cancel_subsidy,
            SUBSIDY_QUERY: self._query_subsidy,
        }
        self.reset()

    def reset(self) -> None:
        """Forget every transaction, subsidy, return and call."""
        with self._lock:
            self._transactions: Dict[str, Transaction] = {}
            self._by_payment_order: Dict[str, str] = {}
            self._subsidies = _Reentry()      # out_subsidy_no
            self._returns = _Reentry()        # out_order_no
            self._return_by_refund: Dict[str, str] = {}   # refund_id -> out_order_no
            self._calls: List[dict] = []

    @property
    def operations(self):
        return tuple(self._handlers)

    # -- ids ---------------------------------------------------------------

    def _next(self, prefix: str, digits: int) -> str:
        """`prefix` + yyyyMMdd (China) + a sequence, `digits` long in all."""
        day = self._now().astimezone(CHINA).strftime("%Y%m%d")
        tail = digits - len(prefix) - len(day)
        return prefix + day + f"{next(self._ids) % 10 ** tail:0{tail}d}"

    @staticmethod
    def _openid() -> str:
        alphabet = string.ascii_letters + string.digits + "-_"
        return "ou8x" + "".join(secrets.choice(alphabet) for _ in range(24))

    # -- paid transactions (control API) ----------------------------------------

    def create_transaction(self, body) -> Transaction:
        """A paid order. Idempotent on `payment_order_id`: the same order again gives the
        same transaction; the same id with other fields is PARAM_ERROR."""
        body = _object(body)
        identity = {name: _text(body, name, 64)
                    for name in ("payment_order_id", "biz_order_id", "mch_id", "sub_mchid")}
        identity["amount"] = _fen(body, "amount", allow_digit_string=True)
        identity["subsidy_limit"] = _fen(body, "subsidy_limit", minimum=0, allow_digit_string=True)
        with self._lock:
            known = self._by_payment_order.get(identity["payment_order_id"])
            if known is not None:
                transaction = self._transactions[known]
                if transaction.identity() != identity:
                    different = sorted(k for k in identity if identity[k] != transaction.identity()[k])
                    raise ChannelError(400, "PARAM_ERROR",
                                       f"payment_order_id already paid with other {', '.join(different)}",
                                       different[0])
                return transaction
            transaction = Transaction(transaction_id=self._next("4200", 28), openid=self._openid(),
                                      success_time=rfc3339(self._now()), **identity)
            self._transactions[transaction.transaction_id] = transaction
            self._by_payment_order[transaction.payment_order_id] = transaction.transaction_id
            return transaction

    def money(self) -> Dict[str, dict]:
        """transaction_id -> {"limit", "subsidy", "returned"} (fen): the channel's money."""
        with self._lock:
            return {tid: {"limit": t.subsidy_limit,
                          "subsidy": t.subsidy["amount"] if t.subsidy else 0,
                          "returned": t.returned_amount}
                    for tid, t in self._transactions.items()}

    def transaction_view(self, transaction_id: str) -> Optional[dict]:
        with self._lock:
            transaction = self._transactions.get(transaction_id)
            return transaction.view() if transaction else None

    # -- calls -------------------------------------------------------------

    def call(self, operation: str, body, fault: Optional[str] = None,
             withheld: bool = False) -> Answer:
        """Judge, apply and log one call of `operation` (a name of `operations`).

        `fault`: the injected fault this call carries, if it is one that still reaches
        the rules (`timeout_after_commit`, `slow`); written in the log. `withheld`: the
        answer will not be sent (the log's `http_status` is then None)."""
        handler = self._handlers[operation]
        with self._lock:
            try:
                answer = handler(body)
            except ChannelError as refusal:
                answer = Answer(refusal.status, refusal.body(), REJECTED)
            self._log(operation, body, fault, answer.outcome,
                      None if withheld else answer.status,
                      code=answer.body.get("code") if answer.status >= 400 else None)
            return answer

    def record_refusal(self, operation: str, refusal: ChannelError) -> None:
        """Log a call refused before its body could be read (not JSON): REJECTED."""
        with self._lock:
            self._log(operation, None, None, REJECTED, refusal.status, code=refusal.code)

    def record_unapplied(self, operation: str, body, fault: str, http_status: Optional[int]) -> None:
        """Log a call an injected fault stopped before the rules (outcome NOT_APPLIED);
        `http_status` None when no answer was sent."""
        with self._lock:
            self._log(operation, body, fault, NOT_APPLIED, http_status)

    def calls(self) -> List[dict]:
        with self._lock:
            return [dict(entry) for entry in self._calls]

    def _log(self, operation, body, fault, outcome, http_status, code=None) -> None:
        body = body if isinstance(body, dict) else {}
        outbound = body.get(OUTBOUND_FIELD.get(operation, ""))
        amount = body.get("amount")
        self._calls.append({
            "seq": len(self._calls) + 1, "operation": operation,
            "outbound_no": outbound if isinstance(outbound, str) else None,
            "transaction_id": body.get("transaction_id") if isinstance(body.get("transaction_id"), str) else None,
            "amount": amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
            "fault": fault, "outcome": outcome, "http_status": http_status, "code": code,
            "at": self._now().astimezone(timezone.utc).isoformat(timespec="milliseconds"),
        })

    def _transaction(self, transaction_id: str, sub_mchid: str) -> Transaction:
        transaction = self._transactions.get(transaction_id)
        if transaction is None:
            raise ChannelError(404, "ORDER_NOT_EXIST", "订单不存在")
        if transaction.sub_mchid != sub_mchid:
            raise ChannelError(400, "INVALID_REQUEST", "sub_mchid 与订单的二级商户号不一致", "sub_mchid")
        return transaction

    # -- subsidies ---------------------------------------------------------

    def _create_subsidy(self, body) -> Answer:
        """APPLIED: the subsidy moved. REPLAYED: same out_subsidy_no and parameters.
        REJECTED: PARAM_ERROR (bad field, or same number with other parameters),
        ORDER_NOT_EXIST (404), INVALID_REQUEST "对应的订单不能补差" (the transaction already has
        a subsidy under another number, was cancelled, or the amount is over its limit)."""
        body = _object(body)
        params = {"sub_mchid": _text(body, "sub_mchid", 32),
                  "transaction_id": _text(body, "transaction_id", 32),
                  "amount": _fen(body, "amount"),
                  "description": _text(body, "description", 80),
                  "out_subsidy_no": _text(body, "out_subsidy_no", 64)}
        replayed = self._subsidies.replay(params["out_subsidy_no"], params)
        if replayed:
            return replayed
        transaction = self._transaction(params["transaction_id"], params["sub_mchid"])
        if transaction.cancelled or transaction.subsidy is not None \
                or params["amount"] > transaction.subsidy_limit:
            raise ChannelError(400, "INVALID_REQUEST", CANNOT_SUBSIDISE)
        answer = {"sub_mchid": params["sub_mchid"], "transaction_id": params["transaction_id"],
                  "subsidy_id": self._next("4000030769", 29), "description": params["description"],
                  "amount": params["amount"], "result": "SUCCESS",
                  "success_time": rfc3339(self._now())}
        transaction.subsidy = {"out_subsidy_no": params["out_subsidy_no"],
                               "subsidy_id": answer["subsidy_id"], "amount": params["amount"],
                               "description": params["description"],
                               "success_time": answer["success_time"]}
        self._subsidies.register(params["out_subsidy_no"], params, answer)
        return Answer(200, answer, APPLIED)

    def _return_subsidy(self, body) -> Answer:
        """APPLIED: the subsidy (or part of it) came back. REPLAYED: same out_order_no and
        parameters. REJECTED: PARAM_ERROR (bad field, or same number with other parameters),
        ORDER_NOT_EXIST (404), INVALID_REQUEST when the transaction has no subsidy, when the
        refund_id was already returned under another out_order_no, or when the returns would
        add up to more than the subsidy ("回退金额超过补差金额")."""
        body = _object(body)
        params = {"sub_mchid": _text(body, "sub_mchid", 32),
                  "out_order_no": _text(body, "out_order_no", 64),
                  "transaction_id": _text(body, "transaction_id", 32),
                  "refund_id": _text(body, "refund_id", 32),
                  "amount": _fen(body, "amount"),
                  "description": _text(body, "description", 80)}
        replayed = self._returns.replay(params["out_order_no"], params)
        if replayed:
            return replayed
        transaction = self._transaction(params["transaction_id"], params["sub_mchid"])
        if transaction.subsidy is None:
            raise ChannelError(400, "INVALID_REQUEST", NO_SUBSIDY_TO_RETURN)
        if params["refund_id"] in self._return_by_refund:
            raise ChannelError(400, "INVALID_REQUEST", REFUND_ALREADY_RETURNED, "refund_id")
        if transaction.returned_amount + params["amount"] > transaction.subsidy["amount"]:
            raise ChannelError(400, "INVALID_REQUEST", RETURN_OVER_SUBSIDY, "amount")
        answer = {"sub_mchid": params["sub_mchid"],
                  "target_order_id": transaction.subsidy["subsidy_id"],
                  "transaction_id": params["transaction_id"],
                  "subsidy_refund_id": self._next("4100030769", 29),
                  "refund_id": params["refund_id"], "out_order_no": params["out_order_no"],
                  "amount": params["amount"], "result": "SUCCESS",
                  "success_time": rfc3339(self._now())}
        transaction.returns.append({"out_order_no": params["out_order_no"],
                                    "refund_id": params["refund_id"],
                                    "subsidy_refund_id": answer["subsidy_refund_id"],
                                    "amount": params["amount"],
                                    "success_time": answer["success_time"]})
        self._return_by_refund[params["refund_id"]] = params["out_order_no"]
        self._returns.register(params["out_order_no"], params, answer)
        return Answer(200, answer, APPLIED)

    def _cancel_subsidy(self, body) -> Answer:
        """APPLIED: the transaction can no longer be subsidised (result SUCCESS).
        REPLAYED: it was already cancelled (result SUCCESS again). REJECTED: a subsidy already
        succeeded (200, result FAIL, nothing changes), PARAM_ERROR, ORDER_NOT_EXIST (404)."""
        body = _object(body)
        params = {"sub_mchid": _text(body, "sub_mchid", 32),
                  "transaction_id": _text(body, "transaction_id", 32),
                  "description": _text(body, "description", 80)}
        transaction = self._transaction(params["transaction_id"], params["sub_mchid"])
        answer = dict(params, result="SUCCESS")
        if transaction.subsidy is not None:
            return Answer(200, dict(answer, result="FAIL", description=SUBSIDY_ALREADY_SUCCEEDED),
                          REJECTED)
        if transaction.cancelled:
            return Answer(200, answer, REPLAYED)
        transaction.cancelled = True
        return Answer(200, answer, APPLIED)

    def _query_subsidy(self, body) -> Answer:
        """REPLAYED: the create's original answer for `out_subsidy_no` (and `sub_mchid`).
        REJECTED: PARAM_ERROR, or 404 RESOURCE_NOT_EXISTS when no subsidy has that number
        (a refused or never-received create registers nothing)."""
        body = _object(body)
        sub_mchid = _text(body, "sub_mchid", 32)
        out_subsidy_no = _text(body, "out_subsidy_no", 64)
        answer = self._subsidies.answer(out_subsidy_no)
        if answer is None or answer["sub_mchid"] != sub_mchid:
            raise ChannelError(404, "RESOURCE_NOT_EXISTS", "补差单不存在")
        return Answer(200, answer, REPLAYED)


__all__ = ["APPLIED", "REPLAYED", "REJECTED", "NOT_APPLIED", "Answer", "ChannelBook",
           "ChannelError", "Transaction", "FAULTABLE_OPERATIONS", "rfc3339"]
