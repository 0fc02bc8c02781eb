"""Invariants under real contention, against AWS's DynamoDB Local, with 32 threads.

the invariants (docs/architecture.md): exactly once, never negative, journal = balance, idempotent calls.
Each test hammers fresh tables from a thread pool, then checks the invariants
on what was written and on the answers the merchant got. A BUSY answer
(contention outlasting the service's retries) is retried by the merchant with
the same request, counted, and listed in the terminal summary.
"""
import random
from collections import Counter, defaultdict

import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.payments import aggregator, ledger
from chalicelib.payments.orders import FAIL, SUCCESS
from tests.support.concurrency import (THREADS, AggregatorLoops, BalanceMonitor, Merchant,
                                       run_concurrently)
from tests.support.world import (check_invariants, distinct, partition, pay_request, read_ledger,
                                 read_orders, settle, withdraw_request)

pytestmark = pytest.mark.dynamodb_local

INSUFFICIENT = "账户余额不足，提款失败"


@pytest.fixture
def merchant(world, contention, request):
    return Merchant(world, lambda count: contention.add_busy(request.node.name, count))


def _unexpected(outcomes):
    return [o for o in outcomes if isinstance(o, BaseException)]


def _balance(world, saler):
    return ledger.account_state(world.tenant, saler).balance


def test_200_concurrent_withdraws_of_10_from_1000_leave_exactly_zero(world, merchant):
    ctx = world.ctx()
    world.pay("alice", 1000)
    assert aggregator.run(ctx).applied == 1
    assert _balance(world, "alice") == 1000

    requests = [withdraw_request(world.ids.next(), "alice", 10) for _ in range(200)]
    orders = run_concurrently(merchant.send, requests, threads=THREADS)
    assert not _unexpected(orders), _unexpected(orders)[:3]

    codes = Counter((o.response_code, o.response_msg) for o in orders)
    assert codes == {(SUCCESS, "OK"): 100, (FAIL, INSUFFICIENT): 100}
    assert _balance(world, "alice") == 0
    items = partition(ctx, "alice")                       # the whole ledger partition
    journal = [i for i in items if i["entry"] != "ACCOUNT"]
    assert len(journal) == 101 and sum(i["amount"] for i in journal) == 0
    assert distinct(o.response_id for o in world.book.answers.values())
    check_invariants(world)

    # The same 200 requests again, concurrently: the same answers, no money moves.
    again = run_concurrently(merchant.send, requests, threads=THREADS)
    assert again == orders
    assert _balance(world, "alice") == 0
    check_invariants(world)


def test_every_pay_sent_five_times_concurrently_is_credited_exactly_once(world, merchant):
    ctx = world.ctx()
    rng = random.Random(20240301)
    salers = [f"saler{i}" for i in range(5)]
    pays = [pay_request(world.ids.next(), salers[i % 5], 100 + i) for i in range(50)]
    calls = [p for p in pays for _ in range(5)]
    rng.shuffle(calls)

    with AggregatorLoops(ctx, count=2) as during:          # credits are applied while pays arrive
        outcomes = run_concurrently(merchant.submit, calls, threads=THREADS)
    assert not _unexpected(outcomes), _unexpected(outcomes)[:3]

    by_request = defaultdict(list)
    for outcome in outcomes:
        by_request[outcome.order.request_id].append(outcome)
    assert len(by_request) == 50
    for request_id, answers in by_request.items():
        assert len(answers) == 5
        assert len({a.order.response_id for a in answers}) == 1, request_id
        assert len({a.order for a in answers}) == 1, request_id
        assert sum(not a.replayed for a in answers) == 1, f"{request_id} recorded more than once"
    assert distinct(a[0].order.response_id for a in by_request.values())

    # Two aggregator runs overlapping each other on what is left, then the schedules settle.
    overlapping = run_concurrently(lambda _: aggregator.run(ctx), [0, 1], threads=2)
    assert not _unexpected(overlapping), overlapping
    settled = settle(ctx)

    reports = during.reports + overlapping + settled.aggregator_runs
    assert sum(r.applied for r in reports) == 50
    assert sum(r.applied_amount for r in reports) == sum(p.total_fee for p in pays)
    assert sum(r.unapplied for r in reports) == 0
    ledger_state = check_invariants(world)
    for saler in salers:
        mine = [p for p in pays if p.saler_id == saler]
        assert ledger_state.balances[saler] == sum(p.total_fee for p in mine)
        assert sorted(ledger_state.journal[saler]) == sorted(f"PAY#{p.request_id}" for p in mine)


