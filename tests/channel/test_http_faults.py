"""Every fault kind over real HTTP, its count and its scoping to one operation."""
import threading
import time

import pytest
import requests

from .conftest import Client, create_body, return_body

HOLD_MS = 300


def _only_call(client) -> dict:
    calls = client.calls()
    assert len(calls) == 1, calls
    return calls[0]


def test_timeout_before_commit_holds_then_closes_and_applies_nothing(client):
    transaction_id = client.order()
    client.fault("subsidies.create", "timeout_before_commit", delay_ms=HOLD_MS)
    body = create_body(transaction_id)
    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        client.create(body)
    assert time.monotonic() - started >= HOLD_MS / 1000
    assert client.view(transaction_id)["subsidy"] is None
    call = _only_call(client)
    assert (call["fault"], call["outcome"], call["http_status"]) == \
        ("timeout_before_commit", "NOT_APPLIED", None)
    assert call["outbound_no"] == body["out_subsidy_no"]
    # The same request again is applied now (the number was never registered).
    assert client.create(body).status_code == 200
    assert client.calls()[-1]["outcome"] == "APPLIED"


def test_timeout_after_commit_applies_then_withholds_and_the_resend_replays(client):
    transaction_id = client.order()
    client.fault("subsidies.create", "timeout_after_commit", delay_ms=HOLD_MS)
    body = create_body(transaction_id)
    with pytest.raises(requests.ConnectionError):
        client.create(body)
    subsidy = client.view(transaction_id)["subsidy"]
    assert subsidy["amount"] == body["amount"] and subsidy["out_subsidy_no"] == body["out_subsidy_no"]
    resent = client.create(body)
    assert resent.status_code == 200 and resent.json()["subsidy_id"] == subsidy["subsidy_id"]
    assert resent.json()["success_time"] == subsidy["success_time"]
    assert [(c["fault"], c["outcome"], c["http_status"]) for c in client.calls()] == [
        ("timeout_after_commit", "APPLIED", None), (None, "REPLAYED", 200)]


def test_a_caller_that_gives_up_first_sees_a_read_timeout(client):
    transaction_id = client.order()
    client.fault("subsidies.create", "timeout_after_commit", delay_ms=2000)
    with pytest.raises(requests.ReadTimeout):
        client.create(create_body(transaction_id), timeout=0.3)
    assert client.view(transaction_id)["subsidy"] is not None


def test_system_error_is_a_json_500_and_applies_nothing(client):
    transaction_id = client.order()
    client.fault("subsidies.create", "system_error")
    answer = client.create(create_body(transaction_id))
    assert answer.status_code == 500
    assert answer.json() == {"code": "SYSTEM_ERROR", "message": "系统繁忙，请稍后再试"}
    assert client.view(transaction_id)["subsidy"] is None
    call = _only_call(client)
    assert (call["fault"], call["outcome"], call["http_status"]) == ("system_error", "NOT_APPLIED", 500)


def test_http_500_is_a_bare_500_and_applies_nothing(client):
    transaction_id = client.order()
    client.fault("subsidies.create", "http_500")
    answer = client.create(create_body(transaction_id))
    assert answer.status_code == 500
    with pytest.raises(ValueError):
        answer.json()
    assert client.view(transaction_id)["subsidy"] is None
    assert _only_call(client)["outcome"] == "NOT_APPLIED"


def test_reject_is_invalid_request_and_applies_nothing(client):
    transaction_id = client.order()
    client.fault("subsidies.create", "reject")
    body = create_body(transaction_id)
    answer = client.create(body)
    assert (answer.status_code, answer.json()) == (400, {"code": "INVALID_REQUEST",
                                                         "message": "对应的订单不能补差"})
    assert client.view(transaction_id)["subsidy"] is None
    assert _only_call(client)["http_status"] == 400
    assert client.create(body).status_code == 200  # nothing registered: a re-send is judged again


