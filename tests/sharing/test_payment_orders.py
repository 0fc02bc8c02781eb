"""One sharing order per (trade, payment order), against the real simulator: a business order
(dimension 2) paid by two payment orders is shared once per payment order, each receiver at most
once per (trade, payment order), refunds split per sharing order; the details' and returns'
columns (appid, settlementTime, parentMerchantId; product, sp, dimension; bizRefundId)."""
import json

from chalicelib.sharing import orders, refunds, scheduler
from chalicelib.sharing.messages import RefundNotification, SharingRequest
from chalicelib.sharing.models import SharingReturn
from tests.sharing.support import MCH_ID, SUB_MCHID, next_id, refund_notice, sharing_body, wait_until

BIZ_ORDER = "1835109860518134549_1"


def _post(api, body):
    answer = api.post("/sharing/orders", body)
    return answer.status_code, json.loads(answer.body)


def _get(api, path):
    answer = api.get(path)
    return answer.status_code, json.loads(answer.body)


def _finished(api, trade_id, payment_order_id):
    def check():
        status, body = _get(api, f"/sharing/orders/{trade_id}?paymentOrderId={payment_order_id}")
        return body["data"] if status == 200 and body["data"]["state"] == "FINISHED" else None
    data = wait_until(check)
    assert data, _get(api, f"/sharing/orders/{trade_id}?paymentOrderId={payment_order_id}")
    return data


def _two_payment_orders(channel):
    """One business order (bizRelOrderId `trade`) paid by two payment orders of 10000 fen."""
    first, second = next_id("13587585"), next_id("13587585")
    paid = [channel.paid(first, biz_order_id=BIZ_ORDER), channel.paid(second, biz_order_id=BIZ_ORDER)]
    return next_id("13588190") + "_0", (first, second), paid


def test_a_business_order_paid_by_two_payment_orders_is_shared_once_per_payment_order(api, channel):
    trade, (first, second), paid = _two_payment_orders(channel)
    status_1, one = _post(api, sharing_body(first, [("1900000109", 1000)], dimension=2, biz_rel_order_id=trade))
    status_2, two = _post(api, sharing_body(second, [("1900000109", 700), ("1900000110", 300)], dimension=2,
                                            biz_rel_order_id=trade))
    assert (status_1, status_2) == (200, 200), (one, two)
    assert one["data"]["tradeId"] == two["data"]["tradeId"] == trade
    assert one["data"]["sharingOrderId"] != two["data"]["sharingOrderId"]
    data_1, data_2 = _finished(api, trade, first), _finished(api, trade, second)
    assert (data_1["paymentOrderId"], data_1["sharedAmount"], data_1["transactionId"]) == \
        (first, 1000, paid[0]["transaction_id"])
    assert (data_2["paymentOrderId"], data_2["sharedAmount"], data_2["transactionId"]) == \
        (second, 1000, paid[1]["transaction_id"])
    # Each payment order's transaction was shared once, with its own sharing order.
    calls = channel.calls_of("profitsharing.orders")
    assert sorted(c["outbound_no"] for c in calls) == sorted(
        (one["data"]["sharingOrderId"], two["data"]["sharingOrderId"]))
    assert channel.view(paid[0]["transaction_id"])["shared_amount"] == 1000
    assert channel.view(paid[1]["transaction_id"])["shared_amount"] == 1000
    # Without a paymentOrderId the trade answers its first sharing order and lists both.
    status, listed = _get(api, f"/sharing/orders/{trade}")
    assert status == 200
    assert sorted((r["paymentOrderId"], r["sharingOrderId"]) for r in listed["data"]["sharingOrders"]) == \
        sorted(((first, one["data"]["sharingOrderId"]), (second, two["data"]["sharingOrderId"])))
    assert listed["data"]["paymentOrderId"] == min(first, second)
    # A payment order the trade was not shared for is a 404.
    status, missing = _get(api, f"/sharing/orders/{trade}?paymentOrderId={next_id('13587585')}")
    assert (status, missing["code"]) == (404, 4049)


def test_each_sharing_order_is_reentrant_on_its_own(api, channel):
    trade, (first, second), _ = _two_payment_orders(channel)
    body_1 = sharing_body(first, [("1900000109", 1000)], dimension=2, biz_rel_order_id=trade)
    body_2 = sharing_body(second, [("1900000109", 500)], dimension=2, biz_rel_order_id=trade)
    number_1 = _post(api, body_1)[1]["data"]["sharingOrderId"]
    number_2 = _post(api, body_2)[1]["data"]["sharingOrderId"]
    # The same request again answers its own record; other parameters of one are 1030 and do
    # not touch the other.
    assert _post(api, dict(body_1, traceId="again"))[1]["data"]["sharingOrderId"] == number_1
    assert _post(api, dict(body_2, traceId="again"))[1]["data"]["sharingOrderId"] == number_2
    status, refused = _post(api, sharing_body(first, [("1900000109", 1001)], dimension=2, biz_rel_order_id=trade))
    assert (status, refused["code"]) == (409, 1030)
    assert len(channel.calls_of("profitsharing.orders")) == 2
    assert _finished(api, trade, first)["receivers"][0]["amount"] == 1000
    assert _finished(api, trade, second)["receivers"][0]["amount"] == 500


