"""The HTTP API of accounts and trades: envelopes, idempotency (rule 11), bad input writes nothing,
every answer conforms to the OpenAPI document."""
import json

import pytest
from jsonschema import Draft202012Validator

from chalicelib import openapi
from chalicelib.payments import aggregator, service
from chalicelib.payments.messages import PayRequest
from tests.trades.support import new_trans_id
from tests.unit.support import body_of, pay_body

DOC = openapi.document()


def conforms(route: str, method: str, response) -> dict:
    operation = DOC["paths"][route][method.lower()]
    assert str(response.status_code) in operation["responses"], (route, response.status_code)
    schema = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
    body = json.loads(response.body)
    Draft202012Validator({**schema, "components": DOC["components"]}).validate(body)
    return body


def footprint(stack) -> dict:
    return {"ledger": stack.count(stack.ledger_table),
            "trades": stack.count(stack.environment["TRADES_TABLE"])}


def declare(api, account_id, kind="B", **more):
    return api.post("/accounts", {"account_id": account_id, "kind": kind, **more})


def trade_body(**overrides):
    body = {"trans_id": new_trans_id(), "buyer_id": "hbuyer", "seller_id": "hseller",
            "cash_amount": "10000", "settlement_type": "REALTIME", "payment_mode": "BALANCE",
            "fee_amount": 300, "fee_user_id": "hwallet"}
    body.update(overrides)
    return body


@pytest.fixture
def parties(stack, api):
    for account_id, kind in (("hbuyer", "B"), ("hseller", "B"), ("hwallet", "C"), ("hagent", "B")):
        assert declare(api, account_id, kind).status_code == 200
    ctx = stack.context()
    service.pay(ctx, PayRequest(**pay_body(saler_id="hbuyer", total_fee=50_000)))
    aggregator.run(ctx)


# -- Accounts -------------------------------------------------------------------------------------

def test_declaring_an_account_is_idempotent_on_account_id(stack, api):
    first = conforms("/accounts", "POST", declare(api, "w1", "C"))
    assert first == {"code": 0, "message": "success", "data": {
        "account_id": "w1", "kind": "C", "status": "NORMAL", "currency": "CNY"}}
    assert conforms("/accounts", "POST", declare(api, "w1", "C", status="NORMAL")) == first
    refused = declare(api, "w1", "B")
    answer = conforms("/accounts", "POST", refused)
    assert refused.status_code == 409
    assert answer["code"] == 1030
    assert (answer["error_name"], answer["field"]) == ("REENTRY_MISMATCH", "account_id")
    assert answer["message"] == ("请求重入参数校验失败: account_id w1 was already used with other "
                                 "parameters: kind (was C)")


def test_a_core_saler_account_keeps_its_view_and_is_adopted_as_a_b_account(stack, api):
    ctx = stack.context()
    service.pay(ctx, PayRequest(**pay_body(saler_id="oldsaler", total_fee=700)))
    aggregator.run(ctx)
    core_view = {"saler_id": "oldsaler", "balance": 700, "pending_credit_count": 0,
                 "pending_credit_amount": 0}
    assert body_of(api.get("/accounts/oldsaler")) == core_view
    assert declare(api, "oldsaler", "C").status_code == 409           # it is a B account
    assert body_of(api.get("/accounts/oldsaler")) == core_view
    assert declare(api, "oldsaler", "B").status_code == 200
    view = conforms("/accounts/{saler_id}", "GET", api.get("/accounts/oldsaler"))
    assert view == dict(core_view, account_id="oldsaler", kind="B", status="NORMAL", currency="CNY",
                        sub_accounts=[{"sub_account": 1, "balance": 700},
                                      {"sub_account": 3, "balance": 0}])


@pytest.mark.parametrize("body, field", [
    ({"kind": "B"}, "account_id"),
    ({"account_id": "x", "kind": "A"}, "kind"),
    ({"account_id": "x", "kind": "C", "status": "OPEN"}, "status"),
    ({"account_id": "x", "kind": "C", "currency": "USD"}, "currency"),
    ({"account_id": "x y", "kind": "C"}, "account_id"),
    ({"account_id": "x", "kind": "C", "balance": 5}, "balance"),
])
def test_bad_account_input_is_400_naming_the_field_and_writes_nothing(stack, api, body, field):
    before = footprint(stack)
    response = api.post("/accounts", body)
    answer = conforms("/accounts", "POST", response)
    assert response.status_code == 400
    assert answer["code"] == 1001 and answer["field"] == field
    assert field in answer["message"]
    assert footprint(stack) == before


# -- Trades ---------------------------------------------------------------------------------------