def test_slow_applies_and_answers_late(client):
    transaction_id = client.order()
    client.fault("subsidies.create", "slow", delay_ms=HOLD_MS)
    started = time.monotonic()
    answer = client.create(create_body(transaction_id))
    assert time.monotonic() - started >= HOLD_MS / 1000
    assert answer.status_code == 200 and answer.json()["result"] == "SUCCESS"
    call = _only_call(client)
    assert (call["fault"], call["outcome"], call["http_status"]) == ("slow", "APPLIED", 200)


def test_faults_on_returns(client):
    transaction_id = client.order()
    assert client.create(create_body(transaction_id, amount=2000)).status_code == 200
    client.fault("subsidies.return", "timeout_after_commit", delay_ms=HOLD_MS)
    client.fault("subsidies.return", "system_error")
    first = return_body(transaction_id, amount=1500)
    with pytest.raises(requests.ConnectionError):
        client.return_(first)
    assert client.view(transaction_id)["returned_amount"] == 1500
    second = return_body(transaction_id, amount=500)
    assert client.return_(second).status_code == 500
    assert client.view(transaction_id)["returned_amount"] == 1500
    replay = client.return_(first)
    assert replay.status_code == 200
    assert replay.json()["subsidy_refund_id"] == client.view(transaction_id)["returns"][0]["subsidy_refund_id"]


def test_count_faults_that_many_calls_then_none(client):
    transaction_id = client.order()
    client.fault("subsidies.create", "system_error", count=2)
    body = create_body(transaction_id)
    statuses = [client.create(body).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert client.http.get(f"{client.url}/_control/faults").json() == {"faults": []}


def test_faults_of_one_operation_never_touch_another(client):
    transaction_id = client.order()
    client.fault("subsidies.return", "system_error")
    client.fault("subsidies.cancel", "http_500")
    assert client.create(create_body(transaction_id)).status_code == 200
    pending = client.http.get(f"{client.url}/_control/faults").json()["faults"]
    assert pending == [
        {"operation": "subsidies.return", "fault": "system_error", "remaining": 1, "delay_ms": 3000},
        {"operation": "subsidies.cancel", "fault": "http_500", "remaining": 1, "delay_ms": 3000}]


def test_faults_of_one_operation_are_served_in_order(client):
    transaction_id = client.order()
    client.fault("subsidies.create", "system_error")
    client.fault("subsidies.create", "reject")
    body = create_body(transaction_id)
    answers = [client.create(body) for _ in range(3)]
    assert [a.status_code for a in answers] == [500, 400, 200]
    assert [c["fault"] for c in client.calls()] == ["system_error", "reject", None]


@pytest.mark.parametrize("body, field", [
    ({"operation": "subsidies.refund", "fault": "reject"}, "operation"),
    ({"operation": "subsidies.create", "fault": "explode"}, "fault"),
    ({"operation": "subsidies.create", "fault": "reject", "count": 0}, "count"),
    ({"operation": "subsidies.create", "fault": "slow", "delay_ms": -1}, "delay_ms"),
    ({"operation": "subsidies.create", "fault": "slow", "extra": 1}, "extra"),
    ([], "body"),
])
def test_a_bad_fault_is_refused_naming_the_field(client, body, field):
    answer = client.post("/_control/faults", body)
    assert answer.status_code == 400 and answer.json()["field"] == field
    assert client.http.get(f"{client.url}/_control/faults").json() == {"faults": []}


def test_stopping_releases_held_connections(simulator, http):
    client = Client(simulator.url, http)
    transaction_id = client.order()
    client.fault("subsidies.create", "timeout_before_commit", delay_ms=60_000)
    outcome = []

    def call():
        try:
            client.create(create_body(transaction_id), timeout=30)
        except requests.RequestException as error:
            outcome.append(type(error).__name__)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)
    started = time.monotonic()
    simulator.stop()
    caller.join(10)
    assert not caller.is_alive() and outcome and time.monotonic() - started < 10
