"""The merchant system end to end: the stack as `make serve` starts it, the merchant calling the
payment API over HTTP through the payment link, whose faults lose answers for real."""
import pytest

from .support import new_saler

pytestmark = pytest.mark.e2e


@pytest.fixture
def link(stack):
    """The payment link's control API; faults are switched off again after each test."""
    url = stack.manifest["payment_link_url"]

    def control(name, body=None):
        if name == "status":
            return stack.http.get(f"{url}/_control/faults", timeout=10).json()
        answer = stack.http.post(f"{url}/_control/{name}", json=body or {}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    control("reset")
    yield control
    control("reset")


def merchant_pay(stack, saler, amount):
    answer = stack.http.post(f"{stack.merchant_api}/merchant/pay", json={"saler_id": saler, "total_fee": amount},
                             timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def merchant_order(stack, request_id):
    answer = stack.http.get(f"{stack.merchant_api}/merchant/orders/{request_id}", timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def payment_order(stack, request_id):
    answer = stack.http.get(f"{stack.api}/orders/pay/{request_id}", timeout=30)
    return answer.json() if answer.status_code == 200 else None


def test_a_merchant_pay_goes_through_the_link_and_is_credited(stack, link):
    saler = new_saler()
    order = merchant_pay(stack, saler, "120")
    assert order["state"] == "SUCCESS"
    assert payment_order(stack, order["request_id"])["response_id"] == order["response_id"]
    assert link("status")["counters"]["forwarded"] == 1
    stack.wait_for_balance(saler, 120)


def test_timeout_after_commit_then_resolution_finds_the_original_answer(stack, link):
    saler = new_saler()
    link("faults", {"timeout_after_commit": 1.0, "seed": 11})
    order = merchant_pay(stack, saler, "75")
    assert (order["state"], order["response_id"]) == ("UNKNOWN", None)
    assert link("status")["counters"]["timeout_after_commit"] == 1
    committed = payment_order(stack, order["request_id"])
    assert committed is not None, "the payment side recorded the pay"

    link("reset")
    resolved = merchant_order(stack, order["request_id"])
    assert resolved["state"] == "SUCCESS"
    assert resolved["response_id"] == committed["response_id"]
    assert resolved["response_time"] == committed["response_time"]
    assert resolved["attempts"] == 2
    stack.wait_for_balance(saler, 75)                   # credited once


def test_timeout_before_commit_then_resolution_records_it_once(stack, link):
    saler = new_saler()
    link("faults", {"timeout_before_commit": 1.0, "seed": 12})
    order = merchant_pay(stack, saler, "33")
    assert order["state"] == "UNKNOWN"
    assert link("status")["counters"] == {"forwarded": 0, "caller_gone": 0,
                                          "timeout_after_commit": 0, "timeout_before_commit": 1}
    assert payment_order(stack, order["request_id"]) is None

    link("reset")
    resolved = merchant_order(stack, order["request_id"])
    assert resolved["state"] == "SUCCESS"
    recorded = payment_order(stack, order["request_id"])
    assert recorded["response_id"] == resolved["response_id"]
    assert merchant_order(stack, order["request_id"]) == resolved     # final: no more sends
    assert link("status")["counters"]["forwarded"] == 1
    stack.wait_for_balance(saler, 33)


def test_a_caller_retrying_with_its_idempotency_key_after_a_lost_answer_pays_once(stack, link):
    saler, key = new_saler(), f"e2e-{new_saler()}"
    body = {"saler_id": saler, "total_fee": "64"}
    link("faults", {"timeout_after_commit": 1.0, "seed": 13})
    lost = stack.http.post(f"{stack.merchant_api}/merchant/pay", json=body, headers={"Idempotency-Key": key},
                           timeout=30).json()
    assert lost["state"] == "UNKNOWN"

    link("reset")
    retried = stack.http.post(f"{stack.merchant_api}/merchant/pay", json=body, headers={"Idempotency-Key": key},
                              timeout=30)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["request_id"], retried.json()["state"]) == (lost["request_id"], "SUCCESS")
    other = stack.http.post(f"{stack.merchant_api}/merchant/pay", json=dict(body, total_fee="65"),
                            headers={"Idempotency-Key": key}, timeout=30)
    assert (other.status_code, other.json()["error_code"]) == (409, 1030)
    assert other.json()["response_msg"].startswith(f"请求重入参数校验失败: Idempotency-Key {key} ")
    stack.wait_for_balance(saler, 64)                   # credited once


def test_bad_merchant_input_is_refused_naming_the_field(stack, link):
    answer = stack.http.post(f"{stack.merchant_api}/merchant/withdraw",
                             json={"saler_id": "s1", "withdraw_money": "1e3"}, timeout=30)
    assert answer.status_code == 400
    assert (answer.json()["error_code"], answer.json()["field"]) == (1001, "withdraw_money")
    assert link("status")["counters"]["forwarded"] == 0


def test_the_pump_runs_the_merchant_resolver_with_its_own_environment(stack):
    """Locally it waits MERCHANT_RESOLVE_AFTER_SECONDS = 300 before re-sending (so `make run`'s
    lost orders reach the export as F113); here: it runs, and finds its table and the link."""
    from .support import wait_until

    wait_until(lambda: '"event":"merchant_resolver.run"' in stack.log_text(), 20,
               "the pump ran merchant_resolver")
    failures = [line for line in stack.log_text().splitlines()
                if "pump.handler_failed" in line and "merchant_resolver" in line]
    assert failures == []
