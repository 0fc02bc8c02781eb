"""POST /sharing/orders against the real simulator: realtime sharing, both dimensions, the
results by notification and by query, reentry (the channel's "发起分账重入的情况?")."""
import json

import pytest

from chalicelib.sharing import orders, scheduler
from tests.sharing.support import next_id, sharing_body, wait_until


def _share(api, body):
    answer = api.post("/sharing/orders", body)
    return answer.status_code, json.loads(answer.body)


def _finished(api, trade_id):
    def check():
        data = json.loads(api.get(f"/sharing/orders/{trade_id}").body)["data"]
        return data if data["state"] == "FINISHED" else None
    return wait_until(check)


def test_realtime_sharing_settles_by_notification(api, channel, paid):
    status, answer = _share(api, sharing_body(paid["paymentOrderId"], [("1900000109", 1000), ("1900000110", 800)]))
    assert status == 200, answer
    data = answer["data"]
    assert data["tradeId"] == paid["paymentOrderId"]
    assert len(data["sharingOrderId"]) == 19 and data["wxSharingOrderId"]
    assert data["state"] in ("PROCESSING", "FINISHED")
    finished = _finished(api, paid["paymentOrderId"])
    assert finished, "the notifications did not settle the receivers"
    assert [(r["receiveMchId"], r["amount"], r["state"]) for r in finished["receivers"]] == [
        ("1900000109", 1000, "SUCCESS"), ("1900000110", 800, "SUCCESS")]
    assert finished["sharedAmount"] == 1800
    assert channel.view(paid["transaction_id"])["shared_amount"] == 1800


def test_dimension_two_trades_on_biz_rel_order_id(api, paid):
    body = sharing_body(paid["paymentOrderId"], [("1900000109", 500)], dimension=2,
                        biz_rel_order_id="1358819040316796928_7")
    status, answer = _share(api, body)
    assert status == 200, answer
    assert answer["data"]["tradeId"] == "1358819040316796928_7"
    assert api.get("/sharing/orders/1358819040316796928_7").status_code == 200


def test_same_request_again_is_answered_from_the_records(api, channel, paid):
    body = sharing_body(paid["paymentOrderId"], [("1900000109", 1000)])
    first = _share(api, body)[1]["data"]
    _finished(api, paid["paymentOrderId"])
    status, again = _share(api, dict(body, traceId="another-trace"))
    assert status == 200
    assert again["data"]["sharingOrderId"] == first["sharingOrderId"]
    assert again["data"]["state"] == "FINISHED"
    assert len(channel.calls_of("profitsharing.orders")) == 1


def test_other_parameters_for_the_trade_are_1030_and_change_nothing(api, channel, paid):
    body = sharing_body(paid["paymentOrderId"], [("1900000109", 1000)])
    first = _share(api, body)[1]["data"]
    status, answer = _share(api, sharing_body(paid["paymentOrderId"], [("1900000109", 1001)]))
    assert (status, answer["code"], answer["field"]) == (409, 1030, "tradeId")
    assert answer["message"] == (f"请求重入参数校验失败: tradeId {paid['paymentOrderId']} with paymentOrderId "
                                 f"{paid['paymentOrderId']} was already used with other parameters: receivers")
    assert len(channel.calls_of("profitsharing.orders")) == 1
    view = json.loads(api.get(f"/sharing/orders/{paid['paymentOrderId']}").body)["data"]
    assert view["sharingOrderId"] == first["sharingOrderId"] and view["receivers"][0]["amount"] == 1000


def test_over_the_order_amount_is_refused_before_the_channel(api, channel, paid):
    status, answer = _share(api, sharing_body(paid["paymentOrderId"], [("1900000109", 6000), ("1900000110", 4001)]))
    assert (status, answer["code"], answer["field"]) == (409, 3005, "receivers")
    assert channel.calls_of("profitsharing.orders") == []
    assert api.get(f"/sharing/orders/{paid['paymentOrderId']}").status_code == 404


def test_over_the_ratio_is_the_channels_refusal_and_may_be_sent_again(api, channel, paid):
    body = sharing_body(paid["paymentOrderId"], [("1900000109", 3001)])
    status, answer = _share(api, body)
    assert (status, answer["code"]) == (422, 3003)
    assert answer["data"]["channelCode"] == "INVALID_REQUEST"
    number = answer["data"]["sharingOrderId"]
    status, again = _share(api, body)          # executed again, the SAME number
    assert again["code"] == 3003 and again["data"]["sharingOrderId"] == number
    assert {c["outbound_no"] for c in channel.calls_of("profitsharing.orders")} == {number}


