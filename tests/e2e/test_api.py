"""The HTTP API over real HTTP, on the stack `make serve` starts."""
import pytest

from .support import new_request_id, new_saler, request_time

pytestmark = pytest.mark.e2e

INSUFFICIENT_BALANCE = "账户余额不足，提款失败"


def test_a_pay_becomes_balance_after_the_aggregator_runs(stack):
    saler = new_saler()
    answer = stack.pay(saler, "1234")

    assert answer.status_code == 200
    body = answer.json()
    assert body["response_code"] == "SUCCESS"
    assert body["total_fee"] == "1234"
    assert len(body["response_id"]) == 20 and body["response_id"].isdigit()
    # Pay does not touch the balance: until the aggregator runs the credit is pending.
    account = stack.account(saler)
    assert account["balance"] + account["pending_credit_amount"] == 1234
    stack.wait_for_balance(saler, 1234)
    assert [e["amount"] for e in stack.journal(saler)] == [1234]


def test_withdraw_succeeds_within_the_balance_and_fails_beyond_it(stack):
    saler = new_saler()
    assert stack.pay(saler, 1000).json()["response_code"] == "SUCCESS"
    stack.wait_for_balance(saler, 1000)

    ok = stack.withdraw(saler, "400")
    assert ok.status_code == 200
    assert ok.json()["response_code"] == "SUCCESS"
    assert ok.json()["withdraw_money"] == "400"

    refused_id = new_request_id()
    refused = stack.withdraw(saler, "601", request_id=refused_id)
    assert refused.status_code == 200
    assert refused.json()["response_code"] == "FAIL"
    assert refused.json()["response_msg"] == INSUFFICIENT_BALANCE

    assert stack.account(saler)["balance"] == 600
    assert sum(e["amount"] for e in stack.journal(saler)) == 600
    # The refusal is recorded too, with the same answer.
    recorded = stack.http.get(f"{stack.api}/orders/withdraw/{refused_id}").json()
    assert recorded["response_code"] == "FAIL"
    assert recorded["response_id"] == refused.json()["response_id"]


def test_a_replay_returns_the_original_answer_and_moves_no_money(stack):
    saler = new_saler()
    request_id, when = new_request_id(), request_time()
    first = stack.pay(saler, "500", request_id=request_id, when=when).json()
    again = stack.pay(saler, "500", request_id=request_id, when=when).json()

    assert again["response_id"] == first["response_id"]
    assert again["response_code"] == first["response_code"] == "SUCCESS"
    stack.wait_for_balance(saler, 500)

    withdraw_id = new_request_id()
    taken = stack.withdraw(saler, "200", request_id=withdraw_id, when=when).json()
    retaken = stack.withdraw(saler, "200", request_id=withdraw_id, when=when).json()
    assert retaken["response_id"] == taken["response_id"]
    assert stack.account(saler)["balance"] == 300
    assert sorted(e["amount"] for e in stack.journal(saler)) == [-200, 500]


def test_the_same_request_id_with_another_amount_is_refused_with_409(stack):
    saler = new_saler()
    request_id, when = new_request_id(), request_time()
    original = stack.pay(saler, "700", request_id=request_id, when=when).json()

    conflict = stack.pay(saler, "701", request_id=request_id, when=when)

    assert conflict.status_code == 409
    assert (conflict.json()["response_code"], conflict.json()["error_code"]) == ("FAIL", 1030)
    assert conflict.json()["response_msg"] == (f"请求重入参数校验失败: request_id {request_id} was "
                                               "already used with other parameters: total_fee")
    stored = stack.http.get(f"{stack.api}/orders/pay/{request_id}").json()
    assert stored["total_fee"] == "700"
    assert stored["response_id"] == original["response_id"]
    stack.wait_for_balance(saler, 700)
    # A request id names one order: a withdraw under the pay's request id is refused, nothing moves.
    other_kind = stack.withdraw(saler, "100", request_id=request_id, when=when)
    assert (other_kind.status_code, other_kind.json()["error_code"]) == (409, 1030)
    assert other_kind.json()["response_msg"].endswith("other parameters: kind (was PAY)")
    assert stack.http.get(f"{stack.api}/orders/withdraw/{request_id}").status_code == 404
    assert stack.account(saler)["balance"] == 700


@pytest.mark.parametrize("body, field", [
    (b'{"request_time": "2024-01-01 00:00:00", "request_id": ', "body"),
    (b"not json at all", "body"),
    (b'{"request_time": "2024-01-01 00:00:00", "request_id": "%s", '
     b'"saler_id": "s", "total_fee": "-5"}', "total_fee"),
    (b'{"request_time": "2024-01-01 00:00:00", "request_id": "%s", '
     b'"saler_id": "s", "total_fee": "5", "extra": 1}', "extra"),
])
def test_malformed_input_gets_400_naming_the_field_and_writes_nothing(stack, body, field):
    request_id = new_request_id()
    raw = body.replace(b"%s", request_id.encode())

    answer = stack.http.post(f"{stack.api}/pay", data=raw,
                             headers={"Content-Type": "application/json"})

    assert answer.status_code == 400
    assert answer.json()["response_code"] == "FAIL"
    assert answer.json()["field"] == field
    assert field in answer.json()["response_msg"]
    assert stack.http.get(f"{stack.api}/orders/pay/{request_id}").status_code == 404


def test_orders_can_be_read_back_and_unknown_ones_are_404(stack):
    saler = new_saler()
    request_id = new_request_id()
    paid = stack.pay(saler, "88", request_id=request_id).json()

    found = stack.http.get(f"{stack.api}/orders/pay/{request_id}")
    assert found.status_code == 200
    assert found.json() == paid

    unknown = new_request_id()
    assert stack.http.get(f"{stack.api}/orders/pay/{unknown}").status_code == 404
    assert stack.http.get(f"{stack.api}/orders/withdraw/{unknown}").status_code == 404
    # A pay's id is not a withdraw's.
    assert stack.http.get(f"{stack.api}/orders/withdraw/{request_id}").status_code == 404


def test_the_journal_pages_one_entry_at_a_time_with_a_cursor(stack):
    saler = new_saler()
    for amount in (10, 20, 30):
        assert stack.pay(saler, amount).json()["response_code"] == "SUCCESS"
    stack.wait_for_balance(saler, 60)
    assert stack.withdraw(saler, 5).json()["response_code"] == "SUCCESS"

    pages, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = stack.http.get(f"{stack.api}/accounts/{saler}/journal", params=params).json()
        assert len(page["entries"]) <= 1
        pages.append(page["entries"])
        cursor = page["next_cursor"]
        if not cursor:
            break
        assert len(pages) <= 10, "the cursor does not advance"

    entries = [e for page in pages for e in page]
    assert len({e["entry"] for e in entries}) == 4
    assert sorted(e["amount"] for e in entries) == [-5, 10, 20, 30]
    assert sum(e["amount"] for e in entries) == stack.account(saler)["balance"] == 55
    bad = stack.http.get(f"{stack.api}/accounts/{saler}/journal", params={"cursor": "garbage"})
    assert bad.status_code == 400
