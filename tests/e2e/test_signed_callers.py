"""The stack's own callers sign, and what they sign is accepted: the merchant system's calls to
/pay and /withdraw (its key from the MerchantSigningKey secret) and the channel simulator's
notifications (the channel-sim key). Holds with or without the center's verification."""
import pytest
import requests

from tests.subsidies.support import MCH_ID, SUB_MCHID, next_id

from .support import new_saler

pytestmark = pytest.mark.e2e


def test_the_merchant_systems_pay_and_withdraw_are_accepted(stack):
    saler = new_saler()
    paid = stack.http.post(f"{stack.merchant_api}/merchant/pay", json={"saler_id": saler, "total_fee": "300"},
                           timeout=30).json()
    assert paid["state"] == "SUCCESS", paid
    stack.wait_for_balance(saler, 300)
    taken = stack.http.post(f"{stack.merchant_api}/merchant/withdraw",
                            json={"saler_id": saler, "withdraw_money": "100"}, timeout=30).json()
    assert taken["state"] == "SUCCESS", taken
    assert stack.account(saler)["balance"] == 200


def test_the_simulators_notification_is_accepted(stack):
    """The control call answers 502 when the center refused the notification."""
    answer = requests.post(f"{stack.manifest['channel_url']}/_control/orders", timeout=30, json={
        "payment_order_id": next_id("13262164"), "biz_order_id": "1774303629096779780_1",
        "mch_id": MCH_ID, "sub_mchid": SUB_MCHID, "amount": 10000, "subsidy_limit": 0,
        "attach": next(c["merchant_id"] for c in stack.manifest["merchants"] if c["key_id"] == "biz-demo")})
    assert answer.status_code == 200, answer.text


def test_the_stack_file_lists_the_keys_a_caller_signs_with(stack):
    merchants = {c["key_id"]: c for c in stack.manifest["merchants"]}
    assert {"mch-demo", "mch-other", "biz-demo", "channel-sim"} <= set(merchants)
    assert (merchants["mch-demo"]["merchant_id"], merchants["mch-other"]["merchant_id"]) == (
        "demo", "other")
    assert stack.http.auth.key_id == "mch-demo"
