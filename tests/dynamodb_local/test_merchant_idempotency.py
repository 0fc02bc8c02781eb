"""Merchant triggers racing with the same idempotency keys on DynamoDB Local: one order per key.

The payment API is a closed loopback port, so every send is lost (connection refused) and every
order stays UNKNOWN: the retries that find the key's order UNKNOWN re-send its stored message,
which is what a retry must do. What is checked is the merchant's own table. The repository writes through the merchant system's
models: they are bound to the per-test table on DynamoDB Local, and conflicts are injected and
calls observed on the models' own clients.
"""
import socket
import threading
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.data import binding
from chalicelib.dynamo import from_item
from chalicelib.errors import ErrorCode, PaySettleError
from merchantlib import service
from merchantlib.context import Merchant
from merchantlib.messages import MerchantPayRequest
from merchantlib.models import IdempotencyGuard, MerchantOrderItem
from merchantlib.orders import State
from merchantlib.payment_client import PaymentApi
from merchantlib.repository import MerchantOrders, key_guard
from infra.local_stack import MERCHANT_TEMPLATE
from infra.provision import load_template, provision
from tests.support.concurrency import ObservedClient
from tests.support.model_faults import ModelConflicts, observed_models

KEYS = 8
CALLERS_PER_KEY = 4
MODELS = (MerchantOrderItem, IdempotencyGuard)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _merchant_table(dynamodb, sqs) -> str:
    merchant = load_template(MERCHANT_TEMPLATE)
    template = {"Resources": {"MerchantOrdersTable": merchant["Resources"]["MerchantOrdersTable"]}}
    return provision(dynamodb, sqs, f"m{uuid.uuid4().hex[:10]}",
                     template=template).tables["MerchantOrdersTable"]


def _items(dynamodb, table):
    items, request = [], {"TableName": table, "ConsistentRead": True}
    while True:
        page = dynamodb.scan(**request)
        items += [from_item(item) for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# DynamoDB Local serializes transactions and never answers TransactionConflict: at 0.5, half
# the transactions are refused with it, as DynamoDB does under contention, so that the keyed
# insert's retries run.
@pytest.mark.parametrize("conflict_rate", [0.0, 0.5])
def test_concurrent_requests_sharing_keys_place_one_order_per_key(dynamodb, sqs, contention, request,
                                                                  conflict_rate, dynamodb_local_endpoint):
    table = _merchant_table(dynamodb, sqs)
    observed = ObservedClient(dynamodb)
    conflicts = ModelConflicts(rate=conflict_rate, seed=3)
    try:
        with binding.override({"MERCHANT_ORDERS_TABLE": table}, host=dynamodb_local_endpoint), \
                observed_models(observed, MODELS), conflicts.on(MODELS):
            merchant = Merchant(orders=MerchantOrders(),
                                payment=PaymentApi(f"http://127.0.0.1:{_closed_port()}", 1.0))
            callers = [(f"key-{index % KEYS}", index % KEYS + 1) for index in range(KEYS * CALLERS_PER_KEY)]
            start = threading.Barrier(len(callers))

            def call(caller):
                key, amount = caller
                start.wait(30)
                try:
                    return key, service.place(merchant, MerchantPayRequest(saler_id="saler1", total_fee=amount), key)
                except PaySettleError as refused:
                    return key, refused.code

            with ThreadPoolExecutor(len(callers)) as pool:
                outcomes = list(pool.map(call, callers))

            # The conflicts reach the transactions the models send (their own client).
            assert conflicts.injected > 0 or not conflict_rate
            items = _items(dynamodb, table)
            orders = {item["request_id"]: item for item in items if "kind" in item}
            guards = {item["request_id"]: item["order_request_id"] for item in items if "order_request_id" in item}
            assert len(orders) == KEYS and len(guards) == KEYS
            answered = defaultdict(set)
            for key, outcome in outcomes:
                if isinstance(outcome, ErrorCode):
                    # BUSY: conflicts outlasted the retries (nothing stored for that caller).
                    assert outcome in (ErrorCode.REENTRY_IN_PROGRESS, ErrorCode.BUSY), key
                    continue
                assert outcome.state is State.UNKNOWN and outcome.idempotency_key == key
                answered[key].add(outcome.request_id)
            for index in range(KEYS):
                key = f"key-{index}"
                request_id = guards[key_guard(key)]
                order = orders[request_id]
                assert (order["idempotency_key"], order["amount"]) == (key, index + 1)
                # Every caller that got an order got this one (the rest were told it is in progress).
                assert answered[key] <= {request_id}
            # The first caller of each key always gets its order back.
            assert set(answered) == {f"key-{index}" for index in range(KEYS)}
            told = {code: sum(1 for _, outcome in outcomes if outcome is code)
                    for code in (ErrorCode.REENTRY_IN_PROGRESS, ErrorCode.BUSY)}
            contention.note(request.node.name, f"of {len(callers)} callers, {told[ErrorCode.REENTRY_IN_PROGRESS]} "
                                               f"told in progress, {told[ErrorCode.BUSY]} busy")
    finally:
        contention.add_calls(request.node.name, observed)
        dynamodb.delete_table(TableName=table)
