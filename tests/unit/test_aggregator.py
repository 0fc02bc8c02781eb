"""The credit aggregator: exactly once, batched transactions, poison messages, SQS economy."""
import json
from collections import Counter, defaultdict

import pytest

from chalicelib.payments import accounts, aggregator, service
from chalicelib.payments.credits import Credit
from chalicelib.payments.messages import PayRequest
from tests.support.model_faults import transaction_sizes
from tests.unit.support import TENANT, Recording, new_request_id, pay_body


def credit(saler_id: str, amount: int, request_id: str = None) -> Credit:
    return Credit(TENANT, saler_id, request_id or new_request_id(), amount, "2019-08-29 17:15:25")


def send(stack, *credits: Credit) -> None:
    for start in range(0, len(credits), 10):
        stack.sqs.send_message_batch(QueueUrl=stack.credit_queue_url, Entries=[
            {"Id": str(i), "MessageBody": c.to_message()}
            for i, c in enumerate(credits[start:start + 10])])


def balances(ctx, salers):
    return {s: accounts.account_view(ctx, s)["balance"] for s in salers}


def journal_sum(ctx, saler_id):
    page = accounts.journal(ctx, saler_id, "100", None)
    entries = page["entries"]
    while page["next_cursor"]:
        page = accounts.journal(ctx, saler_id, "100", page["next_cursor"])
        entries += page["entries"]
    return sum(e["amount"] for e in entries), len(entries)


def test_the_same_credit_delivered_twice_is_applied_once(stack, ctx):
    duplicate = credit("agg1", 100)
    stack.sqs.send_message(QueueUrl=stack.credit_queue_url, MessageBody=duplicate.to_message())
    stack.sqs.send_message(QueueUrl=stack.credit_queue_url, MessageBody=duplicate.to_message())

    report = aggregator.run(ctx)

    assert report.received == 2
    assert report.applied == 1 and report.applied_amount == 100
    assert report.duplicates == 1
    assert balances(ctx, ["agg1"]) == {"agg1": 100}
    assert journal_sum(ctx, "agg1") == (100, 1)
    assert stack.queue_depth() == 0                  # both deliveries deleted


def test_a_credit_already_journaled_is_a_duplicate_and_its_message_deleted(stack, ctx):
    late = credit("agg2", 70)
    send(stack, late)
    assert aggregator.run(ctx).applied == 1
    send(stack, late, credit("agg2", 5))             # redelivered, beside a new credit

    report = aggregator.run(ctx)

    assert report.duplicates == 1
    assert report.applied == 1 and report.applied_amount == 5
    assert stack.queue_depth() == 0
    assert balances(ctx, ["agg2"]) == {"agg2": 75}
    assert journal_sum(ctx, "agg2") == (75, 2)


def test_a_replayed_pay_is_credited_once(stack, ctx):
    request = PayRequest(**pay_body(saler_id="agg3", total_fee=40))
    for _ in range(3):
        service.pay(ctx, request)                   # each replay may queue the credit again
    aggregator.run(ctx)
    service.pay(ctx, request)
    aggregator.run(ctx)
    assert balances(ctx, ["agg3"]) == {"agg3": 40}
    assert journal_sum(ctx, "agg3") == (40, 1)
    assert stack.queue_depth() == 0


def test_many_accounts_and_more_than_100_credits_in_one_batch(stack):
    ctx = stack.context()
    salers = [f"many{i:02d}" for i in range(37)]
    credits, expected = [], Counter()
    for i in range(180):                            # 180 credits, 37 accounts, 1 to 9 credits each
        saler = salers[(i * 7) % len(salers)]
        amount = 1 + (i * 13) % 997
        credits.append(credit(saler, amount))
        expected[saler] += amount
    send(stack, *credits)

    with transaction_sizes() as sent:                # through the ledger models' client
        report = aggregator.run(ctx)

    assert report.received == 180 and report.applied == 180 and report.duplicates == 0
    assert report.applied_amount == sum(expected.values())
    assert report.transaction_items <= len(credits) + len(salers)
    assert report.transaction_items == sum(sent)
    assert report.transactions == len(sent) >= 2
    assert max(sent) <= 100
    assert balances(ctx, salers) == dict(expected)
    for saler in salers:
        assert journal_sum(ctx, saler)[0] == expected[saler]
    assert stack.queue_depth() == 0


def test_one_account_with_more_credits_than_a_transaction_holds(stack):
    ctx = stack.context()
    credits = [credit("whale", i + 1) for i in range(250)]
    send(stack, *credits)

    with transaction_sizes() as sent:                # through the ledger models' client
        report = aggregator.run(ctx)

    assert report.applied == 250
    assert len(sent) == 3 and max(sent) <= 100
    # One balance item per 99 credits: 3 for 250 credits.
    assert report.transaction_items == 250 + 3
    assert balances(ctx, ["whale"]) == {"whale": sum(range(1, 251))}
    assert journal_sum(ctx, "whale") == (sum(range(1, 251)), 250)


