"""The marketing-subsidy contract's six test cases, as written, through the HTTP API against the real simulator;
bad input; the view; the channel's notification."""
import pytest

from tests.subsidies.support import create_body, next_id, return_body
from tests.support.signing import PLATFORM
from tests.unit.support import body_of


def subsidise(api, body):
    response = api.post("/subsidies", body)
    return response.status_code, body_of(response)


def give_back(api, body):
    response = api.post("/subsidies/returns", body)
    return response.status_code, body_of(response)


def test_a_subsidised_order_asked_again_answers_success_with_the_stored_data(api, channel, paid):
    """已经补差成功的单，请求创建补差 -> 返回成功 (no second channel call)."""
    body = create_body(paid["paymentOrderId"])
    status, first = subsidise(api, body)
    assert (status, first["code"], first["message"]) == (200, 0, "success"), first
    data = first["data"]
    assert data["openid"] == paid["openid"] and data["amount"] == 2332
    assert len(data["paymentSubsidiesId"]) == 19 and data["proxyChannelSubsidiesId"]
    calls = channel.calls()

    status, again = subsidise(api, dict(body, traceId="another-trace", timestamp=1740125999))
    assert (status, again["code"]) == (200, 0)
    assert {k: v for k, v in again["data"].items() if k != "traceId"} == \
        {k: v for k, v in data.items() if k != "traceId"}
    assert channel.calls() == calls                                   # no channel call
    assert channel.view(paid["transaction_id"])["subsidy"]["subsidy_id"] == data["proxyChannelSubsidiesId"]


@pytest.mark.parametrize("change", [{"amount": 100}, {"paymentOrderId": "1326216474909544516"},
                                    {"subMchId": "1692608208"}, {"bizRelOrderId": "other_0"}])
def test_a_subsidy_reentered_with_other_parameters_is_refused_1030(api, channel, paid, change):
    """补差重入 参数校验失败 -> 返回参数校验失败错误; nothing changes."""
    body = create_body(paid["paymentOrderId"])
    assert subsidise(api, body)[1]["code"] == 0
    before = body_of(api.get(f"/subsidies/{body['bizSubsidiesId']}"))["data"]
    calls = channel.calls()
    status, refused = subsidise(api, dict(body, **change))
    assert (status, refused["code"], refused["field"]) == (409, 1030, "bizSubsidiesId")
    assert refused["message"] == (f"请求重入参数校验失败: bizSubsidiesId {body['bizSubsidiesId']} was "
                                  f"already used with other parameters: {next(iter(change))}")
    assert channel.calls() == calls
    assert body_of(api.get(f"/subsidies/{body['bizSubsidiesId']}"))["data"] == before


def test_a_failed_subsidy_reentered_is_executed_again(api, channel, paid):
    """补差失败的单重入 -> 继续进行创建补差操作 (with the same outbound number)."""
    body = create_body(paid["paymentOrderId"], amount=500)
    channel.fault("subsidies.create", "reject")
    status, failed = subsidise(api, body)
    assert (status, failed["code"]) == (422, 3003)
    assert failed["data"]["channelCode"] == "INVALID_REQUEST"
    assert failed["data"]["channelMessage"] == "对应的订单不能补差"
    number = failed["data"]["paymentSubsidiesId"]
    assert body_of(api.get(f"/subsidies/{body['bizSubsidiesId']}"))["data"]["state"] == "FAILED"

    status, done = subsidise(api, body)
    assert (status, done["code"]) == (200, 0)
    assert done["data"]["paymentSubsidiesId"] == number
    assert [c["outcome"] for c in channel.calls(number)] == ["NOT_APPLIED", "APPLIED"]


@pytest.fixture
def subsidised(api, paid):
    status, answer = subsidise(api, create_body(paid["paymentOrderId"]))
    assert answer["code"] == 0, answer
    return answer["data"]


