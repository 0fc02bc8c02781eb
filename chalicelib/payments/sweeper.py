"""The sweeper: finds successful pays whose credit never arrived, and re-enqueues them.

A pay writes its order, then sends its credit; the send can fail or the process
can die in between. Every successful pay carries `unsettled_account` (a sparse
index) until the sweeper has seen its journal entry. Orders older than the
grace period whose entry is missing are enqueued again; a credit that was only
late becomes a duplicate, which the aggregator drops.
"""
from dataclasses import dataclass
from datetime import timedelta
from typing import List

from pynamodb.exceptions import UpdateError

from .. import clock
from ..dynamo import condition_failed
from ..logs import log
from . import credits, ledger
from .context import Payments
from .keys import journal_entry
from .models.orders import PaymentOrder
from .orders import Kind

# Orders read per Scan of the sparse `unsettled` index.
PAGE_SIZE = 100


@dataclass
class SweeperReport:
    examined: int = 0
    settled: int = 0
    requeued: int = 0
    waiting: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _mark_settled(order: PaymentOrder) -> None:
    """The order's credit is journaled: take it out of the `unsettled` index (one UpdateItem)."""
    try:
        order.update(actions=[PaymentOrder.unsettled_account.remove()],
                     condition=PaymentOrder.pk.exists())
    except UpdateError as error:
        if not condition_failed(error):
            raise


def _sweep_page(ctx: Payments, orders: List[PaymentOrder], cutoff: str,
                report: SweeperReport) -> None:
    keys = [(o.unsettled_account, journal_entry(Kind.PAY, o.request_id)) for o in orders]
    journaled = ledger.journaled(keys)
    stranded = []
    for order, key in zip(orders, keys):
        report.examined += 1
        if key in journaled:
            _mark_settled(order)
            report.settled += 1
        elif order.created_at <= cutoff:
            stranded.append(credits.Credit(order.tenant, order.saler_id, order.request_id,
                                           order.amount, order.response_time))
        else:
            report.waiting += 1
    if stranded:
        refused = credits.enqueue_many(ctx.sqs, ctx.credit_queue_url, stranded)
        report.requeued += len(stranded) - len(refused)
        for credit in stranded:
            log("sweeper.requeued", request_id=credit.request_id, refused=credit.request_id in refused)


def run(ctx: Payments, grace_seconds: int = None) -> SweeperReport:
    grace = ctx.credit_grace_seconds if grace_seconds is None else grace_seconds
    cutoff = clock.iso_utc(ctx.now() - timedelta(seconds=grace))
    report = SweeperReport()
    # PynamoDB's pages, one Scan each, fetched only while the run may examine more orders.
    pages = PaymentOrder.unsettled.scan(page_size=PAGE_SIZE).page_iter
    while report.examined < ctx.sweeper_max_orders:
        page = next(pages, None)
        if page is None:
            break
        orders = [PaymentOrder.from_raw_data(item) for item in page.get("Items", [])]
        if orders:
            _sweep_page(ctx, orders, cutoff, report)
    log("sweeper.run", **report.as_dict())
    return report
