"""Successful orders of a window, from each side's own table, one page at a time.

Both tables have a sparse GSI `successful_by_day` (hash: the order's kind and the
China-time day of its response_time, present only on SUCCESS orders; range:
`response_time`). A window is read with one query per day it touches, each with
the key condition `response_time BETWEEN start AND end - 1 s`, page by page
(`Limit` items a page): rows are yielded as pages arrive, never collected.
Rows come out by day, then by response_time.

    payment side   hash `<tenant>#<KIND>#<yyyyMMdd>`   orders table (chalicelib/payments),
                   read through the PaymentOrder model's `successful_by_day` index
    merchant side  hash `<KIND>#<yyyyMMdd>`            the merchant system's orders table,
                   read with the low-level client: that table's model belongs to the merchant
                   system's own stack, whose code the center's functions do not ship
"""
import logging
from dataclasses import dataclass
from typing import Callable, Iterator

from ..dynamo import from_item, values
from ..logs import log
from ..payments.keys import SUCCESSFUL_INDEX
from ..payments.orders import SUCCESS, Kind
from .window import Window


def merchant_success_day_key(kind: Kind, day: str) -> str:
    """The `successful_by_day` partition of a merchant order answered SUCCESS on `day`
    (yyyyMMdd): the merchant system writes it (merchantlib.orders), its export reads it."""
    return f"{kind.value}#{day}"


@dataclass(frozen=True)
class OrderRow:
    request_time: str
    request_id: str
    response_time: str
    response_id: str
    saler_id: str
    amount: int

    def fields(self) -> tuple:
        """The values in the order files' column order (csvfile.order_header)."""
        return (self.request_time, self.request_id, self.response_time, self.response_id,
                self.saler_id, self.amount)


def _day_items(dynamodb, table: str, day_key: str, window: Window, page_size: int) -> Iterator[dict]:
    request = {"TableName": table, "IndexName": SUCCESSFUL_INDEX, "Limit": page_size,
               "KeyConditionExpression": "success_day = :day AND response_time BETWEEN :first AND :last",
               "ExpressionAttributeValues": values(day=day_key, first=window.start,
                                                   last=window.last_second)}
    while True:
        answer = dynamodb.query(**request)
        for item in answer.get("Items", []):
            yield from_item(item)
        if "LastEvaluatedKey" not in answer:
            return
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _exported(items: Iterator, table: Callable[[], str], successful: Callable,
              side: str) -> Iterator[OrderRow]:
    for item in items:
        if not successful(item):
            # The index is sparse on success; anything else there is a writer's bug:
            # never export it, say so.
            log("export.unsuccessful_order_in_index", level=logging.ERROR, side=side,
                table=table(), request_id=item.get("request_id"))
            continue
        yield OrderRow(request_time=item["request_time"], request_id=item["request_id"],
                       response_time=item["response_time"], response_id=item["response_id"],
                       saler_id=item["saler_id"], amount=int(item["amount"]))


def _payment_model():
    """PaymentOrder, imported on the payment side's first read: this module also ships in the
    merchant system's package, whose export reads only its own table and which holds neither
    the payment core's models nor PynamoDB's binding."""
    from ..payments.models.orders import PaymentOrder
    return PaymentOrder


def _payment_day_items(tenant: str, kind: Kind, window: Window, page_size: int) -> Iterator[dict]:
    model = _payment_model()
    index = model.successful_by_day
    for day in window.days():
        for order in index.query(index.key(tenant, kind, day),
                                 model.response_time.between(window.start, window.last_second),
                                 page_size=page_size):
            yield {name: value for name, value in order.attribute_values.items() if value is not None}


def payment_orders(tenant: str, kind: Kind, window: Window, page_size: int) -> Iterator[OrderRow]:
    """The payment system's successful orders of `kind` answered inside the window."""
    return _exported(_payment_day_items(tenant, kind, window, page_size),
                     lambda: _payment_model().Meta.table_name,
                     lambda item: item.get("response_code") == SUCCESS
                     and item.get("kind") == kind.value and item.get("tenant") == tenant, "payment")


def _merchant_day_items(dynamodb, table: str, kind: Kind, window: Window,
                        page_size: int) -> Iterator[dict]:
    for day in window.days():
        yield from _day_items(dynamodb, table, merchant_success_day_key(kind, day), window, page_size)


def merchant_orders(dynamodb, table: str, kind: Kind, window: Window,
                    page_size: int) -> Iterator[OrderRow]:
    """The merchant's own successful orders of `kind` answered inside the window."""
    return _exported(_merchant_day_items(dynamodb, table, kind, window, page_size), lambda: table,
                     lambda item: item.get("state") == SUCCESS and item.get("kind") == kind.value,
                     "merchant")
