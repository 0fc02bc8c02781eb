"""The process dies after (and before) each AWS call in turn; the world heals.

For each operation (pay, a pay retried after its credit was lost, withdraw,
an insufficient withdraw, an aggregator run, a sweeper run):

1. a clean run on fresh resources counts the AWS calls the operation makes
   (DynamoDB and SQS together, in order);
2. for every call number n, on fresh resources with the same setup, the
   operation dies right after call n returned (it took effect; the answer is
   lost), and again with death right before call n (never sent);
3. the real world recovers: the merchant, who got no answer, retries the same
   request (same request_id, same parameters); then the sweeper (grace 0) and
   the aggregator run until quiescent;
4. every account's balance equals the merchant's successful pays minus its
   successful withdraws and the sum of its journal; each successful pay has
   exactly one journal entry; stored orders are the merchant's answers.
"""
from dataclasses import dataclass
from typing import Callable, Optional

import pytest

from chalicelib.payments import aggregator, sweeper
from chalicelib.payments.context import Payments
from chalicelib.payments.orders import FAIL, SUCCESS
from tests.support.faults import AFTER, BEFORE, FaultPlan, ProcessDied
from tests.support.model_faults import faults_on_models
from tests.support.world import World, check_invariants, pay_request, settle, withdraw_request

SEND_FAILS = {"SendMessage": "InternalError"}


@dataclass
class Scenario:
    name: str
    setup: Callable[[World], Optional[object]]          # returns the merchant's request, if any
    operation: Callable[[World, Payments, Optional[object]], object]
    expected_calls: Optional[int] = None                 # the clean run's count, where it is a target


def _die_as_planned(world: World, plan: FaultPlan, operation):
    """Run `operation(ctx)` as the process `plan` simulates: its boto3 clients and the models'
    clients (pay and withdraw reach DynamoDB through the models) count and die together."""
    with world.bound(), faults_on_models(plan):
        return operation(world.ctx(plan))


def _merchant_call(world: World, ctx: Payments, request):
    return world.send(request, ctx)


def _pay_setup(world: World):
    world.pay("alice", 500)
    aggregator.run(world.ctx())
    world.pay("alice", 70)                               # its credit is still queued
    return pay_request(world.ids.next(), "alice", 250)


def _pay_retry_setup(world: World):
    # A pay whose credit was never sent; the merchant retries it (e.g. an HTTP timeout).
    order = world.pay("bob", 120, ctx=world.ctx(FaultPlan(failures=SEND_FAILS)))
    world.pay("bob", 30)
    return pay_request(order.request_id, "bob", 120)


def _withdraw_setup(world: World):
    world.pay("alice", 1000)
    world.pay("bob", 80)
    aggregator.run(world.ctx())
    world.pay("alice", 5)                                # pending credit
    return withdraw_request(world.ids.next(), "alice", 300)


def _withdraw_insufficient_setup(world: World):
    world.pay("alice", 100)
    aggregator.run(world.ctx())
    world.pay("alice", 500)                              # pending: not yet spendable
    return withdraw_request(world.ids.next(), "alice", 300)


def _aggregator_setup(world: World):
    first = world.pay("alice", 100)
    aggregator.run(world.ctx())
    world.withdraw("alice", 60)
    # The merchant retries an applied pay: its replay queues the credit again.
    world.send(pay_request(first.request_id, "alice", 100))
    for amount in (11, 12, 13, 14):
        world.pay("alice", amount)
    bob_first = world.pay("bob", 21)
    for amount in (22, 23, 24):
        world.pay("bob", amount)
    world.send(pay_request(bob_first.request_id, "bob", 21))   # a duplicate within the batch
    for amount in (31, 32, 33):
        world.pay("carol", amount)
    return None


def _aggregator_two_transactions_setup(world: World):
    # 51 accounts with one new credit each, plus a credit of account 0 already applied:
    # 103 items, so two transactions (the first cancelled once for the applied credit).
    first = world.pay("acct00", 500)
    aggregator.run(world.ctx())
    world.send(pay_request(first.request_id, "acct00", 500))
    for account in range(51):
        world.pay(f"acct{account:02d}", 10 + account)
    return None


def _aggregator_run(world: World, ctx: Payments, _request):
    return aggregator.run(ctx)


def _sweeper_setup(world: World):
    for amount in (100, 200, 300):
        world.pay("alice", amount)
    aggregator.run(world.ctx())                          # applied, not yet marked settled
    world.withdraw("alice", 150)
    lost = world.ctx(FaultPlan(failures=SEND_FAILS))
    world.pay("bob", 40, ctx=lost)                       # stranded: no message anywhere
    world.pay("carol", 55, ctx=lost)                     # stranded
    world.pay("carol", 66)                               # queued, not applied yet
    return None


def _sweeper_run(world: World, ctx: Payments, _request):
    return sweeper.run(ctx, grace_seconds=0)


