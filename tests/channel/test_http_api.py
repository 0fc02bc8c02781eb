"""The simulator's HTTP surface: shapes, malformed bodies, the control API, reset."""
import pytest

from .conftest import create_body, order_body, return_body


def test_the_whole_walk_over_http(client):
    transaction_id = client.order(subsidy_limit=3000)
    body = create_body(transaction_id, amount=2332)
    created = client.create(body)
    assert created.status_code == 200
    assert set(created.json()) == {"sub_mchid", "transaction_id", "subsidy_id", "description",
                                   "amount", "result", "success_time"}
    returned = client.return_(return_body(transaction_id, amount=2332))
    assert set(returned.json()) == {"sub_mchid", "target_order_id", "transaction_id",
                                    "subsidy_refund_id", "refund_id", "out_order_no", "amount",
                                    "result", "success_time"}
    view = client.view(transaction_id)
    assert (view["subsidy"]["amount"], view["returned_amount"], view["subsidy_limit"]) == (2332, 2332, 3000)
    query = client.http.get(f"{client.url}/v3/ecommerce/subsidies/query",
                            params={"sub_mchid": body["sub_mchid"], "out_subsidy_no": body["out_subsidy_no"]})
    assert (query.status_code, query.json()) == (200, created.json())


def test_cancel_over_http(client):
    transaction_id = client.order()
    cancelled = client.cancel({"sub_mchid": "1692608207", "transaction_id": transaction_id,
                               "description": "取消"})
    assert cancelled.status_code == 200 and cancelled.json()["result"] == "SUCCESS"
    assert client.create(create_body(transaction_id)).json()["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize("raw, field", [(b"{not json", "body"), (b"[1, 2]", "body"), (b"", "body"),
                                        (b'{"amount": 1}', "sub_mchid"), (b"\xff\xfe", "body")])
def test_a_malformed_body_is_a_400_naming_the_field(client, raw, field):
    answer = client.http.post(f"{client.url}/v3/ecommerce/subsidies/create", data=raw,
                              headers={"Content-Type": "application/json"}, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["code"] == "PARAM_ERROR" and answer.json()["field"] == field
    assert [c["outcome"] for c in client.calls()] == ["REJECTED"]


def test_an_unknown_path_is_404(client):
    assert client.http.get(f"{client.url}/v3/nothing", timeout=5).status_code == 404
    assert client.http.get(f"{client.url}/_control/nothing", timeout=5).status_code == 404
    assert client.http.get(f"{client.url}/_control/orders/4200", timeout=5).json()["code"] == "ORDER_NOT_EXIST"


def test_a_bad_paid_order_is_refused_naming_the_field(client):
    answer = client.post("/_control/orders", order_body(amount="12.5"))
    assert (answer.status_code, answer.json()["field"]) == (400, "amount")


def test_the_paid_order_accepts_digit_strings(client):
    transaction_id = client.order(amount="10000", subsidy_limit="2000")
    assert (client.view(transaction_id)["amount"], client.view(transaction_id)["subsidy_limit"]) == (10000, 2000)


def test_the_call_log_over_http(client):
    transaction_id = client.order()
    body = create_body(transaction_id, amount=1200)
    client.create(body)
    client.create(dict(body, amount=1))
    calls = client.calls()
    assert [(c["seq"], c["operation"], c["outbound_no"], c["transaction_id"], c["amount"],
             c["fault"], c["outcome"], c["http_status"]) for c in calls] == [
        (1, "subsidies.create", body["out_subsidy_no"], transaction_id, 1200, None, "APPLIED", 200),
        (2, "subsidies.create", body["out_subsidy_no"], transaction_id, 1, None, "REJECTED", 400)]
    assert all(c["at"].endswith("+00:00") for c in calls)


def test_reset_clears_orders_subsidies_calls_and_faults(client):
    transaction_id = client.order()
    client.create(create_body(transaction_id))
    client.fault("subsidies.create", "reject", count=5)
    answer = client.post("/_control/reset", {})
    assert answer.status_code == 200
    assert client.calls() == []
    assert client.http.get(f"{client.url}/_control/faults").json() == {"faults": []}
    assert client.http.get(f"{client.url}/_control/orders/{transaction_id}").status_code == 404
    again = client.order()
    assert client.create(create_body(again)).status_code == 200  # no fault left over


def test_ids_stay_unique_across_reset(client):
    first = client.order()
    client.post("/_control/reset", {})
    assert client.order() != first
