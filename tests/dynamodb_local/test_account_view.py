"""GET /accounts/{saler_id} under real contention on AWS's DynamoDB Local: 120 pays from 32
threads, then the aggregator applies their credits, 8 a run, while four readers view the
account. Every view's balance plus pending credits is exactly what was paid: no credit in
neither, none in both."""
import threading
import time
from contextlib import contextmanager

import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.payments import accounts, aggregator
from tests.support.concurrency import THREADS, run_concurrently
from tests.support.model_faults import after_each_call
from tests.support.world import check_invariants, pay_request, settle

pytestmark = pytest.mark.dynamodb_local

PAYS = 120
READERS = 4
LATENCY_SECONDS = 0.005


class Distant:
    """Readers a few ms from the database, as a Lambda is from DynamoDB: the aggregator's
    commits land between a view's calls. Each answer the models' clients give a reader's thread
    comes `LATENCY_SECONDS` late; the aggregator's calls (and the checks', on the test's own
    thread) go through the same clients undelayed."""

    def __init__(self):
        self._thread = threading.local()

    def reading(self) -> None:
        self._thread.distant = True

    def _answered(self, operation):
        if getattr(self._thread, "distant", False):
            time.sleep(LATENCY_SECONDS)

    @contextmanager
    def on_the_models(self):
        with after_each_call(self._answered):
            yield self


def test_every_view_counts_each_credit_once_while_credits_are_applied(world, contention, request):
    ctx = world.ctx()
    pays = [pay_request(world.ids.next(), "hot", 1 + i % 97) for i in range(PAYS)]
    outcomes = run_concurrently(world.send, pays, threads=THREADS)
    assert not [o for o in outcomes if isinstance(o, BaseException)]
    paid = sum(p.total_fee for p in pays)
    views, busy, done = [], [], threading.Event()

    def read(distant: Distant):
        distant.reading()
        while not done.is_set():
            try:
                views.append(accounts.account_view(ctx, "hot"))
            except PaySettleError as refusal:
                busy.append(refusal.code)

    with Distant().on_the_models() as distant:
        readers = [threading.Thread(target=read, args=(distant,), daemon=True)
                   for _ in range(READERS)]
        for reader in readers:
            reader.start()
        runs = _apply_eight_at_a_time(world.ctx(aggregator_max_credits=8), ctx)
        done.set()
        for reader in readers:
            reader.join(30)
    seen = {v["pending_credit_count"] for v in views}
    contention.note(request.node.name, f"{len(views)} views, {len(seen)} pending counts seen, "
                                       f"{len(busy)} BUSY, {runs} aggregator runs")
    assert set(busy) <= {ErrorCode.BUSY}                  # the retryable answer, never 404
    assert len(seen) > 2, "the views saw credits move"
    wrong = [v for v in views if v["balance"] + v["pending_credit_amount"] != paid]
    assert not wrong, (paid, wrong[:3])
    final = accounts.account_view(ctx, "hot")
    assert (final["balance"], final["pending_credit_count"]) == (paid, 0)
    settle(ctx)
    check_invariants(world)


def _apply_eight_at_a_time(aggregating, ctx) -> int:
    """Aggregator runs a few ms apart, as scheduled runs are, until no credit is pending."""
    for run in range(1, 200):
        aggregator.run(aggregating)
        if accounts.account_view(ctx, "hot")["pending_credit_count"] == 0:
            return run
        time.sleep(0.02)
    raise AssertionError("credits still pending after 200 aggregator runs")
