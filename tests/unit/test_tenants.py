"""Tenants through the HTTP API (moto in-process): the caller's key names the tenant; two tenants
share saler ids, request ids, account ids and trade ids without seeing, blocking or moving each
other's records; every read of another tenant's record answers exactly like a missing one."""
import json

import pytest

from chalicelib.payments.trades import applier
from chalicelib.payments.trades.context import Trades
from chalicelib.recon.store import BatchStore
from tests.support.signing import NO_TENANT, TENANT_A, TENANT_B
from tests.unit.support import body_of, pay_body, withdraw_body


@pytest.fixture
def a(api):
    return api.as_caller(TENANT_A)


@pytest.fixture
def b(api):
    return api.as_caller(TENANT_B)


def _answer(response):
    """Status and body, without the moment of the answer (the only part that may differ)."""
    body = body_of(response)
    if isinstance(body, dict):
        body.pop("response_time", None)
    return response.status_code, body


def _trade(trans_id, **overrides):
    body = {"trans_id": trans_id, "buyer_id": "buyer", "seller_id": "seller",
            "cash_amount": "1000", "settlement_type": "ASYNC", "payment_mode": "BALANCE",
            "fee_amount": 0}
    body.update(overrides)
    return body


def _fund(api, account_id, amount):
    assert body_of(api.post("/pay", pay_body(saler_id=account_id, total_fee=amount)))[
        "response_code"] == "SUCCESS"


# -- writes: the same ids in two tenants ---------------------------------------------------------

def test_the_same_request_id_and_saler_in_two_tenants_are_two_orders(stack, api, a, b):
    request_id = "20240301101500000001"
    first = a.post("/pay", pay_body(saler_id="s1", total_fee=500, request_id=request_id))
    # Other parameters under the same request id: in its own tenant it is new, not a 409.
    second = b.post("/pay", pay_body(saler_id="s1", total_fee=70, request_id=request_id))
    assert (first.status_code, second.status_code) == (200, 200)
    mine, theirs = body_of(first), body_of(second)
    assert (mine["total_fee"], theirs["total_fee"]) == ("500", "70")
    assert mine["response_id"] != theirs["response_id"]           # response ids stay global
    # Each replay answers its own tenant's original; a changed replay is refused in its tenant.
    assert body_of(b.post("/pay", pay_body(saler_id="s1", total_fee=70,
                                           request_id=request_id))) == theirs
    assert a.post("/pay", pay_body(saler_id="s1", total_fee=70,
                                   request_id=request_id)).status_code == 409
    api.invoke("aggregator")
    assert body_of(a.get("/accounts/s1"))["balance"] == 500
    assert body_of(b.get("/accounts/s1"))["balance"] == 70
    withdrawn = b.post("/withdraw", withdraw_body(saler_id="s1", withdraw_money=100,
                                                  request_id="20240301101600000001"))
    assert body_of(withdrawn)["response_code"] == "FAIL"          # 70 < 100: a's 500 is not b's
    assert body_of(a.get("/accounts/s1"))["balance"] == 500
    assert body_of(a.get(f"/orders/pay/{request_id}")) == mine
    assert body_of(b.get(f"/orders/pay/{request_id}")) == theirs


def test_within_its_tenant_a_key_without_scopes_may_name_any_saler_and_account(stack, api, a):
    for saler in ("anyone", "B-77", "x.y_z"):
        assert a.post("/pay", pay_body(saler_id=saler)).status_code == 200
    assert a.post("/accounts", {"account_id": "whatever", "kind": "C"}).status_code == 200


def test_a_key_of_no_tenant_may_not_read_or_write_a_tenants_records(stack, api, a):
    request_id = body_of(a.post("/pay", pay_body(saler_id="s1")))["request_id"]
    other = api.as_caller(NO_TENANT)
    for path in (f"/orders/pay/{request_id}", "/accounts/s1", "/accounts/s1/journal",
                 "/trades/20240301101500000009", "/recon/b1"):
        refused = other.get(path)
        assert refused.status_code == 403, path
        assert body_of(refused)["error_code" if "trades" not in path else "code"] == 4031


# -- reads: another tenant's record is a missing one ---------------------------------------------

