"""One request id, one order of its tenant, under real contention (AWS's DynamoDB Local).

Pays and withdraws sent at once under the same request ids, from many threads: for each request
id exactly one kind wins, every copy of it gets the same answer, every copy of the other kind is
refused with 1030 naming the kind, and the loser wrote nothing: no order, no response-id guard,
no journal entry, no credit. The invariants hold afterwards (check_invariants also checks that no
request id names two orders).
"""
import random
from collections import defaultdict

import pytest

from chalicelib.errors import ErrorCode, ReentryRefused
from chalicelib.payments import aggregator
from chalicelib.payments.orders import SUCCESS, Kind
from tests.support.concurrency import THREADS, Merchant, run_concurrently
from tests.support.world import (check_invariants, pay_request, read_ledger, read_orders, settle,
                                 withdraw_request)

pytestmark = pytest.mark.dynamodb_local

IDS, COPIES, AMOUNT, FUNDS = 24, 6, 100, 10_000


@pytest.fixture
def merchant(world, contention, request):
    return Merchant(world, lambda count: contention.add_busy(request.node.name, count))


def test_a_pay_and_a_withdraw_sent_at_once_with_one_request_id_exactly_one_is_recorded(world, merchant):
    ctx = world.ctx()
    funding = world.pay("alice", FUNDS)
    assert aggregator.run(ctx).applied == 1
    settle(ctx)

    request_ids = [world.ids.next() for _ in range(IDS)]
    calls = [(rid, kind) for rid in request_ids for kind in (Kind.PAY, Kind.WITHDRAW)
             for _ in range(COPIES)]
    random.Random(7).shuffle(calls)

    def send(call):
        rid, kind = call
        build = pay_request if kind is Kind.PAY else withdraw_request
        return merchant.send(build(rid, "alice", AMOUNT))

    outcomes = run_concurrently(send, calls, threads=THREADS)

    by_id = defaultdict(lambda: defaultdict(list))
    for (rid, kind), outcome in zip(calls, outcomes):
        by_id[rid][kind].append(outcome)
    winners = {}
    for rid, kinds in by_id.items():
        won = [kind for kind, got in kinds.items() if not any(isinstance(o, BaseException) for o in got)]
        assert len(won) == 1, {k.value: [type(o).__name__ for o in got] for k, got in kinds.items()}
        winner, loser = won[0], (Kind.WITHDRAW if won[0] is Kind.PAY else Kind.PAY)
        answers = kinds[winner]
        assert len(set(answers)) == 1 and answers[0].response_code == SUCCESS, answers
        for refused in kinds[loser]:
            assert isinstance(refused, ReentryRefused), refused
            assert (refused.code, refused.field, refused.key_value, refused.different) == \
                (ErrorCode.REENTRY_MISMATCH, "request_id", rid, ("kind",))
            assert refused.message.startswith(f"请求重入参数校验失败: request_id {rid} ")
        winners[rid] = winner

    settle(ctx)
    orders, guards = read_orders(ctx)
    assert len(orders) == len(guards) == 1 + IDS          # the funding pay and one order per id
    for rid, winner in winners.items():
        assert f"{ctx.tenant}#{winner.value}#{rid}" in orders
    pays = sum(1 for kind in winners.values() if kind is Kind.PAY)
    ledger = read_ledger(ctx)
    assert ledger.balances == {"alice": FUNDS + AMOUNT * (pays - (IDS - pays))}
    assert set(ledger.journal["alice"]) == ({f"PAY#{funding.request_id}"}
                                           | {f"{kind.value}#{rid}" for rid, kind in winners.items()})
    check_invariants(world)
