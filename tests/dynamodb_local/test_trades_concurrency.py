"""Trade settlement under real contention, against AWS's DynamoDB Local, with 32 threads.

A trade settled by 32 threads at once is posted once; concurrent BALANCE trades of one buyer
never overdraw it; concurrent appliers apply each async phase once.
"""
from collections import Counter

import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.payments import aggregator, registry
from chalicelib.payments.models.trades import Trade
from chalicelib.payments.trades import applier, service
from chalicelib.payments.trades.context import Trades
from chalicelib.payments.trades.messages import PayTradeRequest, TradeRequest
from tests.support.concurrency import THREADS, run_concurrently
from tests.support.model_faults import observed_models
from tests.trades.support import Book, assert_journal_matches_balances, movements

pytestmark = pytest.mark.dynamodb_local


@pytest.fixture
def book(world):
    ctx = Trades(tenant=world.tenant)
    book = Book(world.ctx(), ctx)
    for account_id, kind in (("buyer", "B"), ("seller", "B"), ("wallet", "C"), ("agent1", "B"),
                             ("agent2", "B")):
        registry.declare(ctx.tenant, account_id, kind, "NORMAL", "CNY", ctx.now)
    # The settlement's transactions go through the trade model's client: observed with the
    # world's (the ledger models' clients are observed by the world already).
    with observed_models(world.dynamodb, (Trade,)):
        yield book


def fund(world, book, account_id, amount):
    world.pay(account_id, amount)
    assert aggregator.run(world.ctx()).applied == 1


def settle(book, trans_id, request, busy):
    """Pay like a client: BUSY (nothing written) is retried with the same request."""
    for _ in range(20):
        try:
            return service.pay_trade(book.ctx, trans_id, request)
        except PaySettleError as error:
            if error.code is not ErrorCode.BUSY:
                raise
            busy.append(trans_id)
    raise AssertionError("BUSY 20 times")


TWO_UPS = PayTradeRequest(
    fee_type=1, fee_settlement_type="ASYNC", pay_mode="BALANCE",
    up_merchants=[{"user_id": "agent1", "level": 1}, {"user_id": "agent2", "level": 2}],
    billing_solution=[{"user_id": "agent1", "amount": 100, "fee_amount": 200},
                      {"user_id": "agent2", "amount": 0, "fee_amount": 120, "fee_plus_amount": 200}])


def test_32_threads_settling_one_trade_post_it_once(world, book, contention, request):
    fund(world, book, "buyer", 20_000)
    trans_id = world.ids.next()
    service.record_trade(book.ctx, TradeRequest(
        trans_id=trans_id, buyer_id="buyer", seller_id="seller", cash_amount=10_000,
        settlement_type="REALTIME", payment_mode="BALANCE", fee_amount=300, fee_user_id="wallet"))
    before = book.read()
    busy = []
    answers = run_concurrently(lambda _: settle(book, trans_id, TWO_UPS, busy), range(THREADS))
    contention.add_busy(request.node.name, len(busy))
    assert not [a for a in answers if isinstance(a, BaseException)], answers[:3]
    postings = {str(a["postings"]) for a in answers}
    assert len(postings) == 1
    # with the async fee phase applied by two appliers at once
    reports = run_concurrently(lambda _: applier.run(book.ctx), range(2), threads=2)
    assert sum(r.applied for r in reports) == 1
    assert movements(before, book.read()) == {
        ("buyer", 1): -10_000, ("seller", 1): 9_600, ("wallet", 3): 120,
        ("agent1", 1): 100, ("agent1", 3): 100, ("agent2", 3): 80}
    assert len(book.read().trade_entries(trans_id)) == len(answers[0]["postings"])
    assert_journal_matches_balances(book.read())


def test_32_threads_with_different_inputs_one_wins_the_rest_are_refused(world, book):
    fund(world, book, "buyer", 20_000)
    trans_id = world.ids.next()
    service.record_trade(book.ctx, TradeRequest(
        trans_id=trans_id, buyer_id="buyer", seller_id="seller", cash_amount=1_000,
        settlement_type="REALTIME", payment_mode="BALANCE"))
    variants = [PayTradeRequest(mkt_solution={"total_amount": n, "no_settlement_amount": 0})
                for n in range(THREADS)]
    before = book.read()
    outcomes = run_concurrently(lambda r: settle(book, trans_id, r, []), variants)
    won = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, PaySettleError)]
    assert len(won) == 1 and len(refused) == THREADS - 1
    assert {e.code for e in refused} == {ErrorCode.REENTRY_MISMATCH}
    assert movements(before, book.read()) == {("buyer", 1): -1_000, ("seller", 1): 1_000}


def test_concurrent_balance_trades_of_one_buyer_never_overdraw(world, book, contention, request):
    fund(world, book, "buyer", 10_000)
    registry.declare(book.ctx.tenant, "buyerfees", "C", "NORMAL", "CNY", book.ctx.now)
    trades = []
    for _ in range(64):
        trans_id = world.ids.next()
        service.record_trade(book.ctx, TradeRequest(
            trans_id=trans_id, buyer_id="buyer", seller_id="seller", cash_amount=300,
            settlement_type="ASYNC", payment_mode="BALANCE"))
        trades.append(trans_id)
    pay = PayTradeRequest(buyer_fee_amount=50, buyer_fee_user_id="buyerfees")
    busy = []
    outcomes = run_concurrently(lambda t: settle(book, t, pay, busy), trades)
    contention.add_busy(request.node.name, len(busy))
    codes = Counter("SETTLED" if isinstance(o, dict) else o.code.name for o in outcomes)
    assert codes == {"SETTLED": 28, "TRADE_BALANCE_SHORT": 36}      # 28 * 350 <= 10000 < 29 * 350
    book.apply()
    ledger = book.read()
    assert ledger.balance("buyer") == 10_000 - 28 * 350
    assert ledger.balance("seller", 3) == 28 * 300
    assert ledger.balance("buyerfees", 3) == 28 * 50
    assert ledger.balance("@transit") == 0
    assert_journal_matches_balances(ledger)