def test_another_tenants_orders_answer_exactly_like_missing_ones(stack, api, a, b):
    pay_id, withdraw_id = "20240301101500000002", "20240301101600000002"
    paths = [f"/orders/pay/{pay_id}", f"/orders/withdraw/{withdraw_id}"]
    missing = [_answer(b.get(path)) for path in paths]
    assert [status for status, _ in missing] == [404, 404]
    a.post("/pay", pay_body(saler_id="s1", total_fee=100, request_id=pay_id))
    a.post("/withdraw", withdraw_body(saler_id="s1", withdraw_money=10, request_id=withdraw_id))
    assert [a.get(path).status_code for path in paths] == [200, 200]
    assert [_answer(b.get(path)) for path in paths] == missing


def test_another_tenants_account_and_journal_answer_exactly_like_missing_ones(stack, api, a, b):
    paths = ["/accounts/shared", "/accounts/shared/journal", "/accounts/shared/journal?sub_account=3"]
    missing = [_answer(b.get(path)) for path in paths]
    assert [status for status, _ in missing] == [404, 200, 200]
    assert missing[1][1]["entries"] == []
    _fund(a, "shared", 900)
    api.invoke("aggregator")
    assert body_of(a.get("/accounts/shared"))["balance"] == 900
    assert len(body_of(a.get("/accounts/shared/journal"))["entries"]) == 1
    assert [_answer(b.get(path)) for path in paths] == missing


def test_another_tenants_trade_answers_exactly_like_a_missing_one(stack, api, a, b):
    trans_id = "20240301101500000003"
    reads = [("GET", f"/trades/{trans_id}", None), ("POST", f"/trades/{trans_id}/pay", {})]

    def call(caller, method, path, body):
        return caller.get(path) if method == "GET" else caller.post(path, body)

    missing = [_answer(call(b, *read)) for read in reads]
    assert [status for status, _ in missing] == [404, 404]
    for account_id, kind in (("buyer", "B"), ("seller", "B")):
        assert a.post("/accounts", {"account_id": account_id, "kind": kind}).status_code == 200
    _fund(a, "buyer", 5000)
    api.invoke("aggregator")
    assert a.post("/trades", _trade(trans_id)).status_code == 200
    assert [_answer(call(b, *read)) for read in reads] == missing     # b cannot see nor pay it
    paid = a.post(f"/trades/{trans_id}/pay", {})
    assert paid.status_code == 200, paid.body
    assert [_answer(call(b, *read)) for read in reads] == missing
    assert body_of(a.get(f"/trades/{trans_id}"))["data"]["state"] == "SETTLING"


def test_another_tenants_recon_batch_answers_exactly_like_a_missing_one(stack, api, a, b):
    store = BatchStore()
    missing = _answer(b.get("/recon/20240301"))
    assert missing[0] == 404
    store.mark_pending("tenant-a/20240301", "payment", "2024-03-01T00:00:00Z")
    mine = a.get("/recon/20240301")
    assert mine.status_code == 200
    assert body_of(mine) == {"tenant": "tenant-a", "batch": "20240301", "status": "PENDING",
                             "waiting_for": "payment", "updated_at": "2024-03-01T00:00:00Z"}
    assert _answer(b.get("/recon/20240301")) == missing
    assert api.get("/recon/20240301", signed=False).status_code == 401


# -- the scheduled trade applier works across every tenant ---------------------------------------

def test_one_applier_run_settles_the_async_trades_of_every_tenant(stack, api, a, b):
    trans_id = "20240301101500000004"          # the same trade id in both tenants
    for caller, cash in ((a, 1000), (b, 300)):
        for account_id, kind in (("buyer", "B"), ("seller", "B")):
            assert caller.post("/accounts", {"account_id": account_id, "kind": kind}).status_code == 200
        _fund(caller, "buyer", 5000)
    api.invoke("aggregator")
    for caller, cash in ((a, 1000), (b, 300)):
        assert caller.post("/trades", _trade(trans_id, cash_amount=str(cash))).status_code == 200
        assert caller.post(f"/trades/{trans_id}/pay", {}).status_code == 200

    context = Trades(tenant=None, sleep=lambda seconds: None)
    report = applier.run(context)
    assert (report.trades, report.applied) == (2, 2)

    for caller, cash in ((a, 1000), (b, 300)):
        assert body_of(caller.get(f"/trades/{trans_id}"))["data"]["state"] == "SETTLED"
        seller = body_of(caller.get("/accounts/seller"))
        assert {s["sub_account"]: s["balance"] for s in seller["sub_accounts"]} == {1: 0, 3: cash}
        assert body_of(caller.get("/accounts/buyer"))["balance"] == 5000 - cash
    assert json.loads(json.dumps(applier.run(context).as_dict()))["applied"] == 0
