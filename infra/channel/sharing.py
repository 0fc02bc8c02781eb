"""Profit sharing (分账) on the channel, as pure logic: WeChat Pay v3's
`/v3/profitsharing/orders`, its query, `/orders/unfreeze`, `/return-orders` and its query.

`SharingRules` is a part of `ChannelBook` (rules.py): its handlers run under the book's one
lock, use the book's transactions, ids, clock and call log, and the same `Reentry` on
outbound numbers as the subsidies. Amounts are integer fen.

Time is the book's clock, never a sleep: a sharing order is accepted with every receiver
PENDING and becomes due `processing_ms` (the transaction's) later; `settle_due()` settles
whatever is due at the clock's "now" (the server's worker calls it every few ms; a query
settles first too, so an answer never shows a state older than the clock) and hands back
the notifications to send, one per receiver, each exactly once. Returns with a PROCESSING
outcome (control) settle the same way.

Reentry: the same outbound number with the same parameters answers the CURRENT state of
the original (PENDING may have become SUCCESS meanwhile), never a second movement; other
parameters under that number are 400 PARAM_ERROR. A refused call registers nothing.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Dict, List, Optional

from .common import (APPLIED, REPLAYED, SHARING_NOTIFICATION, Answer, ChannelError, _fen, _flag,
                     _object, _Reentry, _text, param_error, rfc3339)

MAX_RECEIVERS = 50
RECEIVER_TYPES = ("MERCHANT_ID", "PERSONAL_OPENID")
RECEIVER_FAIL_REASONS = ("ACCOUNT_ABNORMAL", "NO_RELATION", "RECEIVER_HIGH_RISK",
                         "RECEIVER_REAL_NAME_NOT_VERIFIED", "NO_AUTH", "RECEIVER_RECEIPT_LIMIT",
                         "PAYER_ACCOUNT_ABNORMAL", "INVALID_REQUEST")
RETURN_FAIL_REASONS = ("ACCOUNT_ABNORMAL", "BALANCE_NOT_ENOUGH", "TIME_OUT_CLOSED",
                       "PAYER_ACCOUNT_ABNORMAL", "INVALID_REQUEST")
DEFAULT_PROCESSING_MS = 300
MAX_PROCESSING_MS = 120_000

# WeChat's words for the refusals.
TOO_MANY_RECEIVERS = f"分账接收方不能超过{MAX_RECEIVERS}个"
OVER_SHARING_RATIO = "分账金额超出最大分账比例"
ALREADY_UNFROZEN = "订单已解冻，不能继续分账"
RETURN_OVER_SHARED = "回退金额超过分账金额"
SHARING_NOT_FOUND = "分账单不存在"
RETURN_NOT_FOUND = "分账回退单不存在"
NUMBER_USED_BY_OTHER_KIND = "商户分账单号已被使用"


@dataclass
class SharingReceiver:
    type: str
    account: str
    amount: int
    description: str
    detail_id: str
    create_time: str
    result: str = "PENDING"            # PENDING -> SUCCESS | CLOSED
    fail_reason: Optional[str] = None
    finish_time: Optional[str] = None

    def body(self) -> dict:
        return {"type": self.type, "account": self.account, "amount": self.amount,
                "description": self.description, "result": self.result,
                "fail_reason": self.fail_reason, "detail_id": self.detail_id,
                "create_time": self.create_time, "finish_time": self.finish_time}


@dataclass
class SharingOrder:
    sub_mchid: str
    transaction_id: str
    out_order_no: str
    order_id: str
    unfreeze_unsplit: bool
    due: datetime
    receivers: List[SharingReceiver]
    returns: List["SharingReturn"] = field(default_factory=list)

    @property
    def state(self) -> str:
        return "PROCESSING" if any(r.result == "PENDING" for r in self.receivers) else "FINISHED"

    def body(self) -> dict:
        return {"sub_mchid": self.sub_mchid, "transaction_id": self.transaction_id,
                "out_order_no": self.out_order_no, "order_id": self.order_id, "state": self.state,
                "receivers": [receiver.body() for receiver in self.receivers]}

    def receiver(self, account: str) -> Optional[SharingReceiver]:
        return next((r for r in self.receivers if r.account == account), None)


@dataclass
class SharingReturn:
    sub_mchid: str
    order_id: str
    out_order_no: str
    out_return_no: str
    return_id: str
    return_mchid: str
    amount: int
    description: str
    create_time: str
    result: str                        # PROCESSING -> SUCCESS | FAILED, or final at once
    fail_reason: Optional[str] = None
    finish_time: Optional[str] = None
    due: Optional[datetime] = None     # when a PROCESSING return settles
    then: Optional[str] = None         # what it settles to
    then_reason: Optional[str] = None

    def body(self) -> dict:
        return {"sub_mchid": self.sub_mchid, "order_id": self.order_id,
                "out_order_no": self.out_order_no, "out_return_no": self.out_return_no,
                "return_id": self.return_id, "return_mchid": self.return_mchid,
                "amount": self.amount, "description": self.description, "result": self.result,
                "fail_reason": self.fail_reason, "create_time": self.create_time,
                "finish_time": self.finish_time}


@dataclass(frozen=True)
class ReturnOutcome:
    """A control setting for returns to one return_mchid (see `set_return_outcome`)."""
    result: str                        # PROCESSING | FAILED
    fail_reason: Optional[str]
    then: Optional[str]                # SUCCESS | FAILED, when PROCESSING


@dataclass(frozen=True)
class Notice:
    """One receiver's settlement, to be posted to the center (server.py, via notify.py)."""
    out_order_no: str
    transaction_id: str
    account: str
    body: dict


