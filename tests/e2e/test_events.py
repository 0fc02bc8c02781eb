"""The event wiring of the stack: the pump's schedules against real SQS semantics."""
import json
from contextlib import contextmanager

import pytest

from .support import new_saler, wait_until

pytestmark = pytest.mark.e2e


@contextmanager
def queue_attributes(sqs, url: str, **changes: str):
    """Change a queue's attributes for one test, then put the template's values back."""
    names = list(changes)
    saved = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=changes)
    try:
        yield
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={n: saved[n] for n in names})


def _messages(sqs, url: str) -> list:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                               AttributeNames=["All"]).get("Messages", [])


def test_a_poison_message_ends_in_the_dead_letter_queue_after_max_receives(stack):
    sqs = stack.client("sqs")
    queues = stack.manifest["queues"]
    credit_queue, dead_letters = queues["CreditQueue"], queues["CreditDeadLetterQueue"]
    redrive = json.loads(sqs.get_queue_attributes(
        QueueUrl=credit_queue, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    poison = f"not a credit {new_saler()}"

    # The template's 120 s visibility timeout would make this test take 10 minutes; 1 s
    # lets each aggregator run (every 2 s locally) receive the message again.
    with queue_attributes(sqs, credit_queue, VisibilityTimeout="1"):
        sqs.send_message(QueueUrl=credit_queue, MessageBody=poison)
        found = wait_until(lambda: [m for m in _messages(sqs, dead_letters) if m["Body"] == poison],
                           40, "the poison message reached the dead-letter queue", interval=0.5)

    message = found[0]
    # Moved after maxReceiveCount receives by the aggregator (+1: the receive just above).
    assert int(message["Attributes"]["ApproximateReceiveCount"]) >= int(redrive["maxReceiveCount"])
    sqs.delete_message(QueueUrl=dead_letters, ReceiptHandle=message["ReceiptHandle"])
    assert '"event":"aggregator.poison_message"' in stack.log_text()


def test_a_pay_whose_credit_message_was_lost_is_requeued_by_the_sweeper(stack):
    sqs = stack.client("sqs")
    credit_queue = stack.manifest["queues"]["CreditQueue"]
    saler = new_saler()

    # Hold new messages back from the aggregator, so that the pay's credit can be
    # destroyed before anyone applies it: the send "failed" after the order was written.
    with queue_attributes(sqs, credit_queue, DelaySeconds="60"):
        paid = stack.pay(saler, "4321").json()
        assert paid["response_code"] == "SUCCESS"
        sqs.purge_queue(QueueUrl=credit_queue)
    delayed = sqs.get_queue_attributes(QueueUrl=credit_queue, AttributeNames=["All"])["Attributes"]
    assert delayed["ApproximateNumberOfMessagesDelayed"] == "0"
    assert stack.account(saler)["pending_credit_count"] == 1

    # Grace period 5 s in the local stage, then the sweeper and the aggregator (2 s each).
    stack.wait_for_balance(saler, 4321, timeout=30)
    assert [e["amount"] for e in stack.journal(saler)] == [4321]
    assert paid["request_id"] in [json.loads(line).get("request_id")
                                  for line in stack.log_text().splitlines()
                                  if '"event":"sweeper.requeued"' in line]
