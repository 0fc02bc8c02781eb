"""The merchant's HTTP API through the app (`chalice.test.Client`, stage `local`), calling the
payment API over real HTTP through the payment link."""
import json

import pytest

import app as paysettle
from infra.payment_link import PaymentLink
from tests.unit.merchant.support import PaymentApiServer, committed_order, merchant_items, payment_orders
from tests.unit.support import JSON, body_of

VIEW_KEYS = {"request_id", "request_time", "kind", "saler_id", "state", "response_id",
             "response_time", "response_code", "response_msg", "attempts", "idempotency_key"}
# The local stage's MERCHANT_PAYMENT_TIMEOUT_SECONDS is 2: a faulted call is held longer.
LOCAL_HOLD_SECONDS = 2.5


@pytest.fixture
def routed_link(payment_api, monkeypatch):
    with PaymentLink(payment_api.url, LOCAL_HOLD_SECONDS) as running:
        monkeypatch.setenv("PAYMENT_API_URL", running.url)
        yield running


@pytest.fixture(scope="module")
def shared_link(shared_stack):
    """One payment API and link for the bad-input cases, which must store and send nothing."""
    with PaymentApiServer(paysettle.app) as server, \
            PaymentLink(server.url, LOCAL_HOLD_SECONDS) as running, \
            pytest.MonkeyPatch.context() as patch:
        patch.setenv("PAYMENT_API_URL", running.url)
        yield running


def test_a_merchant_pay_answers_the_order_view(stack, api, routed_link):
    response = api.post("/merchant/pay", {"saler_id": "saler2", "total_fee": 100})
    assert response.status_code == 200
    view = body_of(response)
    assert set(view) == VIEW_KEYS | {"total_fee"}
    assert (view["kind"], view["saler_id"], view["total_fee"]) == ("PAY", "saler2", "100")
    assert view["state"] == "SUCCESS"
    assert (view["response_code"], view["attempts"]) == ("SUCCESS", 1)

    # The payment center's own record (its table: the center is another app now).
    payment_side = committed_order(stack, view["request_id"])
    assert payment_side["response_id"] == view["response_id"]
    assert payment_side["response_time"] == view["response_time"]
    assert body_of(api.get(f"/merchant/orders/{view['request_id']}")) == view


def test_a_merchant_withdraw_over_the_balance_answers_fail(stack, api, routed_link):
    response = api.post("/merchant/withdraw", {"saler_id": "saler9", "withdraw_money": "100"})
    view = body_of(response)
    assert response.status_code == 200
    assert set(view) == VIEW_KEYS | {"withdraw_money"}
    assert (view["kind"], view["withdraw_money"], view["state"]) == ("WITHDRAW", "100", "FAIL")
    assert view["response_msg"] == "账户余额不足，提款失败"
    assert view["response_id"] == payment_orders(stack, view["request_id"])[0]["response_id"]


def test_a_timeout_after_commit_over_http_is_unknown_and_a_get_resolves_it(stack, api, routed_link):
    routed_link.plan.configure({"timeout_after_commit": 1.0, "seed": 5})
    view = body_of(api.post("/merchant/pay", {"saler_id": "saler3", "total_fee": "8"}))
    assert (view["state"], view["response_id"], view["response_code"]) == ("UNKNOWN", None, None)
    committed = committed_order(stack, view["request_id"])

    routed_link.plan.reset()
    resolved = body_of(api.get(f"/merchant/orders/{view['request_id']}"))
    assert resolved["state"] == "SUCCESS"
    assert resolved["response_id"] == committed["response_id"]
    assert resolved["attempts"] == 2
    assert len(payment_orders(stack, view["request_id"])) == 1


def _keyed(api, route, body, key, header="Idempotency-Key"):
    return api.post_raw(route, json.dumps(body).encode(), headers=dict(JSON, **{header: key}))


def test_a_retried_trigger_with_its_idempotency_key_answers_the_same_order(stack, api, routed_link):
    body = {"saler_id": "saler4", "total_fee": "12"}
    first = _keyed(api, "/merchant/pay", body, "retry-1")
    # Header names are case-insensitive.
    again = _keyed(api, "/merchant/pay", body, "retry-1", header="idempotency-key")

    assert (first.status_code, again.status_code) == (200, 200)
    assert body_of(again) == body_of(first)
    assert body_of(first)["idempotency_key"] == "retry-1"
    assert len(payment_orders(stack)) == 1
    assert routed_link.plan.status()["counters"]["forwarded"] == 1

    other = _keyed(api, "/merchant/pay", dict(body, total_fee="13"), "retry-1")
    assert other.status_code == 409
    assert (body_of(other)["error_code"], body_of(other)["field"]) == (1030, "Idempotency-Key")
    assert body_of(other)["response_msg"] == ("请求重入参数校验失败: Idempotency-Key retry-1 was "
                                              "already used with other parameters: total_fee")
    assert routed_link.plan.status()["counters"]["forwarded"] == 1


