"""Helpers shared by the unit tests: an AWS stack under moto, the HTTP client, request builders."""
import contextlib
import itertools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import boto3
import pytest
from moto import mock_aws

from chalicelib.payments.context import Payments
from infra.local_stack import MERCHANT_TEMPLATE
from infra.provision import load_template, provision
from tests.support.signing import MERCHANT_SYSTEM, PLATFORM, SignedHttp, SigningKey, seed_secrets

ROOT = Path(__file__).resolve().parents[2]
TENANT = "default"          # the tenant (merchant_id) of every test key of tests/support/signing.py
JSON = {"Content-Type": "application/json"}

_serial = itertools.count(1)


def new_request_id(stamp: str = "20190829171520") -> str:
    """A fresh, valid request id: a real timestamp and 6 digits no other test used."""
    return stamp + f"{next(_serial) % 1_000_000:06d}"


def pay_body(saler_id: str = "saler1", total_fee: Any = "100", request_id: Optional[str] = None,
             request_time: str = "2019-08-29 17:15:20") -> Dict[str, Any]:
    return {"request_time": request_time, "request_id": request_id or new_request_id(),
            "saler_id": saler_id, "total_fee": total_fee}


def withdraw_body(saler_id: str = "saler1", withdraw_money: Any = "30",
                  request_id: Optional[str] = None,
                  request_time: str = "2019-08-29 17:16:21") -> Dict[str, Any]:
    return {"request_time": request_time, "request_id": request_id or new_request_id("20190829171621"),
            "withdraw_money": withdraw_money, "saler_id": saler_id}


