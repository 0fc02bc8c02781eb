"""Pay and withdraw: the service layer.

Outcomes of `pay` and `withdraw`, all named:
* created: a new order was recorded (pay: SUCCESS, its credit queued;
  withdraw: SUCCESS with the balance debited, or FAIL for insufficient balance);
* replayed: the request id was seen with the same parameters; the original
  answer is returned and nothing moves;
* REENTRY_MISMATCH: the request id was seen with other parameters, or names an order of the
  other kind (a request id names one order of its tenant: a pay's request id cannot be a
  withdraw's); nothing changes;
* BUSY: contention outlasted the retries; nothing was recorded and the caller
  may retry with the same request id.
"""
from dataclasses import dataclass, replace
from typing import Callable, List

from botocore.exceptions import BotoCoreError, ClientError

from .. import clock, fields
from ..dynamo import TransactionCancelled, error_code, from_item, retryable, to_item, transact_write
from ..errors import ErrorCode, InvalidField, PaySettleError, ReentryRefused
from ..logs import log
from ..retry import PAY_WITHDRAW
from . import credits, ledger
from .context import Payments
from .keys import account_key, journal_entry, order_key, response_guard_key, success_day
from .messages import PayRequest, WithdrawRequest
from .orders import FAIL, SUCCESS, Kind, Order

MAX_ATTEMPTS = PAY_WITHDRAW.attempts
# Positions of the items in the transactions below.
ORDER, RESPONSE_GUARD, OTHER_KIND, BALANCE = 0, 1, 2, 3


@dataclass(frozen=True)
class Outcome:
    order: Order
    replayed: bool


def _new_order(ctx: Payments, kind: Kind, request, code: str, message: str) -> Order:
    moment = ctx.now()
    return Order(kind=kind, tenant=ctx.tenant, request_id=request.request_id,
                 request_time=request.request_time, saler_id=request.saler_id,
                 amount=request.amount, response_id=ctx.new_response_id(moment),
                 response_time=clock.message_time(moment), response_code=code,
                 response_msg=message, created_at=clock.iso_utc(moment))


def _other(kind: Kind) -> Kind:
    return Kind.WITHDRAW if kind is Kind.PAY else Kind.PAY


