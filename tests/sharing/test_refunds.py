"""Sharing returns on refunds (分账回退) against the real simulator: the channel's two documented refund
notifications, full and partial refunds, several partials adding up to the whole, three
receivers with awkward amounts, nothing to return, reentry (the channel's "分账回退重入的情况?")."""
import json

from tests.sharing.support import CHANNEL_REFUNDS, next_id, refund_notice, sharing_body, wait_until


def _share_and_settle(api, channel, payment_order_id, receivers, amount=10000, ratio=0.3, **body):
    channel.paid(payment_order_id, amount=amount, max_sharing_ratio=ratio,
                 biz_order_id=body.pop("bizOrderId", "1835109860518134549_1"))
    request = sharing_body(payment_order_id, receivers, **body)
    if "bizOrderId" in body:
        request["bizOrderId"] = body["bizOrderId"]
    answer = api.post("/sharing/orders", request)
    assert answer.status_code == 200, answer.body
    trade_id = json.loads(answer.body)["data"]["tradeId"]

    def finished():
        data = json.loads(api.get(f"/sharing/orders/{trade_id}").body)["data"]
        return data if data["state"] == "FINISHED" else None
    data = wait_until(finished)
    assert data, "the sharing did not finish"
    return data


def _refund(api, notice):
    answer = api.post("/sharing/refunds", notice)
    return answer.status_code, json.loads(answer.body)


def test_the_channels_two_documented_refund_notifications_return_everything(api, channel):
    for notice, receivers in zip(CHANNEL_REFUNDS, ([("1900000109", 1000), ("1900000110", 895)],
                                                [("1900000109", 890)])):
        total = int(notice["orderTotal"])
        channel.paid(notice["paymentOrderId"], amount=total, biz_order_id=notice["bizOrderId"],
                     mch_id=notice["mchId"], sub_mchid=notice["subMchId"])
        body = sharing_body(notice["paymentOrderId"], receivers, bizOrderId=notice["bizOrderId"],
                            bizRelOrderId=notice["bizRelOrderId"])
        assert api.post("/sharing/orders", body).status_code == 200
        shared = sum(a for _, a in receivers)
        wait_until(lambda: json.loads(api.get(f"/sharing/orders/{notice['paymentOrderId']}").body)
                   ["data"]["state"] == "FINISHED")
        status, answer = _refund(api, notice)             # the channel's JSON, as is
        assert status == 200, answer
        data = answer["data"]
        assert (data["state"], data["applyAmount"], data["refundAmount"]) == (1, total, total)
        assert data["actualBaseReturnAmount"] == shared
        assert sorted((r["returnMchId"], r["amount"], r["result"]) for r in data["returns"]) == \
            sorted((a, n, "SUCCESS") for a, n in receivers)
        assert all(len(r["sharingReturnNo"]) == 19 for r in data["returns"])
        transaction_id = json.loads(api.get(f"/sharing/orders/{notice['paymentOrderId']}").body)["data"]["transactionId"]
        assert channel.view(transaction_id)["sharing_returned_amount"] == shared
        assert json.loads(api.get(f"/sharing/refunds/{notice['refundId']}").body)["data"]["state"] == 1


def test_a_refund_of_an_order_never_shared_is_state_3(api, channel):
    status, answer = _refund(api, dict(CHANNEL_REFUNDS[1], refundId=next_id("13588458")))
    assert status == 200
    assert (answer["data"]["state"], answer["data"]["actualBaseReturnAmount"], answer["data"]["returns"]) == (3, 0, [])
    assert channel.calls_of("profitsharing.return-orders") == []


def test_a_refund_after_every_receiver_closed_is_state_3(api, channel):
    order = next_id("13587585")
    channel.receiver_fails("1900000777", "NO_RELATION")
    _share_and_settle(api, channel, order, [("1900000777", 1000)])
    status, answer = _refund(api, refund_notice(order, 10000, 10000))
    assert (status, answer["data"]["state"]) == (200, 3)
    assert channel.calls_of("profitsharing.return-orders") == []


def test_partial_refund_returns_in_proportion(api, channel):
    order = next_id("13587585")
    _share_and_settle(api, channel, order, [("1900000109", 2000), ("1900000110", 1000)])
    status, answer = _refund(api, refund_notice(order, 2500, 10000))     # a quarter
    assert status == 200, answer
    data = answer["data"]
    assert (data["state"], data["refundType"], data["actualBaseReturnAmount"]) == (1, 2, 750)
    assert {r["returnMchId"]: r["amount"] for r in data["returns"]} == {"1900000109": 500, "1900000110": 250}
    view = json.loads(api.get(f"/sharing/orders/{order}").body)["data"]
    assert view["holdings"] == {"1900000109": 1500, "1900000110": 750}


