"""The merchant's orders in MerchantOrdersTable (hash key `request_id`).

Outcomes, all named:
* `insert`: stored, or `RequestIdTaken` (the conditional put found the id used);
* `insert_keyed`: the order and its caller's idempotency key stored in one transaction;
  or `KeyUsed` carrying the request_id the key already names; or `RequestIdTaken`;
  or `KeyContended` when concurrent transactions on the key kept cancelling this one;
* `get`: the order (read consistently), or None;
* `save`: the transition stored, or `AlreadyFinal` carrying the order as stored,
  when a concurrent writer made it SUCCESS or FAIL first. The update is
  conditional on the stored state being INIT or UNKNOWN, so a late answer (or a
  late "lost") can never overwrite a final state;
* `unresolved_page`: INIT and UNKNOWN orders of one kind created before a
  cutoff, oldest first, from the sparse `unresolved` index, with a cursor.

An idempotency key is a guard item in the same table, its `request_id` attribute being
`IDEMPOTENCY#<key>` (never 20 digits, so never an order's) and `order_request_id` the
order's. Like the order it is never deleted: the key lives as long as the business
record. It has no index attribute, so the sparse indexes never list it.

The sparse index keys are written from the order's own state on every change:
`unresolved_kind` is removed when the order becomes final, `success_day` set
when it becomes SUCCESS.

Every request goes through the table's models (merchantlib/models.py), one request per
outcome as before: `insert` one conditional PutItem, `insert_keyed` one TransactWriteItems
(the guard asks for the stored guard on refusal), `get` one consistent GetItem, `save` one
conditional UpdateItem that returns the stored order when refused (`dynamo.update_or_stored`:
PynamoDB's own `update` cannot ask for it), `unresolved_page` one Query. The models bind to
the table the stage names (MERCHANT_ORDERS_TABLE) at first use. They import only what the
merchant system's package ships: chalicelib's dynamo, retry and data layer, linked into
merchant_system/chalicelib.
"""
from typing import List, Optional, Tuple

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.data.transactions import Cancelled, Transaction
from chalicelib.dynamo import condition_failed, from_item, update_or_stored
from chalicelib.retry import MERCHANT_KEYED_ORDER, Backoff
from .models import IdempotencyGuard, MerchantOrderItem
from .orders import MerchantOrder, State

# Written by `save`: everything a transition can change.
_CHANGING = ("state", "updated_at", "attempts", "response_id", "response_time",
             "response_code", "response_msg", "last_error", "unresolved_kind", "success_day")


class RequestIdTaken(Exception):
    """An order with this request_id already exists."""


class KeyUsed(Exception):
    """The idempotency key already names an order (`request_id`)."""

    def __init__(self, key: str, request_id: str):
        super().__init__(f"idempotency key {key!r} names order {request_id}")
        self.request_id = request_id


class KeyContended(Exception):
    """Concurrent transactions on the same idempotency key cancelled every attempt."""


class OrderMissing(LookupError):
    """A conditional update found no order: nothing deletes orders, so this is a real fault."""


# The owners of a keyed insert's two writes, by which its cancellation reasons are read.
GUARD, ORDER = "idempotency guard", "order"


def key_guard(key: str) -> str:
    return f"IDEMPOTENCY#{key}"


class AlreadyFinal(Exception):
    """The order became SUCCESS or FAIL before this transition could be stored."""

    def __init__(self, stored: MerchantOrder):
        super().__init__(f"{stored.request_id} is already {stored.state.value}")
        self.stored = stored


def _item(order: MerchantOrder) -> MerchantOrderItem:
    return MerchantOrderItem(**{name: value for name, value in order.to_record().items()
                                if value is not None})


def _order(item: MerchantOrderItem) -> MerchantOrder:
    return MerchantOrder.from_record(
        {name: value for name, value in item.attribute_values.items() if value is not None})


class MerchantOrders:
    def __init__(self, backoff: Backoff = MERCHANT_KEYED_ORDER):
        self.backoff = backoff      # pauses of the keyed insert while the same key is contended

    def insert(self, order: MerchantOrder) -> None:
        try:
            _item(order).save(condition=MerchantOrderItem.request_id.does_not_exist())
        except PutError as error:
            if condition_failed(error):
                raise RequestIdTaken(order.request_id) from None
            raise

    def insert_keyed(self, order: MerchantOrder, key: str) -> None:
        """Store the order and its key's guard together, each only if new."""
        for attempt in range(self.backoff.attempts):
            transaction = Transaction(MerchantOrderItem)
            transaction.save(IdempotencyGuard(IdempotencyGuard.key(key),
                                              order_request_id=order.request_id,
                                              created_at=order.created_at),
                             condition=IdempotencyGuard.request_id.does_not_exist(), owner=GUARD,
                             return_values="ALL_OLD")
            transaction.save(_item(order), condition=MerchantOrderItem.request_id.does_not_exist(),
                             owner=ORDER)
            try:
                transaction.commit()
                return
            except Cancelled as cancelled:
                if cancelled.condition_failed(GUARD):
                    old = cancelled.old_item(GUARD)
                    stored = from_item(old)["order_request_id"] if old else self._guarded(key)
                    if stored is None:  # nothing deletes a guard: a real fault
                        raise
                    raise KeyUsed(key, stored) from None
                if cancelled.condition_failed(ORDER):
                    raise RequestIdTaken(order.request_id) from None
                if not cancelled.conflicted:
                    raise
            # Another transaction on the key is under way: once it is done, the guard's
            # condition tells who won.
            self.backoff.pause(attempt)
        raise KeyContended(key)

    def _guarded(self, key: str) -> Optional[str]:
        """The request_id the key's guard names, read consistently; None if there is none."""
        try:
            return IdempotencyGuard.get(IdempotencyGuard.key(key), consistent_read=True).order_request_id
        except DoesNotExist:
            return None

    def get(self, request_id: str) -> Optional[MerchantOrder]:
        try:
            found = MerchantOrderItem.get(MerchantOrderItem.key(request_id), consistent_read=True)
        except DoesNotExist:
            return None
        return _order(found)

    def save(self, after: MerchantOrder) -> MerchantOrder:
        """Store a transition of an order that is still INIT or UNKNOWN in the table."""
        record = after.to_record()
        actions = []
        for name in _CHANGING:
            attribute = getattr(MerchantOrderItem, name)
            actions.append(attribute.remove() if record[name] is None else attribute.set(record[name]))
        stored = update_or_stored(
            MerchantOrderItem(MerchantOrderItem.key(after.request_id)), actions,
            MerchantOrderItem.state.is_in(State.INIT.value, State.UNKNOWN.value))
        if stored is None:
            return after
        found = MerchantOrder.from_record(stored) if stored else self.get(after.request_id)
        if found is None:
            raise OrderMissing(after.request_id)
        raise AlreadyFinal(found)

    def unresolved_page(self, kind: str, created_before: str, limit: int,
                        cursor: Optional[dict] = None) -> Tuple[List[MerchantOrder], Optional[dict]]:
        """One Query of at most `limit` orders (the cursor: where the next page starts)."""
        page = MerchantOrderItem.unresolved.query(
            kind, MerchantOrderItem.created_at <= created_before, limit=limit, page_size=limit,
            last_evaluated_key=cursor)
        orders = [_order(item) for item in page]
        return orders, page.last_evaluated_key