def test_record_and_read_a_trade(stack, api, parties):
    body = trade_body()
    answer = conforms("/trades", "POST", api.post("/trades", body))
    assert answer["data"]["state"] == "RECORDED"
    assert answer["data"]["trade"]["cash_amount"] == 10_000
    assert conforms("/trades", "POST", api.post("/trades", dict(body, cash_amount=10_000))) == answer
    other = api.post("/trades", dict(body, cash_amount="10001"))
    assert other.status_code == 409 and body_of(other)["code"] == 1030
    assert body_of(other)["message"] == (f"请求重入参数校验失败: trans_id {body['trans_id']} was already "
                                         "used with other parameters: cash_amount")
    read = conforms("/trades/{trans_id}", "GET", api.get(f"/trades/{body['trans_id']}"))
    assert read["data"] == answer["data"]


@pytest.mark.parametrize("change, field", [
    ({"trans_id": "2024030110150000000"}, "trans_id"),
    ({"trans_id": "20241301101500000001"}, "trans_id"),
    ({"cash_amount": 0}, "cash_amount"),
    ({"cash_amount": "1.5"}, "cash_amount"),
    ({"settlement_type": "LATER"}, "settlement_type"),
    ({"payment_mode": "CASH"}, "payment_mode"),
    ({"seller_id": "hbuyer"}, "seller_id"),
    ({"fee_amount": -1}, "fee_amount"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_trade_input_is_400_naming_the_field_and_writes_nothing(stack, api, parties, change, field):
    before = footprint(stack)
    response = api.post("/trades", trade_body(**change))
    answer = conforms("/trades", "POST", response)
    assert response.status_code == 400 and answer["code"] == 1001
    assert answer["field"] == field
    assert footprint(stack) == before


def test_pay_settles_and_replays_without_posting_twice(stack, api, parties):
    body = trade_body()
    api.post("/trades", body)
    path = f"/trades/{body['trans_id']}/pay"
    inputs = {"up_merchants": [{"user_id": "hagent", "level": 1}],
              "billing_solution": [{"user_id": "hagent", "amount": "0", "fee_amount": 200}]}
    answer = conforms(path.replace(body["trans_id"], "{trans_id}"), "POST", api.post(path, inputs))
    data = answer["data"]
    assert data["state"] == "SETTLED"
    assert sum(p["amount"] for p in data["postings"]) == 0
    balances = {a: body_of(api.get(f"/accounts/{a}"))["balance"] for a in ("hbuyer", "hseller", "hwallet", "hagent")}
    assert balances == {"hbuyer": 40_000, "hseller": 9_700, "hwallet": 200, "hagent": 100}
    ledger_items = stack.count(stack.ledger_table)
    # the same inputs (amounts as integers or strings alike) return the original settlement
    same = dict(inputs, billing_solution=[{"user_id": "hagent", "amount": 0, "fee_amount": "200"}])
    for _ in range(3):
        assert body_of(api.post(path, same)) == answer
    assert stack.count(stack.ledger_table) == ledger_items
    # other inputs are refused, nothing moves
    other = api.post(path, {})
    assert other.status_code == 409
    assert body_of(other)["code"] == 1030 and body_of(other)["field"] == "trans_id"
    assert body_of(other)["message"].startswith(f"请求重入参数校验失败: trans_id {body['trans_id']} was "
                                                "already used with other parameters: ")
    assert "billing_solution" in body_of(other)["message"]
    assert stack.count(stack.ledger_table) == ledger_items
    assert {a: body_of(api.get(f"/accounts/{a}"))["balance"] for a in balances} == balances


def test_a_rule_refusal_is_422_with_its_named_code(stack, api, parties):
    body = trade_body()
    api.post("/trades", body)
    before = footprint(stack)
    response = api.post(f"/trades/{body['trans_id']}/pay", {"fee_type": 1})
    answer = conforms("/trades/{trans_id}/pay", "POST", response)
    assert response.status_code == 422
    assert answer["code"] == 2101
    assert (answer["error_name"], answer["field"]) == ("FEE_FIELDS_NOT_TOGETHER", "fee_type")
    assert footprint(stack) == before


@pytest.mark.parametrize("trans_id, body, status, field", [
    ("20240301101500999999", {}, 404, "trans_id"),
    ("not-a-trans-id", {}, 400, "trans_id"),
    (None, {"billing_solution": [{"user_id": "hagent", "amount": 1.5}]}, 400, "billing_solution.0.amount"),
    (None, {"up_merchants": [{"user_id": "hagent", "level": 3}]}, 400, "up_merchants.0.level"),
    (None, {"fee_type": True, "fee_settlement_type": "ASYNC", "pay_mode": "BALANCE"}, 400, "fee_type"),
    (None, {"mkt_solution": {"total_amount": 5, "no_settlement_amount": 6}}, 400,
     "mkt_solution.no_settlement_amount"),
    (None, {"billing_solution": [{"user_id": "hagent", "amount": 1}, {"user_id": "hagent", "amount": 1}]},
     400, "billing_solution"),
])
def test_bad_pay_input_names_the_field_and_writes_nothing(stack, api, parties, trans_id, body, status, field):
    recorded = trade_body()
    api.post("/trades", recorded)
    before = footprint(stack)
    response = api.post(f"/trades/{trans_id or recorded['trans_id']}/pay", body)
    answer = conforms("/trades/{trans_id}/pay", "POST", response)
    assert response.status_code == status
    assert answer["field"] == field
    assert footprint(stack) == before


def test_an_empty_body_is_refused(stack, api, parties):
    recorded = trade_body()
    api.post("/trades", recorded)
    response = api.post_raw(f"/trades/{recorded['trans_id']}/pay", b"")
    assert response.status_code == 400 and body_of(response)["code"] == 1002


def test_the_journal_of_sub_account_3_through_the_api(stack, api, parties):
    body = trade_body(settlement_type="ASYNC", fee_amount=0)
    api.post("/trades", body)
    api.post(f"/trades/{body['trans_id']}/pay", {})
    assert api.invoke("trade_applier")["applied"] == 1
    page = conforms("/accounts/{saler_id}/journal", "GET",
                    api.get("/accounts/hseller/journal?sub_account=3"))
    assert page["sub_account"] == 3
    assert [(e["entry"], e["amount"]) for e in page["entries"]] == [
        (f"TRADE#{body['trans_id']}#TRADE", 10_000)]
    bad = api.get("/accounts/hseller/journal?sub_account=2")
    assert bad.status_code == 400 and body_of(bad)["field"] == "sub_account"


# -- The other pay_trans inputs through the route ---------------------------------------------------

def test_a_combined_payment_through_the_route(stack, api, parties):
    body = trade_body(channel_id="wx")
    api.post("/trades", body)
    path = f"/trades/{body['trans_id']}/pay"
    inputs = {"fee_type": 1, "fee_settlement_type": "REALTIME", "fee_amount_payer_flag": "BUYER",
              "pay_mode_var": [{"pay_mode": "BALANCE", "amount": "6000"},
                               {"pay_mode": "CHANNEL", "amount": 4300}],
              "is_refund_fee_amount_flag": True, "client_source_flag": "app"}
    answer = conforms("/trades/{trans_id}/pay", "POST", api.post(path, inputs))
    settlement = answer["data"]["settlement"]
    assert settlement["pay_mode_var"] == [{"pay_mode": "BALANCE", "amount": 6000},
                                          {"pay_mode": "CHANNEL", "amount": 4300}]
    assert (settlement["fee_amount_payer_flag"], settlement["is_refund_fee_amount_flag"],
            settlement["client_source_flag"]) == ("BUYER", True, "app")
    assert {(p["account_id"], p["amount"]) for p in answer["data"]["postings"] if p["leg"] == "PAY"} == {
        ("hbuyer", -6000), ("@channel:wx", -4300)}
    balances = {a: body_of(api.get(f"/accounts/{a}"))["balance"] for a in ("hbuyer", "hseller", "hwallet")}
    assert balances == {"hbuyer": 44_000, "hseller": 10_000, "hwallet": 300}
    read = conforms("/trades/{trans_id}", "GET", api.get(f"/trades/{body['trans_id']}"))
    assert read["data"]["settlement"] == settlement


@pytest.mark.parametrize("inputs, status, code, field", [
    ({"special_code": "S1"}, 422, 2129, "special_code"),
    ({"recv_recvable_id": "recv-1"}, 422, 2127, "recv_recvable_id"),
    ({"parallel_type": "MULTIPLE_IN"}, 422, 2130, "parallel_type"),
    ({"need_share_profit": True}, 422, 2125, "need_share_profit"),
    ({"fee_type": 1, "fee_settlement_type": "REALTIME",
      "pay_mode_var": [{"pay_mode": "BALANCE", "amount": 10_001}]}, 422, 2124, "pay_mode_var"),
    ({"is_refund_fee_amount_flag": "yes"}, 400, 1001, "is_refund_fee_amount_flag"),
    ({"fee_amount_payer_flag": "PLATFORM"}, 400, 1001, "fee_amount_payer_flag"),
    ({"pay_mode_var": []}, 400, 1001, "pay_mode_var"),
    ({"credit_recv": {"credit_recv_id": "a b"}}, 400, 1001, "credit_recv.credit_recv_id"),
])
def test_a_refused_pay_trans_input_is_named_and_writes_nothing(stack, api, parties, inputs, status,
                                                               code, field):
    recorded = trade_body()
    api.post("/trades", recorded)
    before = footprint(stack)
    response = api.post(f"/trades/{recorded['trans_id']}/pay", inputs)
    answer = conforms("/trades/{trans_id}/pay", "POST", response)
    assert (response.status_code, answer["code"], answer["field"]) == (status, code, field)
    assert field in answer["message"]
    assert footprint(stack) == before
    assert body_of(api.get(f"/trades/{recorded['trans_id']}"))["data"]["state"] == "RECORDED"
