"""The embedded stack's AWS: DynamoDB Local for tables (linearizable, kept on disk), moto's
server for SQS (one request at a time), no stalls."""
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config

from infra.dynamodb_local import DynamoDBLocal
from infra.embedded_aws import EmbeddedAWS

from .support import wait_until

pytestmark = pytest.mark.e2e

THREADS = 64
ATTEMPTS = 300
STOCK = 100


@pytest.fixture
def endpoint():
    with EmbeddedAWS() as aws:
        yield aws


@pytest.fixture
def tables(tmp_path):
    """DynamoDB Local as the stack runs it: its data in a directory."""
    with DynamoDBLocal(data_dir=tmp_path / "dynamodb") as local:
        yield local


def _client(aws, service: str):
    return boto3.session.Session().client(
        service, endpoint_url=aws.url, region_name="us-east-1", aws_access_key_id="e2e",
        aws_secret_access_key="e2e",
        config=Config(max_pool_connections=THREADS, retries={"max_attempts": 1}))


def _table(dynamodb, name: str) -> str:
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    return name


def _count(dynamodb, table: str, key: str):
    item = dynamodb.get_item(TableName=table, Key={"k": {"S": key}}, ConsistentRead=True).get("Item")
    return int(item["n"]["N"]) if item else None


@pytest.fixture
def frequent_thread_switches():
    """Switch threads as often as CPython allows, so that any race window is hit."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_concurrent_conditional_writes_never_overdraw(tables, frequent_thread_switches):
    # moto's DynamoDB, without a lock of ours, overdraws here (measured: 112 successes).
    dynamodb = _client(tables, "dynamodb")
    table = _table(dynamodb, "counters")
    dynamodb.put_item(TableName=table, Item={"k": {"S": "stock"}, "n": {"N": str(STOCK)}})
    # Built once before the threads: a client builds its exception classes lazily, and threads
    # building them at once would raise a class that another thread's `except` does not name.
    condition_failed = dynamodb.exceptions.ConditionalCheckFailedException

    def take_one(_):
        try:
            dynamodb.update_item(TableName=table, Key={"k": {"S": "stock"}},
                                 UpdateExpression="SET n = n - :one",
                                 ConditionExpression="n >= :one",
                                 ExpressionAttributeValues={":one": {"N": "1"}})
            return True
        except condition_failed:
            return False

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(take_one, range(ATTEMPTS)))

    assert outcomes.count(True) == STOCK
    assert _count(dynamodb, table, "stock") == 0


def test_a_cancelled_transaction_leaves_every_item_as_it_was(tables):
    dynamodb = _client(tables, "dynamodb")
    table = _table(dynamodb, "accounts")
    dynamodb.put_item(TableName=table, Item={"k": {"S": "a"}, "n": {"N": "10"}})
    dynamodb.put_item(TableName=table, Item={"k": {"S": "b"}, "n": {"N": "0"}})

    # The put and the update come before the failing check: none of them may remain.
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"k": {"S": "new"}, "n": {"N": "1"}}}},
            {"Update": {"TableName": table, "Key": {"k": {"S": "a"}},
                        "UpdateExpression": "SET n = n + :d",
                        "ExpressionAttributeValues": {":d": {"N": "5"}}}},
            {"ConditionCheck": {"TableName": table, "Key": {"k": {"S": "b"}},
                                "ConditionExpression": "attribute_not_exists(k)"}},
        ])

    assert _count(dynamodb, table, "new") is None
    assert _count(dynamodb, table, "a") == 10

    dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {"k": {"S": "new"}, "n": {"N": "1"}}}},
        {"Update": {"TableName": table, "Key": {"k": {"S": "a"}}, "UpdateExpression": "SET n = n + :d",
                    "ExpressionAttributeValues": {":d": {"N": "5"}}}},
    ])
    assert (_count(dynamodb, table, "new"), _count(dynamodb, table, "a")) == (1, 15)


def test_tables_and_items_survive_a_sigkill(tmp_path):
    data = tmp_path / "kept"
    with DynamoDBLocal(data_dir=data) as first:
        dynamodb = _client(first, "dynamodb")
        table = _table(dynamodb, "kept")
        for n in range(20):
            dynamodb.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "Item": {"k": {"S": f"a{n}"}, "n": {"N": str(n)}}}},
                {"Put": {"TableName": table, "Item": {"k": {"S": f"b{n}"}, "n": {"N": str(n)}}}}])
        dynamodb.get_item(TableName=table, Key={"k": {"S": "a0"}})
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
    with DynamoDBLocal(data_dir=data) as second:
        dynamodb = _client(second, "dynamodb")
        items = dynamodb.scan(TableName="kept", ConsistentRead=True)["Items"]
        assert sorted(i["k"]["S"] for i in items) == sorted(
            [f"a{n}" for n in range(20)] + [f"b{n}" for n in range(20)])


def test_concurrent_sends_and_deletes_lose_no_message(endpoint, frequent_thread_switches):
    # moto deletes by rebuilding a queue's list outside the lock its sends append under.
    sqs = _client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="busy")["QueueUrl"]
    sends, received = 400, set()
    done_sending = threading.Event()

    def consume():
        while True:
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch and done_sending.is_set() and len(received) >= sends:
                return
            received.update(m["Body"] for m in batch)
            if batch:
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
            elif done_sending.is_set() and time.monotonic() > give_up:
                return

    give_up = time.monotonic() + 120
    consumer = threading.Thread(target=consume)
    consumer.start()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: sqs.send_message(QueueUrl=url, MessageBody=str(n)), range(sends)))
    give_up = time.monotonic() + 10
    done_sending.set()
    consumer.join(130)
    assert received == {str(n) for n in range(sends)}


def test_a_long_poll_does_not_stall_other_clients(endpoint):
    sqs = _client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    received = {}

    def long_poll():
        started = time.monotonic()
        answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
        received["messages"] = answer.get("Messages", [])
        received["seconds"] = time.monotonic() - started

    poller = threading.Thread(target=long_poll)
    poller.start()
    time.sleep(0.3)  # let the poll begin; the assertion below does not depend on it
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    send_seconds = time.monotonic() - sent_at
    poller.join(15)

    assert send_seconds < 2, "the send waited for the long poll"
    assert [m["Body"] for m in received["messages"]] == ["hello"]
    assert received["seconds"] < 5


def test_it_listens_on_loopback_only():
    with pytest.raises(ValueError):
        EmbeddedAWS(host="0.0.0.0")


def test_a_large_queue_keeps_sqs_semantics(endpoint):
    # The endpoint gives moto's SQS a cheaper clock and retention check (speed: benchmarks/stack).
    sqs = _client(endpoint, "sqs")
    url = sqs.create_queue(QueueName="large", Attributes={"VisibilityTimeout": "1",
                                                          "MessageRetentionPeriod": "60"})["QueueUrl"]
    for start in range(0, 1000, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)])

    taken = []
    for _ in range(20):
        taken += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len({m["Body"] for m in taken}) == 200           # in flight: never handed out twice

    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (depth["ApproximateNumberOfMessages"], depth["ApproximateNumberOfMessagesNotVisible"]) \
        == ("800", "200")
    # Once the 1 s visibility timeout ends, the 200 taken messages are visible again.
    wait_until(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "1000", 10, "every message visible again")