SCENARIOS = [
    Scenario("pay", _pay_setup, _merchant_call, expected_calls=2),
    Scenario("pay-retry-of-lost-credit", _pay_retry_setup, _merchant_call),
    Scenario("withdraw", _withdraw_setup, _merchant_call, expected_calls=1),
    Scenario("withdraw-insufficient", _withdraw_insufficient_setup, _merchant_call, expected_calls=2),
    Scenario("aggregator", _aggregator_setup, _aggregator_run),
    Scenario("sweeper", _sweeper_setup, _sweeper_run),
]


def _recover(world: World, request) -> None:
    """What the real world does next: the merchant retries, the schedules run."""
    if request is not None:
        world.send(request)                              # same request_id, same parameters
    settle(world.ctx())


def _clean_run(new_world, scenario: Scenario):
    world = new_world()
    request = scenario.setup(world)
    plan = FaultPlan()
    result = _die_as_planned(world, plan, lambda ctx: scenario.operation(world, ctx, request))
    _recover(world, request)
    check_invariants(world)
    return list(plan.calls), result


@pytest.mark.parametrize("when", [AFTER, BEFORE])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_process_dies_at_every_aws_call(new_world, scenario, when):
    clean_calls, _ = _clean_run(new_world, scenario)
    assert clean_calls, "the operation made no AWS call"
    if scenario.expected_calls is not None:
        assert len(clean_calls) == scenario.expected_calls, clean_calls
    failures, dead = [], []
    # Every world first dies at its call; then all recover. Messages a dying process
    # took stay invisible for the visibility timeout: waiting once, not once per world.
    for n in range(1, len(clean_calls) + 1):
        world = new_world()
        request = scenario.setup(world)
        plan = FaultPlan(die_at=n, when=when)
        label = f"died {when} call {n}/{len(clean_calls)} ({clean_calls[n - 1]})"
        try:
            _die_as_planned(world, plan, lambda ctx: scenario.operation(world, ctx, request))
        except ProcessDied:
            dead.append((label, world, request))
        else:
            failures.append(f"{label}: the operation finished although its process died")
            continue
        assert plan.calls[:n] == clean_calls[:n], f"{label}: calls differ from the clean run"
    for label, world, request in dead:
        try:
            with world.bound():
                _recover(world, request)
                check_invariants(world)
        except AssertionError as error:
            failures.append(f"{label}: {error}")
    assert not failures, "\n".join([f"{scenario.name}, calls {clean_calls}:"] + failures)


SCENARIO = {s.name: s for s in SCENARIOS}


def test_the_clean_runs_exercise_what_their_names_say(new_world):
    """Guards the scenarios themselves, so the fault runs keep testing the hard paths."""
    _, order = _clean_run(new_world, SCENARIO["pay"])
    assert order.response_code == SUCCESS
    calls, order = _clean_run(new_world, SCENARIO["pay-retry-of-lost-credit"])
    assert order.response_code == SUCCESS and "sqs.SendMessage" in calls
    _, order = _clean_run(new_world, SCENARIO["withdraw"])
    assert order.response_code == SUCCESS
    _, order = _clean_run(new_world, SCENARIO["withdraw-insufficient"])
    assert (order.response_code, order.response_msg) == (FAIL, "账户余额不足，提款失败")
    calls, report = _clean_run(new_world, SCENARIO["aggregator"])
    # 13 messages: 11 new credits, a duplicate within the batch, a credit already applied
    # (its transaction is cancelled once and sent again without it).
    assert (report.received, report.applied, report.duplicates) == (13, 11, 2)
    assert calls.count("dynamodb.TransactWriteItems") == 2
    assert calls.count("sqs.ReceiveMessage") >= 2 and "sqs.DeleteMessageBatch" in calls
    calls, report = _clean_run(new_world, SCENARIO["sweeper"])
    assert (report.settled, report.requeued) == (3, 3)
    assert calls.count("dynamodb.UpdateItem") == 3 and "sqs.SendMessageBatch" in calls


# Deaths inside one batch of more than 100 items, at chosen calls: on moto a run
# over ~50 messages takes longer than the 1 s visibility timeout (moto's receive
# and transactions copy whole queues and tables), so call numbers shift between
# runs; the deaths are named by operation and occurrence instead.
BATCH_DEATHS = [
    ("TransactWriteItems", 2, AFTER),     # the first transaction committed, the second never sent
    ("DeleteMessageBatch", 1, AFTER),     # both committed, ten of 52 messages deleted
]


def test_aggregator_dies_between_the_transactions_of_one_batch(new_world):
    scenario = Scenario("aggregator-two-transactions", _aggregator_two_transactions_setup,
                        _aggregator_run)
    calls, report = _clean_run(new_world, scenario)
    assert (report.applied, report.transactions) == (51, 2), report
    assert report.duplicates >= 1
    dead = []
    for operation, occurrence, when in BATCH_DEATHS:
        world = new_world()
        scenario.setup(world)
        plan = FaultPlan(die_on=(operation, occurrence), when=when)
        with pytest.raises(ProcessDied):
            _die_as_planned(world, plan, aggregator.run)
        dead.append((f"died {when} {operation} #{occurrence}", world))
    failures = []
    for label, world in dead:
        try:
            with world.bound():
                _recover(world, None)
                check_invariants(world)
        except AssertionError as error:
            failures.append(f"{label}: {error}")
    assert not failures, "\n".join(failures)