def test_a_retry_after_a_lost_answer_over_http_resolves_the_order(stack, api, routed_link):
    routed_link.plan.configure({"timeout_after_commit": 1.0, "seed": 5})
    body = {"saler_id": "saler5", "withdraw_money": "1"}
    lost = body_of(_keyed(api, "/merchant/withdraw", body, "w-1"))
    assert lost["state"] == "UNKNOWN"
    committed = committed_order(stack, lost["request_id"])
    routed_link.plan.reset()

    retried = body_of(_keyed(api, "/merchant/withdraw", body, "w-1"))

    assert (retried["request_id"], retried["response_id"], retried["attempts"]) == \
        (lost["request_id"], committed["response_id"], 2)
    assert len(payment_orders(stack, lost["request_id"])) == 1


@pytest.mark.parametrize("key", ["", "has space", "a/b", "x" * 65, "key\t1"])
def test_a_malformed_idempotency_key_is_refused_and_nothing_is_stored_or_sent(
        stack, api, routed_link, key):
    response = _keyed(api, "/merchant/pay", {"saler_id": "saler1", "total_fee": "1"}, key)
    assert response.status_code == 400
    assert (body_of(response)["error_code"], body_of(response)["field"]) == (1001, "Idempotency-Key")
    assert merchant_items(stack) == []
    assert routed_link.plan.status()["counters"]["forwarded"] == 0


def test_lookups_name_the_problem(stack, api, routed_link):
    absent = api.get("/merchant/orders/20190829171520123456")
    assert absent.status_code == 404
    assert body_of(absent)["error_code"] == 4044
    assert body_of(absent)["error_name"] == "MERCHANT_ORDER_NOT_FOUND"
    malformed = api.get("/merchant/orders/2019082917152012345x")
    assert malformed.status_code == 400
    assert (body_of(malformed)["error_code"], body_of(malformed)["field"]) == (1001, "request_id")


ROUTES = {"/merchant/pay": "total_fee", "/merchant/withdraw": "withdraw_money"}


def _other_amount(route):
    return "withdraw_money" if ROUTES[route] == "total_fee" else "total_fee"


def _valid(route):
    return {"saler_id": "saler1", ROUTES[route]: "100"}


BAD = [
    ("missing saler", lambda r: {ROUTES[r]: "100"}, 1001, "saler_id"),
    ("missing amount", lambda r: {"saler_id": "saler1"}, 1001, "AMOUNT"),
    ("zero", lambda r: dict(_valid(r), **{ROUTES[r]: "0"}), 1001, "AMOUNT"),
    ("negative", lambda r: dict(_valid(r), **{ROUTES[r]: -5}), 1001, "AMOUNT"),
    ("fraction", lambda r: dict(_valid(r), **{ROUTES[r]: "1.5"}), 1001, "AMOUNT"),
    ("float", lambda r: dict(_valid(r), **{ROUTES[r]: 100.0}), 1001, "AMOUNT"),
    ("boolean", lambda r: dict(_valid(r), **{ROUTES[r]: True}), 1001, "AMOUNT"),
    ("too large", lambda r: dict(_valid(r), **{ROUTES[r]: 10_000_000_001}), 1001, "AMOUNT"),
    ("saler with a space", lambda r: dict(_valid(r), saler_id="saler 1"), 1001, "saler_id"),
    ("saler not a string", lambda r: dict(_valid(r), saler_id=7), 1001, "saler_id"),
    ("caller's request id", lambda r: dict(_valid(r), request_id="20190829171520123456"),
     1001, "request_id"),
    ("the other route's amount", lambda r: {"saler_id": "s", _other_amount(r): "1"}, 1001, None),
    ("not an object", lambda r: ["saler1", 100], 1002, "body"),
]


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("name,make,code,field", BAD, ids=[case[0] for case in BAD])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored_or_sent(
        shared_stack, api, shared_link, route, name, make, code, field):
    response = api.post(route, make(route))
    assert response.status_code == 400
    answer = body_of(response)
    assert answer["error_code"] == code
    expected = ROUTES[route] if field == "AMOUNT" else field
    if expected is not None:
        assert answer["field"] == expected
    else:
        assert answer["field"] in ("total_fee", "withdraw_money")
    assert merchant_items(shared_stack) == []
    assert payment_orders(shared_stack) == []
    assert shared_link.plan.status()["counters"]["forwarded"] == 0


@pytest.mark.parametrize("route", list(ROUTES))
def test_a_body_that_is_not_json_is_refused(shared_stack, api, shared_link, route):
    response = api.post_raw(route, b"{saler_id: 1")
    assert response.status_code == 400
    assert (body_of(response)["error_code"], body_of(response)["field"]) == (1002, "body")
    assert merchant_items(shared_stack) == []
    assert shared_link.plan.status()["counters"]["forwarded"] == 0


def test_a_missing_payment_api_url_is_an_internal_error_and_stores_nothing(stack, api, monkeypatch):
    monkeypatch.delenv("PAYMENT_API_URL", raising=False)
    response = api.post("/merchant/pay", {"saler_id": "s", "total_fee": 1})
    assert response.status_code == 500
    assert json.loads(response.body)["error_name"] == "INTERNAL"
    assert merchant_items(stack) == []
