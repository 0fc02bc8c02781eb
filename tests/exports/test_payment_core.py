"""The payment core's part in exports: successful orders are indexed by day of response_time,
and every journal entry carries its order's response_time (through the credit message, the
withdraw's transaction and the sweeper's re-enqueued credits)."""
import json

from chalicelib.dynamo import from_item
from chalicelib.payments import service, sweeper
from chalicelib.payments.credits import Credit
from chalicelib.payments.messages import PayRequest

from tests.unit.support import FailingSend


def items(world, table, **query):
    request = dict(TableName=world.provisioned.tables[table], **query)
    if "IndexName" not in query:
        request["ConsistentRead"] = True       # (a GSI has only eventually consistent reads)
    return [from_item(i) for i in world.dynamodb.scan(**request)["Items"]]


def test_successful_orders_and_only_they_carry_success_day(world):
    pay = world.pay("s", 100, "2026-11-01 23:59:59")
    ok = world.withdraw("s", 1, "2026-11-02 00:00:00")              # no balance yet: FAIL
    world.aggregate("2026-11-02 00:00:05")
    withdraw = world.withdraw("s", 30, "2026-11-02 00:00:06")
    assert ok.response_code == "FAIL" and withdraw.response_code == "SUCCESS"

    orders = {o["request_id"]: o for o in items(world, "OrdersTable") if "request_id" in o}

    assert orders[pay.request_id]["success_day"] == "default#PAY#20261101"
    assert orders[withdraw.request_id]["success_day"] == "default#WITHDRAW#20261102"
    assert "success_day" not in orders[ok.request_id]
    indexed = items(world, "OrdersTable", IndexName="successful_by_day")
    assert sorted(o["request_id"] for o in indexed) == sorted([pay.request_id, withdraw.request_id])


def test_journal_entries_carry_the_orders_response_time(world):
    pay = world.pay("s", 100, "2026-11-01 10:00:00")
    world.aggregate("2026-11-01 18:00:00")
    withdraw = world.withdraw("s", 30, "2026-11-01 19:00:00")

    entries = {e["entry"]: e for e in items(world, "LedgerTable") if e["entry"] != "ACCOUNT"}

    assert entries[f"PAY#{pay.request_id}"]["response_time"] == "2026-11-01 10:00:00"
    assert entries[f"WITHDRAW#{withdraw.request_id}"]["response_time"] == "2026-11-01 19:00:00"


def test_the_credit_message_carries_response_time_and_round_trips(world):
    pay = world.pay("s", 100, "2026-11-01 10:00:00")
    [message] = world.sqs.receive_message(QueueUrl=world.provisioned.queues["CreditQueue"])["Messages"]
    body = json.loads(message["Body"])
    assert body["response_time"] == pay.response_time == "2026-11-01 10:00:00"
    assert Credit.from_message(message["Body"]) == Credit("default", "s", pay.request_id, 100,
                                                          "2026-11-01 10:00:00")


def test_a_credit_re_enqueued_by_the_sweeper_carries_the_orders_response_time(world):
    world.clock.set("2026-11-01 10:00:00")
    lost = world.payments(sqs=FailingSend(world.sqs))
    order = service.pay(lost, PayRequest(request_time="2026-11-01 10:00:00",
                                         request_id="20261101100000123456", saler_id="s",
                                         total_fee=55)).order
    world.clock.set("2026-11-01 11:00:00")
    assert sweeper.run(world.payments(), grace_seconds=60).requeued == 1
    world.aggregate("2026-11-01 11:00:01")

    [entry] = [e for e in items(world, "LedgerTable") if e["entry"] != "ACCOUNT"]
    assert entry["response_time"] == order.response_time == "2026-11-01 10:00:00"