def test_a_returned_subsidy_reentered_answers_success(api, channel, paid, subsidised):
    """补差回退成功 重入 -> 返回成功, and its row in the view."""
    body = return_body(subsidised)
    status, first = give_back(api, body)
    assert (status, first["code"]) == (200, 0), first
    data = first["data"]
    assert data["amount"] == 2332 and data["proxyChannelReturnSubsidiesId"]
    assert data["paymentSubsidiesId"] == subsidised["paymentSubsidiesId"]
    calls = channel.calls()
    status, again = give_back(api, dict(body, traceId="again"))
    assert (status, again["code"]) == (200, 0)
    assert {k: v for k, v in again["data"].items() if k != "traceId"} == \
        {k: v for k, v in data.items() if k != "traceId"}
    assert channel.calls() == calls
    view = body_of(api.get(f"/subsidies/{subsidised['bizSubsidiesId']}"))["data"]
    [row] = view["returns"]
    assert row == {"state": 1, "state_name": "SUCCEEDED", "total_amount": 2332, "returned_amount": 2332,
                   "returning_amount": 0, "returnable_amount": 0, "amount": 2332,
                   "biz_refund_id": body["bizRefundId"], "payment_refund_id": body["paymentRefundId"],
                   "biz_return_subsidies_id": body["bizReturnSubsidiesId"],
                   "payment_return_subsidies_id": data["paymentReturnSubsidiesId"],
                   "proxy_channel_return_subsidies_id": data["proxyChannelReturnSubsidiesId"]}
    assert channel.view(paid["transaction_id"])["returned_amount"] == 2332


def test_a_failed_return_reentered_is_executed_again(api, channel, subsidised):
    """补差回退失败 重入 -> 继续进行补差回退."""
    body = return_body(subsidised, amount=1000)
    channel.fault("subsidies.return", "reject")
    status, failed = give_back(api, body)
    assert (status, failed["code"]) == (422, 3003)
    view = body_of(api.get(f"/subsidies/{subsidised['bizSubsidiesId']}"))["data"]
    assert (view["returnable_amount"], view["returning_amount"]) == (2332, 0)   # released
    status, done = give_back(api, body)
    assert (status, done["code"]) == (200, 0)
    number = done["data"]["paymentReturnSubsidiesId"]
    assert number == failed["data"]["paymentReturnSubsidiesId"]
    assert [c["outcome"] for c in channel.calls(number)] == ["NOT_APPLIED", "APPLIED"]


@pytest.mark.parametrize("change", [{"amount": 1001}, {"bizReturnSubsidiesId": "1329128835244941399"},
                                    {"bizRefundId": "other"}])
def test_a_return_reentered_with_other_parameters_is_refused_1030(api, channel, subsidised, change):
    """补差回退重入 参数校验失败 -> 返回参数校验失败错误."""
    body = return_body(subsidised, amount=1000)
    assert give_back(api, body)[1]["code"] == 0
    calls = channel.calls()
    status, refused = give_back(api, dict(body, **change))
    assert (status, refused["code"], refused["field"]) == (409, 1030, "paymentRefundId")
    assert refused["message"] == (f"请求重入参数校验失败: paymentRefundId {body['paymentRefundId']} was "
                                  f"already used with other parameters: {next(iter(change))}")
    assert channel.calls() == calls


def test_a_return_id_is_bound_to_one_refund_and_one_amount(api, subsidised):
    body = return_body(subsidised, amount=1000)
    assert give_back(api, body)[1]["code"] == 0
    other_refund = dict(body, paymentRefundId=next_id("13262164"))
    status, refused = give_back(api, other_refund)
    assert (status, refused["code"], refused["field"]) == (409, 1030, "bizReturnSubsidiesId")
    assert refused["message"] == (f"请求重入参数校验失败: bizReturnSubsidiesId {body['bizReturnSubsidiesId']} "
                                  "was already used with other parameters: paymentRefundId")
    status, refused = give_back(api, dict(other_refund, amount=999))
    assert refused["message"].endswith("was already used with other parameters: amount, paymentRefundId")