def test_a_receiver_is_shared_at_most_once_per_trade_and_payment_order(api, channel, paid):
    order = paid["paymentOrderId"]
    status, first = _post(api, sharing_body(order, [("1900000109", 1000)]))
    assert status == 200, first
    _finished(api, order, order)
    # The same receiver again for the same (trade, payment order), alone or beside another,
    # is the sharing order's reentry with other parameters: 1030, no channel call.
    for receivers in ([("1900000109", 500)], [("1900000109", 1000), ("1900000110", 500)]):
        status, again = _post(api, sharing_body(order, receivers))
        assert (status, again["code"]) == (409, 1030), again
    # Twice in one request is refused before anything is written.
    status, twice = _post(api, sharing_body(next_id("13587585"), [("1900000109", 1), ("1900000109", 2)]))
    assert (status, twice["code"]) == (400, 1001)
    assert len(channel.calls_of("profitsharing.orders")) == 1
    data = _finished(api, order, order)
    assert [(r["receiveMchId"], r["amount"]) for r in data["receivers"]] == [("1900000109", 1000)]
    assert len(data["sharingOrders"]) == 1


def test_a_refund_of_one_payment_order_returns_only_from_its_sharing_order(ctx, channel, api):
    trade, (first, second), _ = _two_payment_orders(channel)
    for order, amount in ((first, 1000), (second, 2000)):
        orders.share(ctx, SharingRequest.model_validate(
            sharing_body(order, [("1900000109", amount)], dimension=2, biz_rel_order_id=trade)))

    def finished():
        scheduler.run(ctx)
        return all(orders.view(ctx, trade, po)["state"] == "FINISHED" for po in (first, second))
    assert wait_until(finished, timeout=8, step=0.1)
    notice = RefundNotification.model_validate(refund_notice(first, 5000, 10000, biz_rel_order_id=trade))
    answer = refunds.handle(ctx, notice)
    assert [(r["tradeId"], r["paymentOrderId"], r["actualBaseReturnAmount"]) for r in answer["relations"]] == \
        [(trade, first, 500)]
    assert answer["returns"][0]["sharingOrderId"] == orders.view(ctx, trade, first)["sharingOrderId"]
    assert orders.view(ctx, trade, first)["holdings"] == {"1900000109": 500}
    assert orders.view(ctx, trade, second)["holdings"] == {"1900000109": 2000}


def test_details_and_returns_carry_the_notes_columns(ctx, channel, paid):
    order = paid["paymentOrderId"]
    request = SharingRequest.model_validate(sharing_body(
        order, [("1900000109", 1000), ("1900000110", 600)], appid="wx8888888888888888",
        settlementTime=1744027300, spId="SP2002", spName="运力商B", productId=1096))
    orders.share(ctx, request)

    def finished():
        scheduler.run(ctx)
        return orders.view(ctx, order)["state"] == "FINISHED"
    assert wait_until(finished, timeout=8, step=0.1)
    view = orders.view(ctx, order)
    assert (view["appid"], view["settlementTime"], view["parentMerchantId"]) == \
        ("wx8888888888888888", 1744027300, MCH_ID)
    for row in view["receivers"]:
        assert (row["appid"], row["settlementTime"], row["parentMerchantId"], row["investMchId"]) == \
            ("wx8888888888888888", 1744027300, MCH_ID, SUB_MCHID)
    notice = refund_notice(order, 10000, 10000)
    answer = refunds.handle(ctx, RefundNotification.model_validate(notice))
    # bizRefundId is the refund's own id, not the notice's per-delivery requestId.
    assert answer["bizRefundId"] == notice["refundId"] != notice["requestId"]
    assert {(r["returnMchId"], r["amount"]) for r in answer["returns"]} == {("1900000109", 1000), ("1900000110", 600)}
    for row in answer["returns"]:
        assert (row["productId"], row["spId"], row["spName"], row["platformSharingDimension"],
                row["sharingOrderId"], row["investMchId"]) == \
            (1096, "SP2002", "运力商B", 1, view["sharingOrderId"], SUB_MCHID)
    stored = ctx.store("SHARING_RETURN").get(SharingReturn.key(
        ctx.tenant, order, order, notice["refundId"], "1900000109"))
    assert (stored.extra["product_id"], stored.extra["sp_id"], stored.extra["platform_sharing_dimension"],
            stored.extra["biz_refund_id"]) == (1096, "SP2002", 1, notice["refundId"])