def test_sqs_requests_per_credit_for_a_batch_of_200(stack):
    sqs = Recording(stack.sqs)
    ctx = stack.context(sqs=sqs)
    salers = [f"sqs{i}" for i in range(20)]
    send(stack, *[credit(salers[i % 20], 10) for i in range(200)])

    report = aggregator.run(ctx)

    assert report.applied == 200
    assert report.sqs_requests == len(sqs.calls)
    assert len(sqs.calls) / 200 <= 0.25
    assert report.transaction_items <= 200 + 20
    assert stack.queue_depth() == 0
    assert balances(ctx, salers) == {s: 100 for s in salers}


@pytest.mark.parametrize("body", [
    "not json",
    "[]",
    json.dumps({"tenant": TENANT, "saler_id": "p", "request_id": "20190829171520000001"}),
    json.dumps({"tenant": TENANT, "saler_id": "p", "request_id": "20190829171520000001",
                "amount": -5}),
    json.dumps({"tenant": TENANT, "saler_id": "p#q", "request_id": "20190829171520000001",
                "amount": 5}),
    json.dumps({"tenant": "", "saler_id": "p", "request_id": "20190829171520000001", "amount": 5}),
    json.dumps({"tenant": TENANT, "saler_id": "p", "request_id": "2019", "amount": 5}),
    # A credit must say when its pay was answered: balances as of a cutoff are computed by it.
    json.dumps({"tenant": TENANT, "saler_id": "p", "request_id": "20190829171520000001", "amount": 5}),
    json.dumps({"tenant": TENANT, "saler_id": "p", "request_id": "20190829171520000001", "amount": 5,
                "response_time": "2019-08-29T17:15:25"}),
], ids=["not_json", "array", "no_amount", "negative", "bad_saler", "no_tenant", "bad_request_id",
        "no_response_time", "bad_response_time"])
def test_poison_messages_are_not_deleted_and_do_not_block_credits(stack, ctx, body):
    stack.sqs.send_message(QueueUrl=stack.credit_queue_url, MessageBody=body)
    send(stack, credit("beside", 9))

    report = aggregator.run(ctx)

    assert report.poison == 1
    assert report.applied == 1
    assert balances(ctx, ["beside"]) == {"beside": 9}
    assert stack.queue_depth() == 1                 # the poison message, in flight, not deleted
    assert stack.scan(stack.ledger_table) and all(
        item["account"]["S"] == f"{TENANT}#beside" for item in stack.scan(stack.ledger_table))


def test_a_poison_message_ends_in_the_dead_letter_queue_after_max_receives(stack, ctx):
    redrive = json.loads(stack.sqs.get_queue_attributes(
        QueueUrl=stack.credit_queue_url, AttributeNames=["RedrivePolicy"])
        ["Attributes"]["RedrivePolicy"])
    max_receives = int(redrive["maxReceiveCount"])
    assert max_receives == 5
    # Let a received message become visible again at once, so it can be re-received quickly.
    stack.sqs.set_queue_attributes(QueueUrl=stack.credit_queue_url,
                                   Attributes={"VisibilityTimeout": "0"})
    stack.sqs.send_message(QueueUrl=stack.credit_queue_url, MessageBody="{not json")

    for run in range(max_receives):                 # one receive per run
        report = aggregator.run(ctx, max_credits=1)
        assert report.poison == 1, run
        assert stack.queue_depth() == 1
        assert stack.queue_depth(stack.dead_letter_queue_url) == 0

    report = aggregator.run(ctx, max_credits=1)
    assert report.received == 0
    assert stack.queue_depth() == 0
    dead = stack.receive_all(stack.dead_letter_queue_url)
    assert [m["Body"] for m in dead] == ["{not json"]
    assert stack.scan(stack.ledger_table) == []


def test_the_aggregator_schedule_through_the_app(stack, api):
    ctx = stack.context()
    service.pay(ctx, PayRequest(**pay_body(saler_id="sched", total_fee=33)))
    report = api.invoke("aggregator")
    assert report["applied"] == 1 and report["applied_amount"] == 33
    assert balances(ctx, ["sched"]) == {"sched": 33}
    assert api.invoke("aggregator")["received"] == 0


def test_balance_equals_journal_for_every_account_after_a_mixed_run(stack, ctx):
    expected = defaultdict(int)
    batch = []
    for i in range(60):
        c = credit(f"mix{i % 6}", 3 + i)
        batch.append(c)
        expected[c.saler_id] += c.amount
    send(stack, *batch, *batch[:15])                 # 15 duplicates in the same drain
    report = aggregator.run(ctx)
    assert report.applied == 60 and report.duplicates == 15
    for saler, amount in expected.items():
        assert balances(ctx, [saler])[saler] == journal_sum(ctx, saler)[0] == amount