def _order_items(ctx: Payments, order: Order) -> List[dict]:
    """Put the order and claim its response id, both only if new, and only while its request id
    names no order of the other kind: a request id names one order of its tenant. Orders stay
    keyed by kind (their reads and indexes are); the condition check on the other kind's key,
    in the same transaction, is what keeps a pay and a withdraw sent at once with one request
    id from both being recorded (DynamoDB serializes transactions that touch one item)."""
    pk = order_key(order.tenant, order.kind, order.request_id)
    record = dict(order.to_record(), pk=pk)
    if order.succeeded:
        # Sparse index entry for the exports: only successful orders, by day of response_time.
        record["success_day"] = success_day(order.tenant, order.kind, order.response_time)
    if order.kind is Kind.PAY and order.succeeded:
        # Sparse index entry: present until the sweeper has seen the credit journaled.
        record["unsettled_account"] = account_key(order.tenant, order.saler_id)
    return [
        {"Put": {"TableName": ctx.orders_table, "Item": to_item(record),
                 "ConditionExpression": "attribute_not_exists(pk)",
                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Put": {"TableName": ctx.orders_table,
                 "Item": to_item({"pk": response_guard_key(order.response_id), "order": pk}),
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"ConditionCheck": {"TableName": ctx.orders_table,
                            "Key": to_item({"pk": order_key(order.tenant, _other(order.kind),
                                                            order.request_id)}),
                            "ConditionExpression": "attribute_not_exists(pk)"}},
    ]


def _read_order(ctx: Payments, kind: Kind, request_id: str):
    answer = ctx.dynamodb.get_item(TableName=ctx.orders_table, ConsistentRead=True,
                                   Key=to_item({"pk": order_key(ctx.tenant, kind, request_id)}))
    item = answer.get("Item")
    return from_item(item) if item else None


def _replay(ctx: Payments, kind: Kind, request, cancelled: TransactionCancelled) -> Outcome:
    record = cancelled.old_item(ORDER) or _read_order(ctx, kind, request.request_id)
    order = Order.from_record(record)
    different = order.differences(request)
    if different:
        log("order.reentry_mismatch", kind=kind.value, request_id=request.request_id,
            different=different)
        raise ReentryRefused("request_id", request.request_id, different)
    if kind is Kind.PAY and "unsettled_account" in record:
        # The first attempt may have died before queueing its credit; a second
        # message is harmless because the journal applies each credit once.
        _enqueue_credit(ctx, order)
    return Outcome(order, replayed=True)


def _backoff(ctx: Payments, attempt: int) -> None:
    PAY_WITHDRAW.using(sleep=ctx.sleep).pause(attempt)


def _retryable(error: ClientError) -> bool:
    return retryable(error)


def _enqueue_credit(ctx: Payments, order: Order) -> None:
    credit = credits.Credit(order.tenant, order.saler_id, order.request_id, order.amount,
                            order.response_time)
    try:
        credits.enqueue(ctx.sqs, ctx.credit_queue_url, credit)
    except (ClientError, BotoCoreError) as error:
        # The order stands; the sweeper re-enqueues credits still unapplied after the grace period.
        reason = error_code(error) if isinstance(error, ClientError) else type(error).__name__
        log("credit.enqueue_failed", request_id=order.request_id, error=reason)


def _record(ctx: Payments, kind: Kind, request, write: Callable[[Order], Order]) -> Outcome:
    """Write a new order with a fresh response id until it is recorded or replayed.

    `write` gets a SUCCESS order, writes it (and whatever moves with it) in one
    transaction, and returns the order as recorded.
    """
    for attempt in range(MAX_ATTEMPTS):
        order = _new_order(ctx, kind, request, SUCCESS, "OK")
        try:
            recorded = write(order)
        except TransactionCancelled as cancelled:
            if cancelled.condition_failed(ORDER):
                return _replay(ctx, kind, request, cancelled)
            if cancelled.condition_failed(OTHER_KIND):
                log("order.reentry_other_kind", kind=kind.value, request_id=request.request_id)
                raise ReentryRefused("request_id", request.request_id, ["kind"],
                                     was={"kind": _other(kind).value})
            if cancelled.condition_failed(RESPONSE_GUARD):
                log("response_id.collision", response_id=order.response_id)
                continue
            if cancelled.conflicted:
                _backoff(ctx, attempt)
                continue
            raise
        except ClientError as error:
            if not _retryable(error):
                raise
            _backoff(ctx, attempt)
            continue
        log(f"{kind.value.lower()}.recorded", request_id=recorded.request_id,
            response_id=recorded.response_id, amount=recorded.amount,
            response_code=recorded.response_code)
        return Outcome(recorded, replayed=False)
    raise PaySettleError(ErrorCode.BUSY)


def pay(ctx: Payments, request: PayRequest) -> Outcome:
    def write(order: Order) -> Order:
        transact_write(ctx.dynamodb, _order_items(ctx, order))
        return order

    outcome = _record(ctx, Kind.PAY, request, write)
    if not outcome.replayed:
        _enqueue_credit(ctx, outcome.order)
    return outcome


def _withdraw_items(ctx: Payments, order: Order) -> List[dict]:
    entry = journal_entry(Kind.WITHDRAW, order.request_id)
    return _order_items(ctx, order) + [
        ledger.debit_item(ctx.ledger_table, order.tenant, order.saler_id, order.amount),
        ledger.journal_item(ctx.ledger_table, order.tenant, order.saler_id, entry,
                            -order.amount, order.request_id, order.created_at,
                            order.response_time),
    ]


def withdraw(ctx: Payments, request: WithdrawRequest) -> Outcome:
    def write(order: Order) -> Order:
        try:
            transact_write(ctx.dynamodb, _withdraw_items(ctx, order))
            return order
        except TransactionCancelled as cancelled:
            short_only = (cancelled.condition_failed(BALANCE)
                          and not any(cancelled.condition_failed(item)
                                      for item in (ORDER, RESPONSE_GUARD, OTHER_KIND)))
            if not short_only:
                raise
        # The balance does not cover it: record the refusal, so a replay gets the same answer.
        refused = replace(order, response_code=FAIL,
                          response_msg=ErrorCode.INSUFFICIENT_BALANCE.message)
        transact_write(ctx.dynamodb, _order_items(ctx, refused))
        return refused

    return _record(ctx, Kind.WITHDRAW, request, write)


def find_order(ctx: Payments, kind: Kind, request_id: str) -> Order:
    try:
        fields.request_id(request_id)
    except ValueError as exc:
        raise InvalidField("request_id", str(exc)) from None
    record = _read_order(ctx, kind, request_id)
    if record is None:
        raise PaySettleError(ErrorCode.ORDER_NOT_FOUND, field="request_id",
                             detail=f"no {kind.value.lower()} order with this request_id")
    return Order.from_record(record)
