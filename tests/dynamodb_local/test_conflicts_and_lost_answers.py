"""What DynamoDB Local does not do by itself: conflicting transactions and lost answers.

* DynamoDB Local serializes transactions, so it never answers TransactionConflict;
  real DynamoDB does whenever two transactions touch one item at once. Here half
  of all TransactWriteItems are refused with TransactionConflict (not sent), on
  top of the real contention of 32 threads: the services' retries must absorb it.
* An answer lost on the way back makes the SDK send the identical request again.
  Here every TransactWriteItems and every SQS write is sent twice and only the
  second answer is seen: pay and withdraw must answer with the recorded order,
  and the aggregator's ClientRequestToken must make its resent transaction a no-op
  that still reports success (DynamoDB Local honours the token; moto does not).
"""
import random
from collections import Counter

import pytest

from chalicelib.payments import aggregator
from chalicelib.payments.orders import FAIL, SUCCESS
from tests.support.concurrency import THREADS, AggregatorLoops, Merchant, run_concurrently
from tests.support.faults import AnswerLostClient
from tests.support.model_faults import ModelAnswersLost, ModelConflicts
from tests.support.world import check_invariants, pay_request, settle, withdraw_request

pytestmark = pytest.mark.dynamodb_local


@pytest.fixture
def merchant(world, contention, request):
    return Merchant(world, lambda count: contention.add_busy(request.node.name, count))


def _errors(outcomes):
    return [o for o in outcomes if isinstance(o, BaseException)]


def test_injected_transaction_conflicts_are_retried_and_change_nothing(world, merchant, contention,
                                                                       request):
    # Every transaction (pay, withdraw, the aggregator's credits) is sent through the payment
    # models' clients: the refusals are injected there.
    modelled = ModelConflicts(rate=0.5, seed=12)
    with modelled.on():
        _conflicts_are_retried(world, merchant, contention, request, modelled)


def _conflicts_are_retried(world, merchant, contention, request, modelled):
    ctx = world.ctx()
    world.pay("alice", 1000)
    settle(ctx)

    withdraws = [withdraw_request(world.ids.next(), "alice", 10) for _ in range(200)]
    orders = run_concurrently(merchant.send, withdraws, threads=THREADS)
    assert not _errors(orders), _errors(orders)[:3]
    assert Counter(o.response_code for o in orders) == {SUCCESS: 100, FAIL: 100}

    pays = [pay_request(world.ids.next(), random.Random(i).choice(["alice", "bob"]), 20 + i)
            for i in range(40)]
    with AggregatorLoops(ctx, count=2):
        answers = run_concurrently(merchant.send, [p for p in pays for _ in range(3)],
                                   threads=THREADS)
    assert not _errors(answers), _errors(answers)[:3]
    settle(ctx)
    contention.note(request.node.name, f"{modelled.injected} TransactionConflict injected on "
                                       f"the models' clients")
    assert modelled.injected > 100                       # the services' own retries ran
    state = check_invariants(world)
    assert state.balances["alice"] == sum(p.total_fee for p in pays if p.saler_id == "alice")


def test_resent_requests_after_lost_answers_move_money_once(world, merchant):
    world.sqs = AnswerLostClient(world.sqs, {"SendMessage", "SendMessageBatch", "DeleteMessageBatch"})
    # Every transaction (pay, withdraw, the aggregator's credits) is sent through the payment
    # models' clients: their answers are lost there.
    with ModelAnswersLost({"TransactWriteItems"}).on():
        _lost_answers_move_money_once(world, merchant)


def _lost_answers_move_money_once(world, merchant):
    ctx = world.ctx()
    salers = ["alice", "bob", "carol"]
    pays = [pay_request(world.ids.next(), salers[i % 3], 50 + i) for i in range(30)]
    paid = run_concurrently(merchant.submit, pays, threads=THREADS)
    assert not _errors(paid), _errors(paid)[:3]
    # The first send recorded the order; the resend found it and answered with it.
    assert all(outcome.replayed and outcome.order.response_code == SUCCESS for outcome in paid)

    first = aggregator.run(ctx)
    # Every credit was queued twice; each transaction was sent twice with one token,
    # and the second send reported the first one's success without applying anything.
    assert (first.received, first.applied, first.duplicates) == (60, 30, 30)

    withdraws = [withdraw_request(world.ids.next(), salers[i % 3], 100 + 7 * i) for i in range(30)]
    taken = run_concurrently(merchant.submit, withdraws, threads=THREADS)
    assert not _errors(taken), _errors(taken)[:3]
    assert all(outcome.replayed for outcome in taken)
    codes = Counter(outcome.order.response_code for outcome in taken)
    assert codes[SUCCESS] and codes[FAIL], codes

    settle(ctx)
    check_invariants(world)
