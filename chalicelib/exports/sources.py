"""Successful orders of a window, from each side's own table, one page at a time.

Both tables have a sparse GSI `successful_by_day` (hash: the order's kind and the
China-time day of its response_time, present only on SUCCESS orders; range:
`response_time`). A window is read with one query per day it touches, each with
the key condition `response_time BETWEEN start AND end - 1 s`, page by page
(`page_size` items a page): rows are yielded as pages arrive, never collected.
Rows come out by day, then by response_time.

    payment side   hash `<tenant>#<KIND>#<yyyyMMdd>`   orders table (chalicelib/payments),
                   read through the PaymentOrder model's `successful_by_day` index
    merchant side  hash `<KIND>#<yyyyMMdd>`            the merchant system's orders table,
                   read through the MerchantOrderItem model's `successful_by_day` index

Each side is read through the one model of its item type, imported on that side's first read
and never at import: this module ships in both systems' packages, and each holds only its own
side's model. The merchant order's model is the merchant system's (merchantlib.models); no
second declaration of that item type lives here. The merchant side is exported only where
merchantlib is present: the merchant system's own `merchant_export` Lambda (its package has
merchantlib and the data layer it binds through) and `paysettle export` run from the repository
(tools/cli.py puts the merchant system's vendored code on its path). The center's Lambda exports
the payment side only (app.py `payment_export`) and its package holds no merchant-system module
(tests/packaging), so nothing there ever reaches the merchant import. Like the payment side's,
the merchant model reads the table its stage names (MERCHANT_ORDERS_TABLE).
"""
import logging
from dataclasses import dataclass
from typing import Callable, Iterator

from ..logs import log
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


def _plain(item) -> dict:
    return {name: value for name, value in item.attribute_values.items() if value is not None}


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
            yield _plain(order)


def payment_orders(tenant: str, kind: Kind, window: Window, page_size: int) -> Iterator[OrderRow]:
    """The payment system's successful orders of `kind` answered inside the window."""
    return _exported(_payment_day_items(tenant, kind, window, page_size),
                     lambda: _payment_model().Meta.table_name,
                     lambda item: item.get("response_code") == SUCCESS
                     and item.get("kind") == kind.value and item.get("tenant") == tenant, "payment")


class MerchantSideUnavailable(RuntimeError):
    """This package does not hold the merchant system's code: its export runs elsewhere."""


def _merchant_model():
    """MerchantOrderItem, imported on the merchant side's first read: the merchant system's own
    model of its orders, present in its package and in the repository, never in the center's."""
    try:
        from merchantlib.models import MerchantOrderItem
    except ModuleNotFoundError as missing:
        if missing.name != "merchantlib" and not (missing.name or "").startswith("merchantlib."):
            raise
        raise MerchantSideUnavailable(
            "the merchant side is exported by the merchant system (merchant_export) or by "
            "`paysettle export` from the repository; this package holds no merchantlib") from None
    return MerchantOrderItem


def _merchant_day_items(kind: Kind, window: Window, page_size: int) -> Iterator[dict]:
    model = _merchant_model()
    index = model.successful_by_day
    for day in window.days():
        for order in index.query(merchant_success_day_key(kind, day),
                                 model.response_time.between(window.start, window.last_second),
                                 page_size=page_size):
            yield _plain(order)


def merchant_orders(kind: Kind, window: Window, page_size: int) -> Iterator[OrderRow]:
    """The merchant's own successful orders of `kind` answered inside the window."""
    return _exported(_merchant_day_items(kind, window, page_size),
                     lambda: _merchant_model().Meta.table_name,
                     lambda item: item.get("state") == SUCCESS and item.get("kind") == kind.value,
                     "merchant")
