"""Real answers of the subsidy routes conform to /openapi.json (status, schema), like
tests/unit/test_openapi_responses.py does for the other routes."""
from tests.subsidies.support import create_body, next_id, return_body
from tests.support.signing import PLATFORM
from tests.unit.test_openapi_responses import conforms


def test_every_subsidy_answer_is_documented(api, channel, paid):
    body = create_body(paid["paymentOrderId"])
    created = conforms("/subsidies", "POST", api.post("/subsidies", body))["data"]
    conforms("/subsidies", "POST", api.post("/subsidies", dict(body, amount=1)))           # 1030
    conforms("/subsidies", "POST", api.post("/subsidies", dict(body, amount="x")))         # 1001
    conforms("/subsidies", "POST", api.post("/subsidies", create_body(next_id("13262164"))))  # 4047
    channel.fault("subsidies.create", "system_error")
    conforms("/subsidies", "POST", api.post("/subsidies", create_body(paid["paymentOrderId"])))  # 5041
    channel.fault("subsidies.return", "reject")
    back = return_body(created, amount=100)
    conforms("/subsidies/returns", "POST", api.post("/subsidies/returns", back))            # 3003
    conforms("/subsidies/returns", "POST", api.post("/subsidies/returns", back))            # 0
    conforms("/subsidies/returns", "POST", api.post("/subsidies/returns",
                                                    return_body(created, amount=5000)))      # 3001
    conforms("/subsidies/{bizSubsidiesId}", "GET", api.get(f"/subsidies/{created['bizSubsidiesId']}"))
    conforms("/subsidies/{bizSubsidiesId}", "GET", api.get(f"/subsidies/{next_id()}"))     # 4048
    notice = {"attach": PLATFORM.merchant_id, "payment_order_id": paid["paymentOrderId"], "biz_order_id": "1774303629096779780_1",
              "mch_id": "1800007135", "sub_mchid": "1692608207",
              "transaction_id": paid["transaction_id"], "openid": paid["openid"], "amount": 10000,
              "success_time": "2026-11-22T14:00:00+08:00"}
    assert conforms("/channel/notifications/transactions", "POST",
                    api.post("/channel/notifications/transactions", notice))["message"] == "replayed"
    conforms("/channel/notifications/transactions", "POST", api.post(
        "/channel/notifications/transactions", dict(notice, transaction_id="4200000000000000000000000001")))