def test_closed_receiver_keeps_its_fail_reason(api, channel, paid):
    channel.receiver_fails("1900000666", "ACCOUNT_ABNORMAL")
    _share(api, sharing_body(paid["paymentOrderId"], [("1900000109", 1000), ("1900000666", 700)]))
    finished = _finished(api, paid["paymentOrderId"])
    rows = {r["receiveMchId"]: r for r in finished["receivers"]}
    assert rows["1900000666"]["state"] == "CLOSED"
    assert rows["1900000666"]["failReason"] == "ACCOUNT_ABNORMAL"
    assert finished["sharedAmount"] == 1000 and finished["holdings"] == {"1900000109": 1000, "1900000666": 0}


def test_the_scheduler_queries_when_no_notification_came(ctx, api, channel, paid, bridge):
    bridge.server.shutdown()                     # the center cannot be notified
    bridge.server.server_close()
    request = orders.SharingRequest.model_validate(
        sharing_body(paid["paymentOrderId"], [("1900000109", 1000)]))
    data = orders.share(ctx, request)
    assert data["state"] in ("PROCESSING", "FINISHED")
    wait_until(lambda: channel.view(paid["transaction_id"])["shared_amount"] == 1000)
    assert orders.view(ctx, paid["paymentOrderId"])["state"] == "PROCESSING"
    scheduler.run(ctx)
    assert orders.view(ctx, paid["paymentOrderId"])["state"] == "FINISHED"


def test_notification_route_is_idempotent_and_never_moves_a_final_state(api, channel, paid):
    data = _share(api, sharing_body(paid["paymentOrderId"], [("1900000109", 1000)]))[1]["data"]
    _finished(api, paid["paymentOrderId"])
    notice = {"sub_mchid": "1692608207", "transaction_id": paid["transaction_id"],
              "order_id": data["wxSharingOrderId"] or "x", "out_order_no": data["sharingOrderId"],
              "receiver": {"type": "MERCHANT_ID", "account": "1900000109", "amount": 1000,
                           "description": "分账", "result": "CLOSED", "fail_reason": "NO_AUTH",
                           "detail_id": "d"}, "success_time": "2026-11-22T14:00:00+08:00"}
    answer = api.post("/channel/notifications/profitsharing", notice)
    assert answer.status_code == 200 and json.loads(answer.body)["message"] == "replayed"
    view = json.loads(api.get(f"/sharing/orders/{paid['paymentOrderId']}").body)["data"]
    assert view["receivers"][0]["state"] == "SUCCESS" and view["sharedAmount"] == 1000
    unknown = api.post("/channel/notifications/profitsharing", dict(notice, out_order_no="1" * 19))
    assert (unknown.status_code, json.loads(unknown.body)["code"]) == (404, 4049)


@pytest.mark.parametrize("change, field", [
    ({"platformSharingDimension": 3}, "platformSharingDimension"),
    ({"sharingMode": 2}, "planSharingTime"),
    ({"planSharingTime": 1744027000}, "planSharingTime"),
    ({"unfreezeOrder": 0}, "unfreezeOrder"),
    ({"receivers": []}, "receivers"),
    ({"paymentOrderId": "12ab"}, "paymentOrderId"),
    ({"receivers": [{"receiveMchId": "1", "receiveType": "BANK", "amount": 1, "description": "d"}]},
     "receivers.0.receiveType"),
    ({"receivers": [{"receiveMchId": "1", "receiveType": "MERCHANT_ID", "amount": 0, "description": "d"}]},
     "receivers.0.amount"),
    ({"receivers": [{"receiveMchId": "1", "receiveType": "MERCHANT_ID", "amount": 1, "description": "d"}] * 2},
     "receivers"),
    ({"receivers": [{"receiveMchId": str(1900000000 + i), "receiveType": "MERCHANT_ID", "amount": 1,
                     "description": "d"} for i in range(51)]}, "receivers"),
    ({"extra": 1}, "extra"),
])
def test_bad_input_is_400_naming_the_field_and_writes_nothing(api, channel, paid, stack, change, field):
    body = dict(sharing_body(paid["paymentOrderId"], [("1900000109", 1000)]), **change)
    status, answer = _share(api, body)
    assert (status, answer["code"], answer["field"]) == (400, 1001, field), answer
    items = stack.dynamodb.scan(TableName=stack.environment["SHARING_TABLE"])["Items"]
    assert items == []
    assert channel.calls_of("profitsharing.orders") == []


def test_fifty_receivers_fit(api, channel):
    payment_order_id = next_id("13587585")
    channel.paid(payment_order_id, amount=100000)
    receivers = [(str(1900000000 + i), 100 + i) for i in range(50)]
    status, answer = _share(api, sharing_body(payment_order_id, receivers))
    assert status == 200, answer
    assert len(answer["data"]["receivers"]) == 50
