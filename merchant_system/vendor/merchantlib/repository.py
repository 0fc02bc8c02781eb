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
"""
from typing import Any, List, Optional, Tuple

from botocore.exceptions import ClientError

from chalicelib.dynamo import TransactionCancelled, condition_failed, from_item, to_item, transact_write, values
from chalicelib.retry import MERCHANT_KEYED_ORDER, Backoff
from .orders import UNRESOLVED_INDEX, MerchantOrder, State

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


GUARD, ORDER = 0, 1


def key_guard(key: str) -> str:
    return f"IDEMPOTENCY#{key}"


class AlreadyFinal(Exception):
    """The order became SUCCESS or FAIL before this transition could be stored."""

    def __init__(self, stored: MerchantOrder):
        super().__init__(f"{stored.request_id} is already {stored.state.value}")
        self.stored = stored


class MerchantOrders:
    def __init__(self, dynamodb: Any, table: str, backoff: Backoff = MERCHANT_KEYED_ORDER):
        self.dynamodb = dynamodb
        self.table = table
        self.backoff = backoff      # pauses of the keyed insert while the same key is contended

    def insert(self, order: MerchantOrder) -> None:
        try:
            self.dynamodb.put_item(TableName=self.table, Item=to_item(order.to_record()),
                                   ConditionExpression="attribute_not_exists(request_id)")
        except ClientError as error:
            if condition_failed(error):
                raise RequestIdTaken(order.request_id) from None
            raise

    def insert_keyed(self, order: MerchantOrder, key: str) -> None:
        """Store the order and its key's guard together, each only if new."""
        guard = {"request_id": key_guard(key), "order_request_id": order.request_id,
                 "created_at": order.created_at}
        items = [
            {"Put": {"TableName": self.table, "Item": to_item(guard),
                     "ConditionExpression": "attribute_not_exists(request_id)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Put": {"TableName": self.table, "Item": to_item(order.to_record()),
                     "ConditionExpression": "attribute_not_exists(request_id)"}},
        ]
        for attempt in range(self.backoff.attempts):
            try:
                transact_write(self.dynamodb, items)
                return
            except TransactionCancelled as cancelled:
                if cancelled.condition_failed(GUARD):
                    stored = cancelled.old_item(GUARD) or self._guard(key)
                    if stored is None:  # nothing deletes a guard: a real fault
                        raise
                    raise KeyUsed(key, stored["order_request_id"]) from None
                if cancelled.condition_failed(ORDER):
                    raise RequestIdTaken(order.request_id) from None
                if not cancelled.conflicted:
                    raise
            # Another transaction on the key is under way: once it is done, the guard's
            # condition tells who won.
            self.backoff.pause(attempt)
        raise KeyContended(key)

    def _guard(self, key: str) -> Optional[dict]:
        answer = self.dynamodb.get_item(TableName=self.table, ConsistentRead=True,
                                        Key=to_item({"request_id": key_guard(key)}))
        item = answer.get("Item")
        return from_item(item) if item else None

    def get(self, request_id: str) -> Optional[MerchantOrder]:
        answer = self.dynamodb.get_item(TableName=self.table, ConsistentRead=True,
                                        Key=to_item({"request_id": request_id}))
        item = answer.get("Item")
        return MerchantOrder.from_record(from_item(item)) if item else None

    def save(self, after: MerchantOrder) -> MerchantOrder:
        """Store a transition of an order that is still INIT or UNKNOWN in the table."""
        record = after.to_record()
        names = {f"#{name}": name for name in _CHANGING}
        present = {name: record[name] for name in _CHANGING if record[name] is not None}
        absent = [name for name in _CHANGING if record[name] is None]
        expression = "SET " + ", ".join(f"#{name} = :{name}" for name in present)
        if absent:
            expression += " REMOVE " + ", ".join(f"#{name}" for name in absent)
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=to_item({"request_id": after.request_id}),
                UpdateExpression=expression, ExpressionAttributeNames=names,
                ConditionExpression="#state IN (:init, :unknown)",
                ExpressionAttributeValues=values(init=State.INIT.value,
                                                 unknown=State.UNKNOWN.value, **present),
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ClientError as error:
            if not condition_failed(error):
                raise
            old = error.response.get("Item")
            stored = MerchantOrder.from_record(from_item(old)) if old else self.get(after.request_id)
            if stored is None:
                raise  # the order vanished: nothing deletes orders, so this is a real fault
            raise AlreadyFinal(stored) from None
        return after

    def unresolved_page(self, kind: str, created_before: str, limit: int,
                        cursor: Optional[dict] = None) -> Tuple[List[MerchantOrder], Optional[dict]]:
        request = {"TableName": self.table, "IndexName": UNRESOLVED_INDEX, "Limit": limit,
                   "KeyConditionExpression": "unresolved_kind = :kind AND created_at <= :cutoff",
                   "ExpressionAttributeValues": values(kind=kind, cutoff=created_before)}
        if cursor:
            request["ExclusiveStartKey"] = cursor
        answer = self.dynamodb.query(**request)
        orders = [MerchantOrder.from_record(from_item(item)) for item in answer.get("Items", [])]
        return orders, answer.get("LastEvaluatedKey")