def test_aggregators_overlapping_withdraws_and_incoming_pays_keep_the_books(world, merchant):
    ctx = world.ctx()
    rng = random.Random(7)
    salers = ["alice", "bob", "carol", "dave"]
    operations = ([pay_request(world.ids.next(), rng.choice(salers), rng.randint(1, 100))
                   for _ in range(160)]
                  + [withdraw_request(world.ids.next(), rng.choice(salers), rng.randint(1, 120))
                     for _ in range(160)])
    rng.shuffle(operations)
    # An opening balance, so some withdraws succeed however the threads and the aggregator
    # loops happen to be scheduled (without it, a slow aggregator left every withdraw FAIL).
    opening = {saler: world.pay(saler, 150).amount for saler in salers}
    aggregator.run(ctx)

    with BalanceMonitor(ctx, salers) as monitor, AggregatorLoops(ctx, count=3) as loops:
        orders = run_concurrently(merchant.send, operations, threads=THREADS)
    assert not _unexpected(orders), _unexpected(orders)[:3]
    assert monitor.reads > 0 and all(low >= 0 for low in monitor.lowest.values()), monitor.lowest
    assert len(loops.reports) >= 2

    settle(ctx)
    withdraws = [o for o in orders if o.kind.value == "WITHDRAW"]
    outcomes = Counter(o.response_code for o in withdraws)
    assert outcomes[SUCCESS] > 0 and outcomes[FAIL] > 0, outcomes      # both paths exercised
    assert all(o.response_msg == INSUFFICIENT for o in withdraws if o.response_code == FAIL)
    assert all(o.response_code == SUCCESS for o in orders if o.kind.value == "PAY")

    expected = defaultdict(int, opening)                  # computed from the answers alone
    for order in orders:
        if order.response_code == SUCCESS:
            expected[order.saler_id] += order.amount if order.kind.value == "PAY" else -order.amount
    state = check_invariants(world)                       # balance == journal == merchant truth
    for saler in salers:
        assert state.balances.get(saler, 0) == expected[saler] >= 0
        assert state.journal_sum(saler) == expected[saler]


def _race_same_request_id(world, merchant, build, variants, copies=11):
    """Send every variant `copies` times at once under one request id; return outcomes by variant."""
    request_id = world.ids.next()
    calls = [(v, build(request_id, *v)) for v in variants for _ in range(copies)]
    random.Random(len(variants)).shuffle(calls)
    outcomes = run_concurrently(lambda call: merchant.send(call[1]), calls, threads=THREADS)
    by_variant = defaultdict(list)
    for (variant, _), outcome in zip(calls, outcomes):
        by_variant[variant].append(outcome)
    winners = [v for v, got in by_variant.items() if not any(isinstance(o, Exception) for o in got)]
    assert len(winners) == 1, {v: [type(o).__name__ for o in got] for v, got in by_variant.items()}
    winner = winners[0]
    assert len(set(by_variant[winner])) == 1, "the winning parameters got different answers"
    for variant, got in by_variant.items():
        if variant != winner:
            assert all(isinstance(o, PaySettleError) and o.code is ErrorCode.REENTRY_MISMATCH
                       for o in got), (variant, got)
    return request_id, winner, by_variant[winner][0]


def test_one_pay_request_id_with_other_parameters_concurrently_one_set_wins(world, merchant):
    ctx = world.ctx()
    variants = [("alice", 100), ("alice", 200), ("bob", 100)]
    request_id, (saler, amount), order = _race_same_request_id(world, merchant, pay_request, variants)
    assert (order.request_id, order.saler_id, order.amount, order.response_code) == \
        (request_id, saler, amount, SUCCESS)

    settle(ctx)
    orders, guards = read_orders(ctx)
    assert len(orders) == 1 and len(guards) == 1          # nothing else was written
    assert read_ledger(ctx).balances == {saler: amount}
    check_invariants(world)


def test_one_withdraw_request_id_with_other_parameters_concurrently_one_set_wins(world, merchant):
    ctx = world.ctx()
    world.pay("alice", 1000)
    aggregator.run(ctx)
    settle(ctx)
    # Two variants would succeed, two would fail (insufficient balance; no account at all).
    variants = [("alice", 100), ("alice", 200), ("alice", 5000), ("bob", 100)]
    request_id, (saler, amount), order = _race_same_request_id(world, merchant, withdraw_request,
                                                               variants)
    assert (order.request_id, order.saler_id, order.amount) == (request_id, saler, amount)
    debited = amount if order.response_code == SUCCESS else 0
    assert order.response_code == (SUCCESS if (saler, amount) in variants[:2] else FAIL)

    orders, guards = read_orders(ctx)
    assert len(orders) == 2 and len(guards) == 2          # the pay and the one withdraw
    assert read_ledger(ctx).balances == {"alice": 1000 - debited}
    check_invariants(world)


class CollidingResponseIds:
    """The first `repeats` ids handed out are all the same; later ones are unique. Thread-safe."""

    def __init__(self, repeats: int):
        import threading
        self._lock = threading.Lock()
        self._handed = 0
        self.repeats = repeats

    def __call__(self, moment) -> str:
        with self._lock:
            self._handed += 1
            number = 0 if self._handed <= self.repeats else self._handed
        return f"20240301101500{number:06d}"


def test_response_id_collisions_are_detected_and_retried_under_contention(world, merchant):
    world.settings["new_response_id"] = CollidingResponseIds(repeats=40)
    ctx = world.ctx()
    world.pay("alice", 300)                               # takes the colliding id first
    settle(ctx)
    requests = ([pay_request(world.ids.next(), "bob", 10 + i) for i in range(40)]
                + [withdraw_request(world.ids.next(), "alice", 10) for _ in range(40)])
    random.Random(3).shuffle(requests)
    orders = run_concurrently(merchant.send, requests, threads=THREADS)
    assert not _unexpected(orders), _unexpected(orders)[:3]
    assert distinct(o.response_id for o in world.book.answers.values())
    codes = Counter((o.kind.value, o.response_code) for o in orders)
    assert codes == {("PAY", SUCCESS): 40, ("WITHDRAW", SUCCESS): 30, ("WITHDRAW", FAIL): 10}
    settle(ctx)
    state = check_invariants(world)
    assert state.balances == {"alice": 0, "bob": sum(10 + i for i in range(40))}
