"""The channel's rules, as pure logic: no HTTP, no sleeping, no threads of its own.

`ChannelBook` holds what the simulated channel (modelled on WeChat Pay's e-commerce
subsidies and profit-sharing APIs) knows: paid transactions, their subsidy, the subsidy
returns, the profit sharing (`sharing.SharingRules`, a part of the book), and the log of
every call; all of it behind one lock, so each call is judged, applied and logged
atomically (32 concurrent identical creates give exactly one APPLIED).
Amounts are integer fen everywhere.

Every operation is `call(operation, body, fault=None) -> Answer`. Its outcome, as
written in the call log:

* `APPLIED`     the channel moved money (or changed state) for this call;
* `REPLAYED`    the outbound number was known with the same parameters: the original
                answer (same ids, same `success_time`; for profit sharing the current
                state of the original) and no second movement;
* `REJECTED`    the rules refused it (HTTP 4xx with a WeChat code), nothing changed;
* `NOT_APPLIED` an injected fault stopped the call before the rules saw it
                (`record_unapplied`, used by the server), nothing changed.

Reentrancy is one mechanism shared by every operation that carries an outbound
number (`common._Reentry`: the outbound number, the parameters that must match, the
original answer). Only successful answers are registered: a refused call consumes
no number, so a re-send of a refused request is judged afresh (a failed subsidy
is executed again). Profit sharing (sharing.py) adds its handlers
and stores the same way.
"""
import itertools
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Callable, Dict, List, Optional

# The names every operation shares live in common.py; the channel's users import them from here.
from .common import (APPLIED, CANNOT_SUBSIDISE, CHINA, FAULTABLE_OPERATIONS,
                     NO_SUBSIDY_TO_RETURN, NOT_APPLIED, OUTBOUND_FIELD, REFUND_ALREADY_RETURNED,
                     REJECTED, REPLAYED, RETURN_OVER_SUBSIDY, SHARING_NOTIFICATION,
                     SHARING_ORDERS, SHARING_QUERY, SHARING_RETURN_ORDERS, SHARING_RETURN_QUERY,
                     SHARING_UNFREEZE, SUBSIDY_ALREADY_SUCCEEDED, SUBSIDY_CANCEL, SUBSIDY_CREATE,
                     SUBSIDY_QUERY, SUBSIDY_RETURN, Answer, ChannelError, _fen, _object, _ratio,
                     _Reentry, _text, param_error, rfc3339)
from .sharing import DEFAULT_PROCESSING_MS, MAX_PROCESSING_MS, SharingRules

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
    max_sharing_ratio: Decimal = Decimal("0.3")
    processing_ms: int = DEFAULT_PROCESSING_MS
    # WeChat's `attach`: set by whoever placed the order (the center puts the tenant there),
    # returned unchanged in the notice.
    attach: Optional[str] = None
    cancelled: bool = False
    unfrozen: bool = False                  # no sharing any more (unfreeze, unfreeze_unsplit)
    unfreeze: Optional[dict] = None
    subsidy: Optional[dict] = None          # the one successful subsidy
    returns: List[dict] = field(default_factory=list)

    @property
    def sharing_limit(self) -> int:
        """Fen: at most this much of the transaction may be shared (rounded down)."""
        return int(self.amount * self.max_sharing_ratio)

    @property
    def returned_amount(self) -> int:
        return sum(item["amount"] for item in self.returns)

    def identity(self) -> dict:
        return {"payment_order_id": self.payment_order_id, "biz_order_id": self.biz_order_id,
                "mch_id": self.mch_id, "sub_mchid": self.sub_mchid, "amount": self.amount,
                "subsidy_limit": self.subsidy_limit, "max_sharing_ratio": self.max_sharing_ratio,
                "processing_ms": self.processing_ms, "attach": self.attach}

    def view(self) -> dict:
        return {"transaction_id": self.transaction_id, "openid": self.openid,
                **self.identity(), "max_sharing_ratio": float(self.max_sharing_ratio),
                "success_time": self.success_time,
                "cancelled": self.cancelled,
                "subsidy": dict(self.subsidy) if self.subsidy else None,
                "returns": [dict(item) for item in self.returns],
                "returned_amount": self.returned_amount}



def _receivers_total(body: dict) -> Optional[int]:
    """A sharing order's amount for the call log: the sum of its receivers' amounts."""
    receivers = body.get("receivers")
    if not isinstance(receivers, list):
        return None
    amounts = [r.get("amount") if isinstance(r, dict) else None for r in receivers]
    if not amounts or any(isinstance(a, bool) or not isinstance(a, int) for a in amounts):
        return None
    return sum(amounts)