def _choice(body: dict, name: str, allowed, required: bool = True) -> Optional[str]:
    value = body.get(name)
    if value is None and not required:
        return None
    if value not in allowed:
        raise param_error(name, f"one of {', '.join(allowed)}")
    return value


def _receivers(body: dict) -> List[dict]:
    receivers = body.get("receivers")
    if not isinstance(receivers, list) or not receivers:
        raise param_error("receivers", "required, a non-empty list")
    if len(receivers) > MAX_RECEIVERS:
        raise ChannelError(400, "INVALID_REQUEST", TOO_MANY_RECEIVERS, "receivers")
    parsed, seen = [], set()
    for index, receiver in enumerate(receivers):
        where = f"receivers[{index}]"
        if not isinstance(receiver, dict):
            raise param_error(where, "must be a JSON object")
        try:
            item = {"type": _choice(receiver, "type", RECEIVER_TYPES),
                    "account": _text(receiver, "account", 64),
                    "amount": _fen(receiver, "amount"),
                    "description": _text(receiver, "description", 80)}
        except ChannelError as refusal:
            raise param_error(f"{where}.{refusal.field}", refusal.message.split(": ", 1)[-1]) from None
        if item["account"] in seen:
            raise param_error(f"{where}.account", "the same receiver appears twice")
        seen.add(item["account"])
        parsed.append(item)
    return parsed