def test_several_partial_refunds_add_up_to_the_whole_with_three_awkward_receivers(api, channel):
    order = next_id("13587585")
    receivers = [("1900000109", 1001), ("1900000110", 997), ("1900000111", 1)]
    _share_and_settle(api, channel, order, receivers, amount=9999)
    returned = {a: 0 for a, _ in receivers}
    refunded = 0
    for amount in (3333, 1, 2, 4441, 2222):                     # 9999 in all
        refunded += amount
        status, answer = _refund(api, refund_notice(order, amount, 9999))
        assert status == 200, answer
        for row in answer["data"]["returns"]:
            assert row["result"] == "SUCCESS"
            returned[row["returnMchId"]] += row["amount"]
        assert sum(returned.values()) == 1999 * refunded // 9999
        assert all(returned[a] <= held for a, held in receivers)
    assert returned == dict(receivers)
    transaction_id = json.loads(api.get(f"/sharing/orders/{order}").body)["data"]["transactionId"]
    assert channel.view(transaction_id)["sharing_returned_amount"] == 1999


def test_cumulative_returns_follow_the_refunded_share(api, channel):
    order = next_id("13587585")
    _share_and_settle(api, channel, order, [("1900000109", 1001), ("1900000110", 997), ("1900000111", 1)],
                      amount=9999)
    refunded = returned = 0
    for amount in (1, 3333, 5000):
        refunded += amount
        data = _refund(api, refund_notice(order, amount, 9999))[1]["data"]
        returned += data["actualBaseReturnAmount"]
        assert returned == 1999 * refunded // 9999


def test_the_same_refund_again_is_answered_from_the_records(api, channel):
    order = next_id("13587585")
    _share_and_settle(api, channel, order, [("1900000109", 2000), ("1900000110", 1000)])
    notice = refund_notice(order, 5000, 10000)
    first = _refund(api, notice)[1]["data"]
    again = _refund(api, dict(notice, requestId="a-new-request-id", timestamp="1744035999"))[1]["data"]
    assert [r["sharingReturnNo"] for r in again["returns"]] == [r["sharingReturnNo"] for r in first["returns"]]
    assert len(channel.calls_of("profitsharing.return-orders")) == 2


def test_the_same_refund_id_with_another_amount_is_1030(api, channel):
    order = next_id("13587585")
    _share_and_settle(api, channel, order, [("1900000109", 2000)])
    notice = refund_notice(order, 5000, 10000)
    _refund(api, notice)
    status, answer = _refund(api, dict(notice, amt="5001"))
    assert (status, answer["code"], answer["field"]) == (409, 1030, "refundId")
    assert answer["message"] == (f"请求重入参数校验失败: refundId {notice['refundId']} was already used "
                                 "with other parameters: amt")
    assert len(channel.calls_of("profitsharing.return-orders")) == 1


def test_refunds_over_the_order_total_are_refused(api, channel):
    order = next_id("13587585")
    _share_and_settle(api, channel, order, [("1900000109", 2000)])
    _refund(api, refund_notice(order, 6000, 10000))
    status, answer = _refund(api, refund_notice(order, 4001, 10000))
    assert (status, answer["code"]) == (409, 3007)


def test_a_refund_while_receivers_are_pending_is_3006_and_writes_nothing(api, channel, stack):
    order = next_id("13587585")
    channel.paid(order, processing_ms=60_000)
    assert api.post("/sharing/orders", sharing_body(order, [("1900000109", 1000)])).status_code == 200
    notice = refund_notice(order, 10000, 10000)
    status, answer = _refund(api, notice)
    assert (status, answer["code"]) == (409, 3006)
    assert api.get(f"/sharing/refunds/{notice['refundId']}").status_code == 404


def test_an_order_total_other_than_the_paid_amount_is_400_and_writes_nothing(api, channel):
    order = next_id("13587585")
    _share_and_settle(api, channel, order, [("1900000109", 2000)])
    notice = refund_notice(order, 5000, 10001)
    status, answer = _refund(api, notice)
    assert (status, answer["code"], answer["field"]) == (400, 1001, "orderTotal")
    assert api.get(f"/sharing/refunds/{notice['refundId']}").status_code == 404
    assert channel.calls_of("profitsharing.return-orders") == []


def test_bad_refund_notice_is_400_naming_the_field(api, channel, stack):
    for change, field in (({"amt": "12.5"}, "amt"), ({"refundId": "x1"}, "refundId"),
                          ({"amt": "10001", "orderTotal": "10000", "refundType": 2}, "amt"),
                          ({"refundType": 1, "amt": "5"}, "refundType"),
                          ({"paymentOrderId": None}, "paymentOrderId")):
        status, answer = _refund(api, dict(refund_notice("1358758504770221747", 100, 10000), **change))
        assert (status, answer["code"], answer["field"]) == (400, 1001, field), (change, answer)
    assert stack.dynamodb.scan(TableName=stack.environment["SHARING_TABLE"])["Items"] == []