def test_returns_never_exceed_the_subsidy(api, channel, subsidised):
    assert give_back(api, return_body(subsidised, amount=2000))[1]["code"] == 0
    status, refused = give_back(api, return_body(subsidised, amount=333))
    assert (status, refused["code"], refused["field"]) == (409, 3001, "amount")
    assert refused["data"]["returnableAmount"] == 332
    assert give_back(api, return_body(subsidised, amount=332))[1]["code"] == 0


def test_unknown_orders_and_subsidies(api, channel):
    status, answer = subsidise(api, create_body(next_id("13262164")))
    assert (status, answer["code"], answer["field"]) == (404, 4047, "paymentOrderId")
    status, answer = give_back(api, return_body({
        "bizOrderId": "b", "paymentOrderId": "1", "bizRelOrderId": "r",
        "bizSubsidiesId": next_id(), "paymentSubsidiesId": next_id()}))
    assert (status, answer["code"], answer["field"]) == (404, 4048, "bizSubsidiesId")
    response = api.get(f"/subsidies/{next_id()}")
    assert (response.status_code, body_of(response)["code"]) == (404, 4048)
    response = api.get("/subsidies/12ab")
    assert (response.status_code, body_of(response)["field"]) == (400, "bizSubsidiesId")
    assert channel.calls() == []


@pytest.mark.parametrize("change, field", [
    ({"amount": 0}, "amount"), ({"amount": "12.5"}, "amount"), ({"amount": -1}, "amount"),
    ({"amount": True}, "amount"), ({"bizSubsidiesId": "12a"}, "bizSubsidiesId"),
    ({"bizSubsidiesId": None}, "bizSubsidiesId"), ({"tenantId": "0"}, "tenantId"),
    ({"description": ""}, "description"), ({"description": "x" * 81}, "description"),
    ({"unexpected": 1}, "unexpected"), ({"paymentOrderId": ""}, "paymentOrderId"),
])
def test_bad_input_is_400_naming_the_field_and_writes_nothing(api, stack, table, channel, paid,
                                                              change, field):
    before = stack.count(table)
    status, refused = subsidise(api, create_body(paid["paymentOrderId"], **change))
    assert (status, refused["code"], refused["field"]) == (400, 1001, field), refused
    assert refused["message"].startswith(field)
    assert stack.count(table) == before and channel.calls() == []


def test_bad_return_input_is_400_naming_the_field(api, stack, table, subsidised):
    before = stack.count(table)
    status, refused = give_back(api, return_body(subsidised, amount="0x10"))
    assert (status, refused["code"], refused["field"]) == (400, 1001, "amount")
    del_body = return_body(subsidised)
    del del_body["paymentRefundId"]
    status, refused = give_back(api, del_body)
    assert (status, refused["field"]) == (400, "paymentRefundId")
    assert stack.count(table) == before


def test_the_transaction_notice_is_idempotent_and_a_conflict_is_409(api, channel):
    payment_order_id = next_id("13262164")
    first = channel.order(payment_order_id)
    again = channel.order(payment_order_id)          # the simulator notifies again
    assert again == first
    notice = {"attach": PLATFORM.merchant_id, "payment_order_id": payment_order_id,
              "biz_order_id": "1774303629096779780_1", "mch_id": "1800007135", "sub_mchid": "1692608207",
              "transaction_id": "4200000000000000000000009999", "openid": "ou8xother",
              "amount": 10000, "success_time": "2026-11-22T14:00:00+08:00"}
    response = api.post("/channel/notifications/transactions", notice)
    assert (response.status_code, body_of(response)["code"]) == (409, 1031)


def test_a_return_naming_another_tenant_is_refused(api, stack, table, subsidised):
    before = stack.count(table)
    status, refused = give_back(api, return_body(subsidised, tenantId=7))
    assert (status, refused["code"], refused["field"]) == (400, 1001, "tenantId")
    assert stack.count(table) == before