class SharingRules:
    """The profit-sharing part of `ChannelBook` (which provides `_lock`, `_now`, `_next`,
    `_transactions`, `_transaction`, `_log`); its handlers are called under the lock."""

    def _reset_sharing(self) -> None:
        self._sharing_numbers = _Reentry()                   # out_order_no of sharing orders
        self._sharing_orders: Dict[str, SharingOrder] = {}
        self._unfreeze_numbers = _Reentry()                  # out_order_no of unfreezes
        self._return_numbers = _Reentry()                    # out_return_no
        self._sharing_returns: Dict[str, SharingReturn] = {}
        self._receiver_failures: Dict[str, str] = {}         # account -> fail_reason
        self._return_outcomes: Dict[str, ReturnOutcome] = {}  # return_mchid -> outcome
        self._outbox: List[Notice] = []

    # -- controls ----------------------------------------------------------

    def set_receiver_failure(self, body) -> dict:
        """`{"account", "fail_reason"}`: sharing to that account settles CLOSED with that
        reason (decided when it settles); `fail_reason` null clears it."""
        body = _object(body)
        account = _text(body, "account", 64)
        reason = _choice(body, "fail_reason", RECEIVER_FAIL_REASONS, required=False)
        with self._lock:
            if reason is None:
                self._receiver_failures.pop(account, None)
            else:
                self._receiver_failures[account] = reason
            return {"account": account, "fail_reason": reason}

    def set_return_outcome(self, body) -> dict:
        """`{"return_mchid", "result": "PROCESSING"|"FAILED"|null, "fail_reason", "then"}`:
        how the next returns from that receiver go (decided when the return is accepted).
        PROCESSING settles after the transaction's `processing_ms` to `then` (SUCCESS, or
        FAILED with `fail_reason`); FAILED fails at once with `fail_reason`; null (or
        SUCCESS) clears it: returns succeed at once."""
        body = _object(body)
        return_mchid = _text(body, "return_mchid", 64)
        result = _choice(body, "result", ("PROCESSING", "FAILED", "SUCCESS"), required=False)
        then = _choice(body, "then", ("SUCCESS", "FAILED"), required=False)
        reason = _choice(body, "fail_reason", RETURN_FAIL_REASONS, required=False)
        if result == "PROCESSING" and then is None:
            then = "SUCCESS"
        fails = result == "FAILED" or (result == "PROCESSING" and then == "FAILED")
        if fails and reason is None:
            raise param_error("fail_reason", f"required when the return fails: one of {', '.join(RETURN_FAIL_REASONS)}")
        with self._lock:
            if result in (None, "SUCCESS"):
                self._return_outcomes.pop(return_mchid, None)
                return {"return_mchid": return_mchid, "result": None, "fail_reason": None, "then": None}
            outcome = ReturnOutcome(result, reason if fails else None,
                                    then if result == "PROCESSING" else None)
            self._return_outcomes[return_mchid] = outcome
            return {"return_mchid": return_mchid, "result": outcome.result,
                    "fail_reason": outcome.fail_reason, "then": outcome.then}

    # -- settlement ----------------------------------------------------------

    def settle_due(self, now: Optional[datetime] = None) -> List[Notice]:
        """Settle every sharing order and return that is due at `now` (default: the book's
        clock) and take the notifications waiting to be sent (each is handed out once)."""
        with self._lock:
            self._settle(now or self._now())
            notices, self._outbox = self._outbox, []
            return notices

    def next_due(self) -> Optional[datetime]:
        """When the next PENDING receiver or PROCESSING return settles (None: nothing waits)."""
        with self._lock:
            moments = [o.due for o in self._sharing_orders.values() if o.state == "PROCESSING"]
            moments += [r.due for r in self._sharing_returns.values() if r.result == "PROCESSING"]
            return min(moments, default=None)

    def record_notification(self, notice: Notice, http_status: Optional[int],
                            failure: Optional[str]) -> None:
        """Write a notification's fate in the call log (best effort: never retried)."""
        with self._lock:
            self._log(SHARING_NOTIFICATION,
                      {"out_order_no": notice.out_order_no, "transaction_id": notice.transaction_id,
                       "amount": notice.body["receiver"]["amount"]},
                      None, "NOTIFY_FAILED" if failure else "NOTIFIED", http_status,
                      code="NOTIFY_FAILED" if failure else None)
            self._calls[-1].update(account=notice.account, reason=failure)

    def _settle(self, now: datetime) -> None:
        for order in self._sharing_orders.values():
            if order.state != "PROCESSING" or order.due > now:
                continue
            finish_time = rfc3339(now)
            for receiver in order.receivers:
                reason = self._receiver_failures.get(receiver.account)
                receiver.result = "CLOSED" if reason else "SUCCESS"
                receiver.fail_reason = reason
                receiver.finish_time = finish_time
            for receiver in order.receivers:
                self._outbox.append(Notice(order.out_order_no, order.transaction_id, receiver.account, {
                    "sub_mchid": order.sub_mchid, "transaction_id": order.transaction_id,
                    "order_id": order.order_id, "out_order_no": order.out_order_no,
                    "receiver": {key: value for key, value in receiver.body().items()
                                 if key not in ("create_time", "finish_time")},
                    "success_time": finish_time}))
        for item in self._sharing_returns.values():
            if item.result == "PROCESSING" and item.due <= now:
                item.result = item.then
                item.fail_reason = item.then_reason if item.then == "FAILED" else None
                item.finish_time = rfc3339(now)

    # -- the money -----------------------------------------------------------

    def _sharing_of(self, transaction_id: str) -> List[SharingOrder]:
        return [o for o in self._sharing_orders.values() if o.transaction_id == transaction_id]

    def _sharing_money(self, transaction_id: str) -> dict:
        """Fen: `shared` (receivers SUCCESS), `pending` (receivers PENDING), `returned`
        (returns SUCCESS), `returning` (returns PROCESSING)."""
        money = {"shared": 0, "pending": 0, "returned": 0, "returning": 0}
        for order in self._sharing_of(transaction_id):
            for receiver in order.receivers:
                if receiver.result == "SUCCESS":
                    money["shared"] += receiver.amount
                elif receiver.result == "PENDING":
                    money["pending"] += receiver.amount
            for item in order.returns:
                if item.result == "SUCCESS":
                    money["returned"] += item.amount
                elif item.result == "PROCESSING":
                    money["returning"] += item.amount
        return money

    def _sharing_view(self, transaction_id: str) -> dict:
        transaction = self._transactions[transaction_id]
        orders = self._sharing_of(transaction_id)
        money = self._sharing_money(transaction_id)
        return {"max_sharing_ratio": float(transaction.max_sharing_ratio),
                "sharing_limit": transaction.sharing_limit,
                "processing_ms": transaction.processing_ms,
                "unfrozen": transaction.unfrozen,
                "unfreeze": dict(transaction.unfreeze) if transaction.unfreeze else None,
                "sharing": [order.body() for order in orders],
                "sharing_returns": [item.body() for order in orders for item in order.returns],
                "shared_amount": money["shared"], "sharing_pending_amount": money["pending"],
                "sharing_returned_amount": money["returned"],
                "sharing_returning_amount": money["returning"]}

    # -- the operations --------------------------------------------------------

    def _share(self, body) -> Answer:
        """APPLIED: the order is accepted, its receivers PENDING (the amounts are reserved
        against the ratio at once). REPLAYED: same out_order_no and parameters, the current
        state. REJECTED: PARAM_ERROR (bad field, a receiver twice, or the same number with
        other parameters), INVALID_REQUEST (more than 50 receivers, the transaction was
        unfrozen, or the shared amounts would pass amount × max_sharing_ratio),
        ORDER_NOT_EXIST (404)."""
        body = _object(body)
        params = {"sub_mchid": _text(body, "sub_mchid", 32),
                  "transaction_id": _text(body, "transaction_id", 32),
                  "out_order_no": _text(body, "out_order_no", 64),
                  "receivers": _receivers(body),
                  "unfreeze_unsplit": _flag(body, "unfreeze_unsplit")}
        number = params["out_order_no"]
        self._settle(self._now())
        if self._sharing_numbers.known(number, params):
            return Answer(200, self._sharing_orders[number].body(), REPLAYED)
        if self._unfreeze_numbers.answer(number) is not None:
            raise ChannelError(400, "PARAM_ERROR", NUMBER_USED_BY_OTHER_KIND, "out_order_no")
        transaction = self._transaction(params["transaction_id"], params["sub_mchid"])
        if transaction.unfrozen:
            raise ChannelError(400, "INVALID_REQUEST", ALREADY_UNFROZEN)
        money = self._sharing_money(transaction.transaction_id)
        asked = sum(receiver["amount"] for receiver in params["receivers"])
        if money["shared"] + money["pending"] + asked > transaction.sharing_limit:
            raise ChannelError(400, "INVALID_REQUEST", OVER_SHARING_RATIO, "receivers")
        now = self._now()
        created = rfc3339(now)
        order = SharingOrder(
            sub_mchid=params["sub_mchid"], transaction_id=params["transaction_id"],
            out_order_no=number, order_id=self._next("3008", 28),
            unfreeze_unsplit=params["unfreeze_unsplit"],
            due=now + timedelta(milliseconds=transaction.processing_ms),
            receivers=[SharingReceiver(detail_id=self._next("3601", 29), create_time=created,
                                       **receiver) for receiver in params["receivers"]])
        if order.unfreeze_unsplit:
            # What is not shared goes back to the merchant: no sharing after this one.
            transaction.unfrozen = True
            transaction.unfreeze = {"out_order_no": number, "order_id": order.order_id,
                                    "by": "unfreeze_unsplit"}
        self._sharing_orders[number] = order
        self._sharing_numbers.register(number, params, {"order_id": order.order_id})
        self._settle(now)  # processing_ms 0: settled before the answer
        return Answer(200, order.body(), APPLIED)

    def _query_sharing(self, body) -> Answer:
        """REPLAYED: the current state of the sharing order `out_order_no` of that
        `sub_mchid` and `transaction_id`; 404 RESOURCE_NOT_EXISTS otherwise."""
        body = _object(body)
        sub_mchid = _text(body, "sub_mchid", 32)
        transaction_id = _text(body, "transaction_id", 32)
        number = _text(body, "out_order_no", 64)
        self._settle(self._now())
        order = self._sharing_orders.get(number)
        if order is None or (order.sub_mchid, order.transaction_id) != (sub_mchid, transaction_id):
            raise ChannelError(404, "RESOURCE_NOT_EXISTS", SHARING_NOT_FOUND)
        return Answer(200, order.body(), REPLAYED)

    def _unfreeze(self, body) -> Answer:
        """APPLIED: the transaction's unshared money goes back to the merchant; no sharing
        afterwards. REPLAYED: same out_order_no and parameters. REJECTED: PARAM_ERROR (bad
        field, same number with other parameters, or a number of a sharing order),
        ORDER_NOT_EXIST (404), INVALID_REQUEST when already unfrozen."""
        body = _object(body)
        params = {"sub_mchid": _text(body, "sub_mchid", 32),
                  "transaction_id": _text(body, "transaction_id", 32),
                  "out_order_no": _text(body, "out_order_no", 64),
                  "description": _text(body, "description", 80)}
        number = params["out_order_no"]
        if self._unfreeze_numbers.known(number, params):
            return Answer(200, self._unfreeze_numbers.answer(number), REPLAYED)
        if number in self._sharing_orders:
            raise ChannelError(400, "PARAM_ERROR", NUMBER_USED_BY_OTHER_KIND, "out_order_no")
        transaction = self._transaction(params["transaction_id"], params["sub_mchid"])
        if transaction.unfrozen:
            raise ChannelError(400, "INVALID_REQUEST", ALREADY_UNFROZEN)
        answer = {"sub_mchid": params["sub_mchid"], "transaction_id": params["transaction_id"],
                  "out_order_no": number, "order_id": self._next("3008", 28), "state": "FINISHED"}
        transaction.unfrozen = True
        transaction.unfreeze = {"out_order_no": number, "order_id": answer["order_id"],
                                "by": "unfreeze", "description": params["description"],
                                "finish_time": rfc3339(self._now())}
        self._unfreeze_numbers.register(number, params, answer)
        return Answer(200, answer, APPLIED)

    def _return_sharing(self, body) -> Answer:
        """APPLIED: a return order exists (SUCCESS at once, or as the control for its
        return_mchid says: PROCESSING, or FAILED at once). REPLAYED: same out_return_no and
        parameters, the current state. REJECTED: PARAM_ERROR (bad field, same number with
        other parameters), 404 RESOURCE_NOT_EXISTS (no such sharing order of that
        sub_mchid), INVALID_REQUEST "回退金额超过分账金额" (the returns from that receiver
        for that order, SUCCESS or PROCESSING, would pass what it received: SUCCESS only)."""
        body = _object(body)
        params = {"sub_mchid": _text(body, "sub_mchid", 32),
                  "out_order_no": _text(body, "out_order_no", 64),
                  "out_return_no": _text(body, "out_return_no", 64),
                  "return_mchid": _text(body, "return_mchid", 64),
                  "amount": _fen(body, "amount"),
                  "description": _text(body, "description", 80)}
        number = params["out_return_no"]
        now = self._now()
        self._settle(now)
        if self._return_numbers.known(number, params):
            return Answer(200, self._sharing_returns[number].body(), REPLAYED)
        order = self._sharing_orders.get(params["out_order_no"])
        if order is None or order.sub_mchid != params["sub_mchid"]:
            raise ChannelError(404, "RESOURCE_NOT_EXISTS", SHARING_NOT_FOUND, "out_order_no")
        receiver = order.receiver(params["return_mchid"])
        received = receiver.amount if receiver and receiver.result == "SUCCESS" else 0
        taken = sum(item.amount for item in order.returns
                    if item.return_mchid == params["return_mchid"]
                    and item.result in ("SUCCESS", "PROCESSING"))
        if taken + params["amount"] > received:
            raise ChannelError(400, "INVALID_REQUEST", RETURN_OVER_SHARED, "amount")
        outcome = self._return_outcomes.get(params["return_mchid"])
        transaction = self._transactions[order.transaction_id]
        item = SharingReturn(sub_mchid=params["sub_mchid"], order_id=order.order_id,
                             out_order_no=order.out_order_no, out_return_no=number,
                             return_id=self._next("3006", 28),
                             return_mchid=params["return_mchid"], amount=params["amount"],
                             description=params["description"], create_time=rfc3339(now),
                             result="SUCCESS", finish_time=rfc3339(now))
        if outcome and outcome.result == "FAILED":
            item.result, item.fail_reason = "FAILED", outcome.fail_reason
        elif outcome and outcome.result == "PROCESSING":
            item.result, item.finish_time = "PROCESSING", None
            item.due = now + timedelta(milliseconds=transaction.processing_ms)
            item.then, item.then_reason = outcome.then, outcome.fail_reason
        order.returns.append(item)
        self._sharing_returns[number] = item
        self._return_numbers.register(number, params, {"return_id": item.return_id})
        self._settle(now)
        return Answer(200, item.body(), APPLIED)

    def _query_return(self, body) -> Answer:
        """REPLAYED: the current state of the return `out_return_no` of that `sub_mchid` and
        sharing order `out_order_no`; 404 RESOURCE_NOT_EXISTS otherwise."""
        body = _object(body)
        sub_mchid = _text(body, "sub_mchid", 32)
        out_order_no = _text(body, "out_order_no", 64)
        number = _text(body, "out_return_no", 64)
        self._settle(self._now())
        item = self._sharing_returns.get(number)
        if item is None or (item.sub_mchid, item.out_order_no) != (sub_mchid, out_order_no):
            raise ChannelError(404, "RESOURCE_NOT_EXISTS", RETURN_NOT_FOUND)
        return Answer(200, item.body(), REPLAYED)

    def _transaction_of_return(self, body: dict) -> Optional[str]:
        """The transaction a return-order call is about (its body names only the sharing
        order), for the call log."""
        order = self._sharing_orders.get(body.get("out_order_no")) \
            if isinstance(body.get("out_order_no"), str) else None
        return order.transaction_id if order else None


__all__ = ["SharingRules", "Notice", "MAX_RECEIVERS", "RECEIVER_FAIL_REASONS",
           "RETURN_FAIL_REASONS", "DEFAULT_PROCESSING_MS", "MAX_PROCESSING_MS"]
