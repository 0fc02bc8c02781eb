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
from typing import Callable, Optional

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist, PynamoDBException

from .. import clock, fields
from ..data.attributes import NotWholeFen, whole_fen
from ..data.transactions import Cancelled, Transaction
from ..dynamo import RETRYABLE_ERRORS, error_code, from_item
from ..errors import ErrorCode, InvalidField, PaySettleError, ReentryRefused
from ..logs import log
from ..retry import PAY_WITHDRAW
from . import credits
from .context import Payments
from .keys import ACCOUNT_ENTRY, account_key, journal_entry, success_day
from .messages import PayRequest, WithdrawRequest
from .models.ledger import Account, JournalEntry
from .models.orders import PaymentOrder, ResponseGuard
from .orders import FAIL, SUCCESS, Kind, Order

MAX_ATTEMPTS = PAY_WITHDRAW.attempts
# The items of the transactions below, named: DynamoDB's cancellation reasons are mapped back to
# them by key (chalicelib/data/transactions.py), never by the position they were written in.
ORDER, RESPONSE_GUARD, OTHER_KIND, BALANCE, JOURNAL = (
    "order", "response guard", "other kind", "balance", "journal")


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


def _add_order(transaction: Transaction, order: Order) -> None:
    """Put the order and claim its response id, both only if new, and only while its request id
    names no order of the other kind: a request id names one order of its tenant. Orders stay
    keyed by kind (their reads and indexes are); the condition check on the other kind's key,
    in the same transaction, is what keeps a pay and a withdraw sent at once with one request
    id from both being recorded (DynamoDB serializes transactions that touch one item)."""
    pk = PaymentOrder.key(order.tenant, order.kind, order.request_id)
    record = PaymentOrder(pk, **order.to_record())
    if order.succeeded:
        # Sparse index entry for the exports: only successful orders, by day of response_time.
        record.success_day = success_day(order.tenant, order.kind, order.response_time)
    if order.kind is Kind.PAY and order.succeeded:
        # Sparse index entry: present until the sweeper has seen the credit journaled.
        record.unsettled_account = account_key(order.tenant, order.saler_id)
    transaction.save(record, condition=PaymentOrder.pk.does_not_exist(), owner=ORDER,
                     return_values="ALL_OLD")
    transaction.save(ResponseGuard(ResponseGuard.key(order.response_id), order=pk),
                     condition=ResponseGuard.pk.does_not_exist(), owner=RESPONSE_GUARD)
    transaction.condition_check(PaymentOrder, PaymentOrder.key(order.tenant, _other(order.kind),
                                                               order.request_id),
                                condition=PaymentOrder.pk.does_not_exist(), owner=OTHER_KIND)


def _read_order(ctx: Payments, kind: Kind, request_id: str) -> Optional[dict]:
    try:
        found = PaymentOrder.get(PaymentOrder.key(ctx.tenant, kind, request_id), consistent_read=True)
    except DoesNotExist:
        return None
    return {name: value for name, value in found.attribute_values.items() if value is not None}


def _replay(ctx: Payments, kind: Kind, request, cancelled: Cancelled) -> Outcome:
    old = cancelled.old_item(ORDER)
    record = from_item(old) if old else _read_order(ctx, kind, request.request_id)
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


def _retryable(error: PynamoDBException) -> bool:
    """The very same transaction may simply be sent again (throttled, in progress, a server error)."""
    return error.cause_response_code in RETRYABLE_ERRORS


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
        except Cancelled as cancelled:
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
        except PynamoDBException as error:
            if not _retryable(error):
                raise
            _backoff(ctx, attempt)
            continue
        log(f"{kind.value.lower()}.recorded", request_id=recorded.request_id,
            response_id=recorded.response_id, amount=recorded.amount,
            response_code=recorded.response_code)
        return Outcome(recorded, replayed=False)
    raise PaySettleError(ErrorCode.BUSY)


def _whole_amount(request) -> None:
    """Amounts are whole fen end to end: anything else is refused before it reaches a model."""
    field = Kind.PAY.amount_field if isinstance(request, PayRequest) else Kind.WITHDRAW.amount_field
    try:
        whole_fen(request.amount, field)
    except NotWholeFen as refused:
        raise InvalidField(field, str(refused)) from None


def _commit_order(order: Order) -> None:
    transaction = Transaction(PaymentOrder)
    _add_order(transaction, order)
    transaction.commit()


def pay(ctx: Payments, request: PayRequest) -> Outcome:
    _whole_amount(request)

    def write(order: Order) -> Order:
        _commit_order(order)
        return order

    outcome = _record(ctx, Kind.PAY, request, write)
    if not outcome.replayed:
        _enqueue_credit(ctx, outcome.order)
    return outcome


def _add_debit(transaction: Transaction, order: Order) -> None:
    """Take the amount from the balance, only if the balance covers it, with its journal entry
    (refused if this withdraw was already journaled), in the order's own transaction."""
    account = account_key(order.tenant, order.saler_id)
    transaction.update(Account(account, ACCOUNT_ENTRY),
                       [Account.balance.set(Account.balance - order.amount)],
                       condition=Account.balance >= order.amount, owner=BALANCE)
    entry = journal_entry(Kind.WITHDRAW, order.request_id)
    # `posted` is when the movement reached the balance; `response_time` is when the payment
    # system answered the order (China time), by which balances as of a cutoff are computed.
    transaction.save(JournalEntry(account, entry, posted=JournalEntry.posted_key(order.created_at, entry),
                                  amount=-order.amount, request_id=order.request_id,
                                  tenant=order.tenant, saler_id=order.saler_id,
                                  response_time=order.response_time),
                     condition=JournalEntry.entry.does_not_exist(), owner=JOURNAL)


def withdraw(ctx: Payments, request: WithdrawRequest) -> Outcome:
    _whole_amount(request)

    def write(order: Order) -> Order:
        transaction = Transaction(PaymentOrder)
        _add_order(transaction, order)
        _add_debit(transaction, order)
        try:
            transaction.commit()
            return order
        except Cancelled as cancelled:
            # Only the balance's own condition means "insufficient balance"; a failed journal
            # guard (this withdraw already journaled) or order condition is something else.
            if cancelled.failed_owners != [BALANCE]:
                raise
        # The balance does not cover it: record the refusal, so a replay gets the same answer.
        refused = replace(order, response_code=FAIL,
                          response_msg=ErrorCode.INSUFFICIENT_BALANCE.message)
        _commit_order(refused)
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
