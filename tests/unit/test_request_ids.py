"""A request id names one order of its tenant: a pay and a withdraw may not share one.

A withdraw that reuses a pay's request id (or the reverse) is a reentry refusal, 409 / 1030,
"请求重入参数校验失败: request_id <id> was already used with other parameters: kind (was PAY)",
and writes nothing: no order, no response-id guard, no journal entry, no balance change, no
credit message. The other tenant's request ids stay its own.
"""
import pytest

from chalicelib.errors import ErrorCode, ReentryRefused
from chalicelib.payments import aggregator, service
from chalicelib.payments.messages import PayRequest, WithdrawRequest
from chalicelib.payments.orders import Kind
from tests.support.signing import TENANT_A, TENANT_B
from tests.unit.support import assert_reentry_refused, body_of, pay_body, withdraw_body


def _records(stack) -> dict:
    """Every stored item but the signed calls' nonces (each request adds its own)."""
    return {table: items for table, items in stack.snapshot().items() if table != "NoncesTable"}


def _paid(stack, api, saler_id: str, amount: int) -> dict:
    """A pay recorded and credited (the credit queue drained): its answer."""
    answer = body_of(api.post("/pay", pay_body(saler_id=saler_id, total_fee=amount)))
    assert answer["response_code"] == "SUCCESS"
    api.invoke("aggregator")
    assert stack.queue_depth() == 0
    return answer


@pytest.mark.parametrize("funded", [True, False], ids=["balance_covers_it", "balance_short"])
def test_a_withdraw_reusing_a_pays_request_id_is_refused_and_writes_nothing(stack, api, funded):
    pay = _paid(stack, api, "rid1", 500)
    saler = "rid1" if funded else "rid1_empty"       # short: it would record a FAIL order
    before = _records(stack)

    refused = api.post("/withdraw", withdraw_body(saler_id=saler, withdraw_money=40,
                                                  request_id=pay["request_id"]))

    assert_reentry_refused(refused, pay["request_id"], "kind (was PAY)")
    assert _records(stack) == before
    assert stack.queue_depth() == 0
    assert api.get(f"/orders/withdraw/{pay['request_id']}").status_code == 404
    assert body_of(api.get(f"/orders/pay/{pay['request_id']}")) == pay
    assert body_of(api.get("/accounts/rid1"))["balance"] == 500


@pytest.mark.parametrize("amount", [30, 3000], ids=["after_success", "after_fail"])
def test_a_pay_reusing_a_withdraws_request_id_is_refused_and_queues_no_credit(stack, api, amount):
    _paid(stack, api, "rid2", 100)
    withdrawn = body_of(api.post("/withdraw", withdraw_body(saler_id="rid2", withdraw_money=amount)))
    assert withdrawn["response_code"] == ("SUCCESS" if amount <= 100 else "FAIL")
    before = _records(stack)

    refused = api.post("/pay", pay_body(saler_id="rid2", total_fee=amount,
                                        request_id=withdrawn["request_id"]))

    assert_reentry_refused(refused, withdrawn["request_id"], "kind (was WITHDRAW)")
    assert _records(stack) == before
    assert stack.queue_depth() == 0                    # no credit message
    assert api.get(f"/orders/pay/{withdrawn['request_id']}").status_code == 404
    assert body_of(api.get(f"/orders/withdraw/{withdrawn['request_id']}")) == withdrawn
    assert body_of(api.get("/accounts/rid2"))["balance"] == (70 if amount <= 100 else 100)


def test_after_the_refusal_the_orders_own_replay_still_answers_the_original(stack, api):
    pay = _paid(stack, api, "rid3", 200)
    request = pay_body(saler_id="rid3", total_fee=200, request_id=pay["request_id"])
    assert api.post("/withdraw", withdraw_body(saler_id="rid3", withdraw_money=200,
                                               request_id=pay["request_id"])).status_code == 409
    replayed = api.post("/pay", request)
    assert (replayed.status_code, body_of(replayed)) == (200, pay)
    assert stack.queue_depth() <= 1                    # a replay may re-send its credit, never twice
    api.invoke("aggregator")
    assert body_of(api.get("/accounts/rid3"))["balance"] == 200


def test_the_service_refuses_the_other_kind_naming_the_key_and_the_kind(stack):
    ctx = stack.context()
    recorded = service.withdraw(ctx, WithdrawRequest(**withdraw_body(saler_id="rid4", withdraw_money=5)))
    assert recorded.order.response_code == "FAIL"     # nothing to withdraw from: recorded FAIL
    before = stack.snapshot()
    with pytest.raises(ReentryRefused) as refused:
        service.pay(ctx, PayRequest(**pay_body(saler_id="rid4", total_fee=5,
                                               request_id=recorded.order.request_id)))
    error = refused.value
    assert (error.code, error.code.number, error.code.http_status) == (ErrorCode.REENTRY_MISMATCH, 1030, 409)
    assert (error.field, error.key_value, error.different) == ("request_id", recorded.order.request_id,
                                                               ("kind",))
    assert error.message.startswith("请求重入参数校验失败: request_id " + recorded.order.request_id)
    assert stack.snapshot() == before
    assert stack.queue_depth() == 0
    assert service.find_order(ctx, Kind.WITHDRAW, recorded.order.request_id) == recorded.order


def test_the_service_names_every_differing_parameter_of_the_same_kind(stack):
    ctx = stack.context()
    first = service.pay(ctx, PayRequest(**pay_body(saler_id="rid5", total_fee=9)))
    aggregator.run(ctx)
    again = pay_body(saler_id="rid6", total_fee=10, request_id=first.order.request_id,
                     request_time="2019-08-29 17:15:21")
    with pytest.raises(ReentryRefused) as refused:
        service.pay(ctx, PayRequest(**again))
    assert refused.value.different == ("request_time", "saler_id", "total_fee")
    assert refused.value.message == (f"请求重入参数校验失败: request_id {first.order.request_id} was "
                                     "already used with other parameters: request_time, saler_id, total_fee")


def test_another_tenant_may_use_the_request_id_for_the_other_kind(stack, api):
    a, b = api.as_caller(TENANT_A), api.as_caller(TENANT_B)
    request_id = pay_body()["request_id"]
    assert body_of(a.post("/pay", pay_body(saler_id="s1", total_fee=300,
                                           request_id=request_id)))["response_code"] == "SUCCESS"
    assert body_of(b.post("/pay", pay_body(saler_id="s1", total_fee=100)))["response_code"] == "SUCCESS"
    api.invoke("aggregator")

    theirs = b.post("/withdraw", withdraw_body(saler_id="s1", withdraw_money=60, request_id=request_id))
    assert (theirs.status_code, body_of(theirs)["response_code"]) == (200, "SUCCESS")
    mine = a.post("/withdraw", withdraw_body(saler_id="s1", withdraw_money=60, request_id=request_id))
    assert_reentry_refused(mine, request_id, "kind (was PAY)")
    assert body_of(a.get("/accounts/s1"))["balance"] == 300
    assert body_of(b.get("/accounts/s1"))["balance"] == 40