@dataclass
class Stack:
    """The template's tables and queues, created in moto, with the env vars the API handler gets."""
    dynamodb: Any
    sqs: Any
    orders_table: str
    ledger_table: str
    credit_queue_url: str
    dead_letter_queue_url: str
    environment: Dict[str, str] = field(default_factory=dict)
    tables: Dict[str, str] = field(default_factory=dict)      # logical id -> name, every table

    def context(self, **overrides) -> Payments:
        settings = dict(sqs=self.sqs, orders_table=self.orders_table,
                        ledger_table=self.ledger_table, credit_queue_url=self.credit_queue_url,
                        tenant=TENANT, sleep=lambda seconds: None)
        settings.update(overrides)
        return Payments(**settings)

    def scan(self, table: str) -> List[dict]:
        items, request = [], {"TableName": table, "ConsistentRead": True}
        while True:
            answer = self.dynamodb.scan(**request)
            items += answer.get("Items", [])
            if "LastEvaluatedKey" not in answer:
                return items
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def queue_depth(self, url: Optional[str] = None) -> int:
        """Messages on a queue, visible, in flight or delayed."""
        # One "All" request: moto recomputes every attribute for each name asked for.
        attributes = self.sqs.get_queue_attributes(QueueUrl=url or self.credit_queue_url,
                                                   AttributeNames=["All"])["Attributes"]
        return sum(int(attributes[name]) for name in (
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"))

    def count(self, table: str) -> int:
        total, request = 0, {"TableName": table, "ConsistentRead": True, "Select": "COUNT"}
        while True:
            answer = self.dynamodb.scan(**request)
            total += answer["Count"]
            if "LastEvaluatedKey" not in answer:
                return total
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def footprint(self, dead_letter: bool = True) -> Dict[str, int]:
        """How much is stored anywhere: compared before and after a request that must write nothing."""
        found = {"orders": self.count(self.orders_table),
                 "ledger": self.count(self.ledger_table),
                 "credit_queue": self.queue_depth()}
        if dead_letter:
            found["dead_letter_queue"] = self.queue_depth(self.dead_letter_queue_url)
        return found

    def snapshot(self) -> Dict[str, List[dict]]:
        """Every item of every table of the template, by logical id, sorted: compared before and
        after a request that must write nothing at all."""
        return {logical: sorted((json.dumps(item, sort_keys=True) for item in self.scan(name)))
                for logical, name in sorted(self.tables.items())}

    def receive_all(self, url: Optional[str] = None) -> List[dict]:
        """Receive (and leave in flight) every visible message of a queue."""
        messages = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=url or self.credit_queue_url,
                                             MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                             AttributeNames=["All"]).get("Messages", [])
            if not batch:
                return messages
            messages += batch


# The simulated merchant system's signing key in these tests (the local stack draws fresh ones).
# The merchant system's own key (seeded into MerchantSigningKey by `seed_secrets`).
MERCHANT_KEY = {"key_id": MERCHANT_SYSTEM.key_id, "secret": MERCHANT_SYSTEM.secret}


_session_lock = threading.Lock()
_sessions: List[boto3.session.Session] = []


def _clients(*services: str) -> list:
    """Fresh clients of `services`, from one boto3 session per process: a session costs more to
    make than its clients, and holds nothing a test's stack gives (the credentials are the fixed
    dummies of tests/conftest.py; the endpoint is moto's, intercepted in every client). Made
    under a lock: sessions are not thread-safe."""
    with _session_lock:
        if not _sessions:
            _sessions.append(boto3.session.Session())
        return [_sessions[0].client(service) for service in services]


@contextlib.contextmanager
def aws_stack(prefix: str = "unit") -> Iterator[Stack]:
    """moto in-process, every table, queue and bucket of infra/resources.json, and the env vars
    the template gives the API handler set in os.environ (until the block ends)."""
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        dynamodb, sqs, secretsmanager, s3 = _clients("dynamodb", "sqs", "secretsmanager", "s3")
        provisioned = provision(dynamodb, sqs, prefix, s3=s3, secretsmanager=secretsmanager,
                                threads=1)
        # The merchant system's own resources (its table, its signing key), beside the center's.
        merchant = provision(dynamodb, sqs, prefix, load_template(MERCHANT_TEMPLATE),
                             s3=s3, secretsmanager=secretsmanager, threads=1)
        # The test callers of tests/support/signing.py, which `Api` signs with.
        seed_secrets(secretsmanager, dict(provisioned.secrets, **merchant.secrets))
        environment = provisioned.environment(load_template(), "APIHandler")
        environment.update(merchant.environment(load_template(MERCHANT_TEMPLATE), "APIHandler"))
        provisioned.tables.update(merchant.tables)
        for name, value in environment.items():
            patch.setenv(name, value)
        yield Stack(dynamodb=dynamodb, sqs=sqs,
                    orders_table=provisioned.tables["OrdersTable"],
                    ledger_table=provisioned.tables["LedgerTable"],
                    credit_queue_url=provisioned.queues["CreditQueue"],
                    dead_letter_queue_url=provisioned.queues["CreditDeadLetterQueue"],
                    environment=environment, tables=dict(provisioned.tables))


class Api:
    """`chalice.test.Client` with JSON conveniences; every request is signed with `credential`
    (tests/support/signing.py) unless `signed=False`."""

    def __init__(self, client, credential: SigningKey = PLATFORM):
        self.client = client
        self.http = SignedHttp(client.http, credential)

    def as_caller(self, credential: SigningKey) -> "Api":
        """The same client, signing as another caller."""
        return Api(self.client, credential)

    def post(self, path: str, body: Any, signed: bool = True):
        return self.http.post(path, headers=JSON, body=json.dumps(body, ensure_ascii=False),
                              signed=signed)

    def post_raw(self, path: str, raw: bytes, headers: Optional[dict] = None, signed: bool = True):
        return self.http.post(path, headers=JSON if headers is None else headers, body=raw,
                              signed=signed)

    def get(self, path: str, signed: bool = True):
        return self.http.get(path, signed=signed)

    def invoke(self, function: str):
        """Run a scheduled function the way EventBridge would."""
        event = self.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={},
            resources=[f"arn:aws:events:us-east-1:123456789012:rule/{function}"])
        return self.client.lambda_.invoke(function, event).payload


def body_of(response) -> Any:
    return json.loads(response.body)


class Recording:
    """A client wrapper that records every API call made through it, then makes it."""

    def __init__(self, client):
        self._client = client
        self.calls: List[str] = []

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name.startswith("_") or name in ("meta", "exceptions", "get_waiter", "get_paginator",
                                            "can_paginate") or not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            self.calls.append(name)
            return attribute(*args, **kwargs)
        return call


class FailingSend(Recording):
    """An SQS client whose SendMessage always fails (the order is written, the credit is not)."""

    def send_message(self, **kwargs):
        from botocore.exceptions import ClientError
        self.calls.append("send_message")
        raise ClientError({"Error": {"Code": "InternalError", "Message": "injected failure"}},
                          "SendMessage")


def assert_reentry_refused(response, request_id: str, different: str) -> None:
    """409, FAIL, code 1030, and a response_msg that begins with the contract's 请求重入参数校验失败,
    then names the request id and the parameters that differ."""
    assert response.status_code == 409
    answer = body_of(response)
    assert answer["response_code"] == "FAIL"
    assert answer["error_code"] == 1030
    assert answer["field"] == "request_id"
    assert answer["response_msg"] == (f"请求重入参数校验失败: request_id {request_id} was already "
                                      f"used with other parameters: {different}")
