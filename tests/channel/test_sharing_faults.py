"""Every fault kind on every profit-sharing operation, over real HTTP: what is applied, what
is answered, what the call log says, and that the re-send afterwards moves money once."""
import time
from dataclasses import dataclass
from typing import Callable

import pytest
import requests

from .conftest import receiver, share_body, sharing_return_body, unfreeze_body

HOLD_MS = 250


@dataclass
class Scenario:
    """One operation: the request to send and how to count what it moved."""
    body: dict
    send: Callable[[dict, float], requests.Response]
    moved: Callable[[], int]       # movements on the channel so far (0 or 1 for one request)
    query: bool = False            # a query moves nothing: "applied" means answered


def _orders(client) -> Scenario:
    transaction_id = client.order(processing_ms=0)
    return Scenario(share_body(transaction_id, [receiver("A", 700)]), client.share,
                    lambda: len(client.view(transaction_id)["sharing"]))


def _shared(client):
    transaction_id = client.order(processing_ms=0)
    body = share_body(transaction_id, [receiver("A", 700)])
    assert client.share(body).json()["state"] == "FINISHED"
    return transaction_id, body


def _query(client) -> Scenario:
    transaction_id, body = _shared(client)
    return Scenario(body, lambda b, timeout: client.query_sharing(b, timeout),
                    lambda: len(client.view(transaction_id)["sharing"]) - 1, query=True)


def _unfreeze(client) -> Scenario:
    transaction_id = client.order()
    return Scenario(unfreeze_body(transaction_id), client.unfreeze,
                    lambda: int(client.view(transaction_id)["unfrozen"]))


def _returns(client) -> Scenario:
    transaction_id, body = _shared(client)
    return Scenario(sharing_return_body(body["out_order_no"], "A", 300), client.return_sharing,
                    lambda: len(client.view(transaction_id)["sharing_returns"]))


def _return_query(client) -> Scenario:
    transaction_id, body = _shared(client)
    back = sharing_return_body(body["out_order_no"], "A", 300)
    assert client.return_sharing(back).status_code == 200
    return Scenario(back, lambda b, timeout: client.query_return(b, timeout),
                    lambda: len(client.view(transaction_id)["sharing_returns"]) - 1, query=True)


SCENARIOS = {"profitsharing.orders": _orders, "profitsharing.query": _query,
             "profitsharing.unfreeze": _unfreeze, "profitsharing.return-orders": _returns,
             "profitsharing.return-query": _return_query}
OPERATIONS = list(SCENARIOS)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_timeout_before_commit_applies_nothing_and_the_resend_applies(client, operation):
    scenario = SCENARIOS[operation](client)
    client.fault(operation, "timeout_before_commit", delay_ms=HOLD_MS)
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        scenario.send(scenario.body, 5)
    assert time.monotonic() - started >= HOLD_MS / 1000
    assert scenario.moved() == 0
    call = [c for c in client.calls() if c["operation"] == operation][-1]
    assert (call["fault"], call["outcome"], call["http_status"]) == \
        ("timeout_before_commit", "NOT_APPLIED", None)
    assert call["outbound_no"] is not None
    assert scenario.send(scenario.body, 5).status_code == 200
    assert scenario.moved() == (0 if scenario.query else 1)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_timeout_after_commit_applies_and_the_resend_replays_the_same_ids(client, operation):
    scenario = SCENARIOS[operation](client)
    client.fault(operation, "timeout_after_commit", delay_ms=HOLD_MS)
    with pytest.raises(requests.ConnectionError):
        scenario.send(scenario.body, 5)
    assert scenario.moved() == (0 if scenario.query else 1)
    resent = scenario.send(scenario.body, 5)
    assert resent.status_code == 200
    assert scenario.moved() == (0 if scenario.query else 1)  # no second movement
    calls = [c for c in client.calls() if c["operation"] == operation]
    assert [(c["fault"], c["outcome"], c["http_status"]) for c in calls[-2:]] == [
        ("timeout_after_commit", "REPLAYED" if scenario.query else "APPLIED", None),
        (None, "REPLAYED", 200)]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_system_error_is_a_json_500_and_applies_nothing(client, operation):
    scenario = SCENARIOS[operation](client)
    client.fault(operation, "system_error")
    answer = scenario.send(scenario.body, 5)
    assert (answer.status_code, answer.json()) == (500, {"code": "SYSTEM_ERROR", "message": "系统繁忙，请稍后再试"})
    assert scenario.moved() == 0
    call = [c for c in client.calls() if c["operation"] == operation][-1]
    assert (call["fault"], call["outcome"], call["http_status"]) == ("system_error", "NOT_APPLIED", 500)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_http_500_is_a_bare_500_and_applies_nothing(client, operation):
    scenario = SCENARIOS[operation](client)
    client.fault(operation, "http_500")
    answer = scenario.send(scenario.body, 5)
    assert answer.status_code == 500 and answer.headers["Content-Type"] == "text/html"
    with pytest.raises(ValueError):
        answer.json()
    assert scenario.moved() == 0
    assert [c for c in client.calls() if c["operation"] == operation][-1]["outcome"] == "NOT_APPLIED"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_reject_is_invalid_request_applies_nothing_and_registers_no_number(client, operation):
    scenario = SCENARIOS[operation](client)
    client.fault(operation, "reject")
    answer = scenario.send(scenario.body, 5)
    assert (answer.status_code, answer.json()["code"]) == (400, "INVALID_REQUEST")
    assert scenario.moved() == 0
    assert [c for c in client.calls() if c["operation"] == operation][-1]["http_status"] == 400
    again = scenario.send(scenario.body, 5)
    assert again.status_code == 200
    assert [c for c in client.calls() if c["operation"] == operation][-1]["outcome"] == \
        ("REPLAYED" if scenario.query else "APPLIED")


@pytest.mark.parametrize("operation", OPERATIONS)
def test_slow_applies_and_answers_late(client, operation):
    scenario = SCENARIOS[operation](client)
    client.fault(operation, "slow", delay_ms=HOLD_MS)
    started = time.monotonic()
    answer = scenario.send(scenario.body, 5)
    assert time.monotonic() - started >= HOLD_MS / 1000
    assert answer.status_code == 200
    assert scenario.moved() == (0 if scenario.query else 1)
    call = [c for c in client.calls() if c["operation"] == operation][-1]
    assert (call["fault"], call["outcome"], call["http_status"]) == \
        ("slow", "REPLAYED" if scenario.query else "APPLIED", 200)


def test_sharing_faults_never_touch_the_subsidies_or_each_other(client):
    client.fault("profitsharing.orders", "system_error")
    transaction_id = client.order(processing_ms=0)
    body = share_body(transaction_id, [receiver("A", 10)])
    client.fault("profitsharing.return-orders", "http_500")
    assert client.share(body).status_code == 500
    assert client.share(body).status_code == 200
    assert client.query_sharing(body).status_code == 200
    pending = client.http.get(f"{client.url}/_control/faults").json()["faults"]
    assert [(f["operation"], f["fault"]) for f in pending] == [("profitsharing.return-orders", "http_500")]
