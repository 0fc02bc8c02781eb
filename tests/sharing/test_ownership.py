"""A business line shares only orders paid to its own sub-merchants (its key's `sub_mchs`)."""
import json

from tests.sharing.support import SUB_MCHID, sharing_body
from tests.support.signing import BUSINESS, PLATFORM


def _answer(response):
    body = json.loads(response.body)
    return response.status_code, body["code"], body.get("field")


def test_sharing_an_order_paid_to_another_sub_merchant_is_403_and_writes_nothing(stack, api, paid):
    assert BUSINESS.sub_mchs == ("19*",) and not SUB_MCHID.startswith("19")   # not its own
    body = sharing_body(paid["paymentOrderId"], [("1900000109", 1000)])
    before = stack.snapshot()

    refused = api.as_caller(BUSINESS).post("/sharing/orders", body)

    assert _answer(refused) == (403, 4032, "paymentOrderId")
    after = stack.snapshot()
    assert {k: v for k, v in after.items() if k != "NoncesTable"} == \
        {k: v for k, v in before.items() if k != "NoncesTable"}


def test_the_owner_of_the_sub_merchant_may_share_it(stack, api, paid):
    body = sharing_body(paid["paymentOrderId"], [("1900000109", 1000)])
    assert _answer(api.as_caller(PLATFORM).post("/sharing/orders", body))[:2] == (200, 0)