class ChannelBook(SharingRules):
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
            SHARING_ORDERS: self._share,
            SHARING_QUERY: self._query_sharing,
            SHARING_UNFREEZE: self._unfreeze,
            SHARING_RETURN_ORDERS: self._return_sharing,
            SHARING_RETURN_QUERY: self._query_return,
        }
        self.reset()

    def reset(self) -> None:
        """Forget every transaction, subsidy, return, sharing, control setting and call."""
        with self._lock:
            self._transactions: Dict[str, Transaction] = {}
            self._by_payment_order: Dict[tuple, str] = {}
            self._subsidies = _Reentry()      # out_subsidy_no
            self._returns = _Reentry()        # out_order_no
            # (transaction_id, refund_id) -> out_order_no: a refund is of one paid order
            self._return_by_refund: Dict[tuple, str] = {}
            self._calls: List[dict] = []
            self._reset_sharing()

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
        """A paid order. Idempotent on `payment_order_id` within its `sub_mchid` (WeChat's
        out_trade_no is unique per merchant): the same order again gives the same transaction;
        the same id with other fields is PARAM_ERROR. `attach` (optional) travels with it."""
        body = _object(body)
        identity = {name: _text(body, name, 64)
                    for name in ("payment_order_id", "biz_order_id", "mch_id", "sub_mchid")}
        identity["amount"] = _fen(body, "amount", allow_digit_string=True)
        identity["subsidy_limit"] = _fen(body, "subsidy_limit", minimum=0, allow_digit_string=True)
        identity["max_sharing_ratio"] = _ratio(body, "max_sharing_ratio", "0.3")
        processing_ms = body.get("processing_ms", DEFAULT_PROCESSING_MS)
        if isinstance(processing_ms, bool) or not isinstance(processing_ms, int) \
                or not 0 <= processing_ms <= MAX_PROCESSING_MS:
            raise param_error("processing_ms", f"an integer from 0 to {MAX_PROCESSING_MS}")
        identity["processing_ms"] = processing_ms
        identity["attach"] = _text(body, "attach", 128, required=False)
        order_key = (identity["sub_mchid"], identity["payment_order_id"])
        with self._lock:
            known = self._by_payment_order.get(order_key)
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
            self._by_payment_order[order_key] = transaction.transaction_id
            return transaction

    def money(self) -> Dict[str, dict]:
        """transaction_id -> the channel's money in fen: the subsidy's `limit`, `subsidy`,
        `returned`, and the sharing's `sharing_limit`, `shared` (SUCCESS), `pending`,
        `sharing_returned` (SUCCESS), `sharing_returning` (PROCESSING)."""
        with self._lock:
            money = {}
            for tid, t in self._transactions.items():
                sharing = self._sharing_money(tid)
                money[tid] = {"limit": t.subsidy_limit,
                              "subsidy": t.subsidy["amount"] if t.subsidy else 0,
                              "returned": t.returned_amount, "sharing_limit": t.sharing_limit,
                              "shared": sharing["shared"], "pending": sharing["pending"],
                              "sharing_returned": sharing["returned"],
                              "sharing_returning": sharing["returning"]}
            return money

    def transaction_view(self, transaction_id: str) -> Optional[dict]:
        with self._lock:
            transaction = self._transactions.get(transaction_id)
            if transaction is None:
                return None
            self._settle(self._now())
            return {**transaction.view(), **self._sharing_view(transaction_id)}

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
        transaction_id = body.get("transaction_id")
        if operation == SHARING_ORDERS:
            amount = _receivers_total(body)
        if operation in (SHARING_RETURN_ORDERS, SHARING_RETURN_QUERY):
            transaction_id = self._transaction_of_return(body)
        self._calls.append({
            "seq": len(self._calls) + 1, "operation": operation,
            "outbound_no": outbound if isinstance(outbound, str) else None,
            "transaction_id": transaction_id if isinstance(transaction_id, str) else None,
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
        if (params["transaction_id"], params["refund_id"]) in self._return_by_refund:
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
        self._return_by_refund[(params["transaction_id"], params["refund_id"])] = params["out_order_no"]
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
           "ChannelError", "Transaction", "FAULTABLE_OPERATIONS", "rfc3339",
           "SUBSIDY_CREATE", "SUBSIDY_RETURN", "SUBSIDY_CANCEL", "SUBSIDY_QUERY",
           "SHARING_ORDERS", "SHARING_QUERY", "SHARING_UNFREEZE", "SHARING_RETURN_ORDERS",
           "SHARING_RETURN_QUERY", "SHARING_NOTIFICATION"]
