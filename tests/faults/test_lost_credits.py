"""Credits that never reach the aggregator are found by the sweeper and applied once.

* SendMessage fails after the pay order was written: the pay still answers
  SUCCESS (the order stands), and after the grace period the sweeper queues the
  credit again.
* An aggregator that keeps dying after receiving a credit: SQS moves the message
  to the dead-letter queue after `maxReceiveCount` receives; the sweeper still
  sees the pay's journal entry missing and queues the credit again.
"""
from datetime import datetime, timedelta, timezone

from chalicelib.payments import accounts, aggregator, sweeper
from chalicelib.payments.orders import SUCCESS
from tests.support.faults import AFTER, FaultPlan, ProcessDied
from tests.support.model_faults import faults_on_models
from tests.support.world import check_invariants, poll, queue_depth, read_ledger, settle

GRACE_SECONDS = 120


class Clock:
    def __init__(self):
        self.moment = datetime(2024, 3, 1, 2, 15, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def test_send_failed_after_the_order_was_written_is_healed_by_the_sweeper(new_world):
    clock = Clock()
    world = new_world(now=clock, credit_grace_seconds=GRACE_SECONDS)
    ctx = world.ctx()
    refused = FaultPlan(failures={"SendMessage": "ServiceUnavailable"})

    with faults_on_models(refused):     # the order's transaction goes through the models
        lost = world.pay("alice", 250, ctx=world.ctx(refused))
    kept = world.pay("alice", 40)
    assert lost.response_code == kept.response_code == SUCCESS
    assert refused.calls == ["dynamodb.TransactWriteItems", "sqs.SendMessage"]
    assert queue_depth(world.sqs, world.queue_url) == 1            # only the kept pay's credit

    assert aggregator.run(ctx).applied == 1
    view = accounts.account_view(ctx, "alice")
    assert (view["balance"], view["pending_credit_count"], view["pending_credit_amount"]) == (40, 1, 250)

    clock.advance(GRACE_SECONDS - 1)                                 # still within the grace period
    report = sweeper.run(ctx)
    assert (report.requeued, report.waiting, report.settled) == (0, 1, 1)
    assert aggregator.run(ctx).received == 0

    clock.advance(2)                                                 # past it: stranded
    assert sweeper.run(ctx).requeued == 1
    assert aggregator.run(ctx).applied == 1
    assert accounts.account_view(ctx, "alice")["balance"] == 290

    # Once healed, the sweeper marks it settled and never queues it again.
    report = sweeper.run(ctx)
    assert (report.settled, report.requeued) == (1, 0)
    assert sweeper.run(ctx).examined == 0
    check_invariants(world)


def test_a_failed_send_and_a_merchant_retry_credit_once(new_world):
    """The merchant retries anyway; the replay queues the credit, the sweeper queues it too."""
    world = new_world()
    refused = FaultPlan(failures={"SendMessage": "InternalError"})
    first = world.pay("bob", 75, ctx=world.ctx(refused))
    again = world.pay("bob", 75, request_id=first.request_id)
    assert again == first
    report = settle(world.ctx())
    assert sum(r.applied for r in report.aggregator_runs) == 1
    assert sum(r.requeued for r in report.sweeper_runs) >= 1
    assert read_ledger(world.ctx()).balances == {"bob": 75}
    check_invariants(world)


def test_a_credit_parked_in_the_dead_letter_queue_is_still_applied(new_world):
    world = new_world()
    world.pay("carol", 300)
    receives = 0
    # Every aggregator that receives the credit dies before applying it; SQS gives
    # the message out maxReceiveCount (5) times, then moves it to the dead-letter queue.
    while True:
        poll(lambda: _count(world.sqs, world.dead_letter_url, "ApproximateNumberOfMessages")
             or _count(world.sqs, world.queue_url, "ApproximateNumberOfMessages"),
             timeout=5, message="the credit to come back or be parked")
        if _count(world.sqs, world.dead_letter_url, "ApproximateNumberOfMessages"):
            break
        try:
            aggregator.run(world.ctx(FaultPlan(die_at=1, when=AFTER)))
        except ProcessDied:
            pass
        # Received (and now in flight) or, on the receive past the limit, parked.
        receives += _count(world.sqs, world.queue_url, "ApproximateNumberOfMessagesNotVisible")
        assert receives <= 5
    assert queue_depth(world.sqs, world.dead_letter_url) == 1
    assert receives == 5
    assert read_ledger(world.ctx()).balances == {}

    report = settle(world.ctx())
    assert sum(r.requeued for r in report.sweeper_runs) == 1
    check_invariants(world, dead_letters=1)
    assert read_ledger(world.ctx()).balances == {"carol": 300}


def _count(sqs, queue_url: str, attribute: str) -> int:
    answer = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[attribute])
    return int(answer["Attributes"][attribute])
