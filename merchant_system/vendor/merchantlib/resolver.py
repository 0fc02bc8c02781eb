"""The scheduled resolver (`merchant_resolver`): settles orders whose answer was lost.

Each run pages through the sparse `unresolved` index (INIT and UNKNOWN orders),
oldest first, PAY and WITHDRAW taking turns page by page, for orders created at
least MERCHANT_RESOLVE_AFTER_SECONDS ago (and never an INIT whose sender may
still be waiting for its answer). Each one is re-read consistently (the index
is eventually consistent) and, if still unresolved, re-sent with its identical
message (`service.resolve`).

Work per run is bounded: at most `resolver_max_orders` re-sends, and no re-send
is started that could outlast `resolver_budget_seconds`. Whatever is left waits
for the next run (orders still UNKNOWN stay first in line: if the payment API
is down, the next run tries the same ones again).

Per order, the named outcomes counted in the report: `succeeded`, `failed`
(now SUCCESS / FAIL), `still_unknown` (lost again), `already_final` (someone
else resolved it between the index read and now).
"""
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator, List, Optional

from chalicelib import clock
from chalicelib.logs import log
from chalicelib.payments.orders import Kind
from . import service
from .context import Merchant
from .orders import MerchantOrder, State

PAGE_SIZE = 25


@dataclass
class ResolverReport:
    examined: int = 0
    succeeded: int = 0
    failed: int = 0
    still_unknown: int = 0
    already_final: int = 0
    stopped: str = "done"       # "done" | "max_orders" | "time_budget"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _pages(ctx: Merchant, kind: Kind, cutoff: str) -> Iterator[List[MerchantOrder]]:
    cursor: Optional[dict] = None
    while True:
        orders, cursor = ctx.orders.unresolved_page(kind.value, cutoff, PAGE_SIZE, cursor)
        if orders:
            yield orders
        if not cursor:
            return


def _interleaved(ctx: Merchant, cutoff: str) -> Iterator[MerchantOrder]:
    """PAY and WITHDRAW pages in turn, so neither kind starves the other."""
    sources = [_pages(ctx, kind, cutoff) for kind in Kind]
    while sources:
        for source in list(sources):
            page = next(source, None)
            if page is None:
                sources.remove(source)
            else:
                yield from page


def run(ctx: Merchant) -> ResolverReport:
    report = ResolverReport()
    started = ctx.monotonic()
    wait = max(ctx.resolve_after_seconds, ctx.stranded_after_seconds)
    cutoff = clock.iso_utc(ctx.now() - timedelta(seconds=wait))
    for candidate in _interleaved(ctx, cutoff):
        if report.examined >= ctx.resolver_max_orders:
            report.stopped = "max_orders"
            break
        elapsed = ctx.monotonic() - started
        if elapsed + ctx.payment.timeout_seconds > ctx.resolver_budget_seconds:
            report.stopped = "time_budget"
            break
        report.examined += 1
        order = ctx.orders.get(candidate.request_id)
        if order is None or order.state.final:
            report.already_final += 1
            continue
        before = order.state
        resolved = service.resolve(ctx, order)
        if resolved.state is State.SUCCESS:
            report.succeeded += 1
        elif resolved.state is State.FAIL:
            report.failed += 1
        else:
            report.still_unknown += 1
        log("merchant_resolver.order", request_id=order.request_id, before=before.value,
            after=resolved.state.value, attempts=resolved.attempts)
    log("merchant_resolver.run", **report.as_dict())
    return report
