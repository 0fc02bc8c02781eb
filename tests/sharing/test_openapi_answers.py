"""Real answers of the profit-sharing routes conform to /openapi.json (status, schema), like
tests/unit/test_openapi_responses.py does for the other routes."""
import json

from tests.sharing.support import next_id, refund_notice, sharing_body, wait_until
from tests.unit.test_openapi_responses import conforms


def test_every_sharing_answer_is_documented(api, channel, paid):
    order = paid["paymentOrderId"]
    body = sharing_body(order, [("1900000109", 1000), ("1900000110", 500)])
    conforms("/sharing/orders", "POST", api.post("/sharing/orders", body))                        # 0
    conforms("/sharing/orders", "POST", api.post("/sharing/orders", dict(body, spId="other")))    # 1030
    conforms("/sharing/orders", "POST", api.post("/sharing/orders", dict(body, sharingMode=3)))   # 1001
    conforms("/sharing/orders", "POST", api.post("/sharing/orders",
                                                 sharing_body(next_id("13587585"), [("1", 1)])))  # 4047
    other = next_id("13587585")
    channel.paid(other)
    conforms("/sharing/orders", "POST", api.post("/sharing/orders", sharing_body(other, [("1", 9000), ("2", 1001)])))  # 3005
    conforms("/sharing/orders", "POST", api.post("/sharing/orders", sharing_body(other, [("1", 3001)])))  # 3003
    third = next_id("13587585")
    channel.paid(third)
    channel.fault("profitsharing.orders", "system_error")
    conforms("/sharing/orders", "POST", api.post("/sharing/orders", sharing_body(third, [("1", 1)])))  # 5041
    def state():
        return json.loads(api.get(f"/sharing/orders/{order}").body)["data"]
    assert wait_until(lambda: state()["state"] == "FINISHED"), state()
    conforms("/sharing/orders/{tradeId}", "GET", api.get(f"/sharing/orders/{order}"))
    conforms("/sharing/orders/{tradeId}", "GET", api.get("/sharing/orders/nothing-here"))          # 4049
    notice = refund_notice(order, 5000, 10000)
    conforms("/sharing/refunds", "POST", api.post("/sharing/refunds", notice))                      # 0
    conforms("/sharing/refunds", "POST", api.post("/sharing/refunds", dict(notice, amt="4000")))    # 1030
    conforms("/sharing/refunds", "POST", api.post("/sharing/refunds", refund_notice(order, 6000, 10000)))  # 3007
    conforms("/sharing/refunds", "POST", api.post("/sharing/refunds", dict(notice, amt="x")))       # 1001
    conforms("/sharing/refunds/{refundId}", "GET", api.get(f"/sharing/refunds/{notice['refundId']}"))
    conforms("/sharing/refunds/{refundId}", "GET", api.get(f"/sharing/refunds/{next_id()}"))       # 4050
    view = json.loads(api.get(f"/sharing/orders/{order}").body)["data"]
    ack = {"sub_mchid": "1692608207", "transaction_id": view["transactionId"], "order_id": view["wxSharingOrderId"],
           "out_order_no": view["sharingOrderId"],
           "receiver": {"type": "MERCHANT_ID", "account": "1900000109", "amount": 1000, "description": "分账",
                        "result": "SUCCESS", "fail_reason": None, "detail_id": "d"}}
    conforms("/channel/notifications/profitsharing", "POST", api.post("/channel/notifications/profitsharing", ack))
    conforms("/channel/notifications/profitsharing", "POST", api.post(
        "/channel/notifications/profitsharing", dict(ack, out_order_no="1" * 19)))                 # 4049
