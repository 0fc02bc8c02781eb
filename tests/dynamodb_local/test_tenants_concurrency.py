"""Two tenants in one set of tables, against AWS's DynamoDB Local, from 32 threads.

Both tenants use the same saler ids and the same request ids, with other amounts; their pays and
withdraws are interleaved (each sent twice) while the aggregator runs. Afterwards each tenant's
balances equal its own journal and its own successful orders (check_invariants, per tenant),
and no request of one tenant was refused or answered because of the other: no 409, every pay
SUCCESS, and every withdraw of a tenant's exact own balance SUCCESS, leaving both at zero.
"""
import random

import pytest

from chalicelib.payments import ledger
from chalicelib.payments.orders import FAIL, SUCCESS
from tests.support.concurrency import THREADS, AggregatorLoops, Merchant, run_concurrently
from tests.support.world import (World, check_invariants, distinct, pay_request, settle,
                                 withdraw_request)

pytestmark = pytest.mark.dynamodb_local

SALERS = [f"saler{i}" for i in range(5)]
PAYS_PER_SALER = 10
# Per saler and pay: tenant "default" pays 100 fen, tenant "other" 7 fen.
AMOUNTS = {"default": 100, "other": 7}


@pytest.fixture
def tenants(world, contention, request):
    """The fixture's world (tenant "default") and a second tenant on the same tables and queue."""
    other = World(world.dynamodb, world.sqs, world.provisioned, tenant="other")
    worlds = {"default": world, "other": other}
    merchants = {name: Merchant(w, lambda count: contention.add_busy(request.node.name, count))
                 for name, w in worlds.items()}
    return worlds, merchants


def _unexpected(outcomes):
    return [o for o in outcomes if isinstance(o, BaseException)]


def _balance(world, saler):
    return ledger.account_state(world.tenant, saler).balance


def test_two_tenants_with_the_same_salers_and_request_ids_never_touch_each_other(tenants):
    worlds, merchants = tenants
    scheduled = worlds["default"].ctx(tenant=None)          # the aggregator: every tenant
    rng = random.Random(20240301)
    pay_ids = [worlds["default"].ids.next() for _ in SALERS for _ in range(PAYS_PER_SALER)]
    pays = {name: [pay_request(rid, SALERS[i % len(SALERS)], AMOUNTS[name])
                   for i, rid in enumerate(pay_ids)] for name in worlds}
    calls = [(name, p) for name in worlds for p in pays[name] for _ in range(2)]
    rng.shuffle(calls)

    with AggregatorLoops(scheduled, count=2):
        outcomes = run_concurrently(lambda call: merchants[call[0]].send(call[1]), calls,
                                    threads=THREADS)
    assert not _unexpected(outcomes), _unexpected(outcomes)[:3]
    assert {o.response_code for o in outcomes} == {SUCCESS}
    settle(scheduled)
    for name, world in worlds.items():
        for saler in SALERS:
            assert _balance(world, saler) == PAYS_PER_SALER * AMOUNTS[name], (name, saler)
        check_invariants(world)

    # Each tenant withdraws exactly its own balance, in pieces, under the same request ids as
    # the other tenant, interleaved with more pays to other salers and with aggregator runs.
    withdraw_ids = [worlds["default"].ids.next() for _ in SALERS for _ in range(PAYS_PER_SALER)]
    extra_ids = [worlds["default"].ids.next() for _ in range(20)]
    calls = []
    for name in worlds:
        calls += [(name, withdraw_request(rid, SALERS[i % len(SALERS)], AMOUNTS[name]))
                  for i, rid in enumerate(withdraw_ids)]
        calls += [(name, pay_request(rid, f"extra{i % 3}", AMOUNTS[name] + i))
                  for i, rid in enumerate(extra_ids)]
    calls = [call for call in calls for _ in range(2)]
    rng.shuffle(calls)
    with AggregatorLoops(scheduled, count=2):
        outcomes = run_concurrently(lambda call: merchants[call[0]].send(call[1]), calls,
                                    threads=THREADS)
    assert not _unexpected(outcomes), _unexpected(outcomes)[:3]
    assert {o.response_code for o in outcomes} == {SUCCESS}, [
        (o.kind, o.saler_id, o.response_msg) for o in outcomes if o.response_code != SUCCESS][:5]
    settle(scheduled)

    for name, world in worlds.items():
        assert all(_balance(world, saler) == 0 for saler in SALERS), name
        assert sum(_balance(world, f"extra{i}") for i in range(3)) == sum(
            AMOUNTS[name] + i for i in range(len(extra_ids)))
        check_invariants(world)
        assert distinct(o.response_id for o in world.book.answers.values())
    # Response ids stay unique across everyone; request ids are each tenant's own.
    answers = {name: world.book.answers for name, world in worlds.items()}
    assert set(answers["default"]) == set(answers["other"])
    assert {o.response_id for o in answers["default"].values()}.isdisjoint(
        o.response_id for o in answers["other"].values())
    # Nothing is left for either: a further withdraw of 1 fen fails in both.
    last_id = worlds["default"].ids.next()
    for name, world in worlds.items():
        refused = world.withdraw(SALERS[0], 1, request_id=last_id)
        assert refused.response_code == FAIL, name
