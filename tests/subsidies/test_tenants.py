"""Tenants apart, through the HTTP API against the real simulator: two business lines of two
tenants use the same paymentOrderId, bizSubsidiesId, paymentRefundId and bizReturnSubsidiesId;
each gets its own subsidy and returns. Another tenant's subsidy reads, and is returned, exactly
like a missing one; the channel's notice of a paid order is filed under the tenant its `attach`
names, and one without a tenant is refused."""
import dataclasses

import pytest

from chalicelib.subsidies import sweeper
from tests.subsidies.support import OTHER_SUB_MCHID, SUB_MCHID, create_body, next_id, return_body
from tests.support.signing import TENANT_A, TENANT_B
from tests.unit.support import body_of


@pytest.fixture
def tenants(api):
    return api.as_caller(TENANT_A), api.as_caller(TENANT_B)


def answer(response):
    return response.status_code, body_of(response)


def paid_for_both(channel, payment_order_id):
    """The same paymentOrderId paid for tenant A (its sub-merchant) and for tenant B (its own)."""
    return (channel.order(payment_order_id, tenant=TENANT_A.merchant_id, sub_mchid=SUB_MCHID),
            channel.order(payment_order_id, tenant=TENANT_B.merchant_id, sub_mchid=OTHER_SUB_MCHID))


def test_two_tenants_with_the_same_ids_each_get_their_own_subsidy_and_returns(tenants, channel):
    api_a, api_b = tenants
    order, subsidy_id = next_id("13262164"), next_id()
    paid_a, paid_b = paid_for_both(channel, order)
    status_a, created_a = answer(api_a.post("/subsidies", create_body(order, subsidy_id, amount=2332)))
    status_b, created_b = answer(api_b.post("/subsidies", create_body(order, subsidy_id, amount=1000,
                                                                      subMchId=OTHER_SUB_MCHID)))
    assert (status_a, created_a["code"], status_b, created_b["code"]) == (200, 0, 200, 0), (created_a, created_b)
    assert (created_a["data"]["openid"], created_b["data"]["openid"]) == (paid_a["openid"], paid_b["openid"])
    number_a, number_b = created_a["data"]["paymentSubsidiesId"], created_b["data"]["paymentSubsidiesId"]
    assert number_a != number_b and channel.applied(number_a) == channel.applied(number_b) == 1

    refund_id, return_id = next_id("13262164"), next_id()
    back_a = return_body(created_a["data"], amount=2332, payment_refund_id=refund_id,
                         biz_return_subsidies_id=return_id)
    back_b = return_body(created_b["data"], amount=600, payment_refund_id=refund_id,
                         biz_return_subsidies_id=return_id, subMchId=OTHER_SUB_MCHID)
    assert answer(api_a.post("/subsidies/returns", back_a))[1]["code"] == 0
    assert answer(api_b.post("/subsidies/returns", back_b))[1]["code"] == 0
    # Bounded per tenant: A has nothing left, B 400 of its own 1000.
    over = return_body(created_a["data"], amount=1)
    assert answer(api_a.post("/subsidies/returns", over))[1]["code"] == 3001
    view_a = body_of(api_a.get(f"/subsidies/{subsidy_id}"))["data"]
    view_b = body_of(api_b.get(f"/subsidies/{subsidy_id}"))["data"]
    assert (view_a["total_amount"], view_a["returned_amount"], view_a["returnable_amount"]) == (2332, 2332, 0)
    assert (view_b["total_amount"], view_b["returned_amount"], view_b["returnable_amount"]) == (1000, 600, 400)
    assert view_a["paymentSubsidiesId"] == number_a and view_b["paymentSubsidiesId"] == number_b
    assert channel.view(paid_a["transaction_id"])["returned_amount"] == 2332
    assert channel.view(paid_b["transaction_id"])["returned_amount"] == 600


def test_another_tenants_subsidy_reads_exactly_like_a_missing_one(api, tenants, channel):
    api_a, api_b = tenants
    order = next_id("13262164")
    channel.order(order, tenant=TENANT_A.merchant_id)
    created = body_of(api_a.post("/subsidies", create_body(order)))
    assert created["code"] == 0, created
    subsidy_id = created["data"]["bizSubsidiesId"]
    theirs, missing = api_b.get(f"/subsidies/{subsidy_id}"), api_b.get(f"/subsidies/{next_id()}")
    assert theirs.status_code == missing.status_code == 404
    assert body_of(theirs) == body_of(missing) and body_of(theirs)["code"] == 4048
    # Any other tenant's key, the platform's test key included, is refused the same way.
    assert api.get(f"/subsidies/{subsidy_id}").body == missing.body
    assert api_a.get(f"/subsidies/{subsidy_id}").status_code == 200


def test_another_tenants_paid_order_and_subsidy_answer_like_missing_ones(tenants, channel, stack, table):
    """B knows A's paymentOrderId, bizSubsidiesId and paymentSubsidiesId: its subsidy is
    refused as for an order never paid, its return as for a subsidy that does not exist, and
    nothing of A's changes."""
    api_a, api_b = tenants
    order = next_id("13262164")
    channel.order(order, tenant=TENANT_A.merchant_id)
    created = body_of(api_a.post("/subsidies", create_body(order)))["data"]
    before = body_of(api_a.get(f"/subsidies/{created['bizSubsidiesId']}"))
    items = stack.count(table)

    never_paid = answer(api_b.post("/subsidies", create_body(next_id("13262164"))))
    theirs = answer(api_b.post("/subsidies", create_body(order)))
    assert theirs[0] == never_paid[0] == 404 and theirs[1]["code"] == never_paid[1]["code"] == 4047
    assert theirs[1]["message"] == never_paid[1]["message"]

    missing = answer(api_b.post("/subsidies/returns", return_body(dict(created, bizSubsidiesId=next_id()))))
    taken = answer(api_b.post("/subsidies/returns", return_body(created)))
    assert taken[0] == missing[0] == 404 and taken[1] == dict(missing[1], data=taken[1]["data"])
    assert taken[1]["code"] == 4048
    assert stack.count(table) == items
    assert body_of(api_a.get(f"/subsidies/{created['bizSubsidiesId']}")) == before


def test_a_paid_order_notice_is_filed_under_its_tenant_only(api, tenants, channel):
    api_a, api_b = tenants
    order = next_id("13262164")
    notice = {"attach": TENANT_A.merchant_id, "payment_order_id": order,
              "biz_order_id": "1774303629096779780_1", "mch_id": "1800007135", "sub_mchid": SUB_MCHID,
              "transaction_id": "4200000000000000000000000077", "openid": "ou8xtenant", "amount": 10000,
              "success_time": "2026-11-22T14:00:00+08:00"}
    assert body_of(api.post("/channel/notifications/transactions", notice))["message"] == "recorded"
    # Tenant B's notice of its own order with the same id is another record, not a conflict.
    theirs = dict(notice, attach=TENANT_B.merchant_id, transaction_id="4200000000000000000000000078")
    assert body_of(api.post("/channel/notifications/transactions", theirs))["message"] == "recorded"
    assert body_of(api.post("/channel/notifications/transactions", notice))["message"] == "replayed"


@pytest.mark.parametrize("attach", [None, "", " "])
def test_a_paid_order_notice_without_a_tenant_is_refused_and_writes_nothing(api, stack, table, attach):
    notice = {"payment_order_id": next_id("13262164"), "biz_order_id": "1774303629096779780_1",
              "mch_id": "1800007135", "sub_mchid": SUB_MCHID,
              "transaction_id": "4200000000000000000000000079", "openid": "ou8xnobody", "amount": 10000,
              "success_time": "2026-11-22T14:00:00+08:00"}
    if attach is not None:
        notice["attach"] = attach
    before = stack.count(table)
    status, refused = answer(api.post("/channel/notifications/transactions", notice))
    assert (status, refused["code"], refused["field"]) == (400, 1001, "attach")
    assert stack.count(table) == before


def test_one_sweeper_run_resolves_the_unknown_subsidies_of_every_tenant(tenants, channel, ctx, clock):
    """Both tenants' creates (same bizSubsidiesId) lose the channel's answer; the sweeper's one
    run re-sends each with its own number, under its own tenant."""
    api_a, api_b = tenants
    order, subsidy_id = next_id("13262164"), next_id()
    paid_for_both(channel, order)
    channel.fault("subsidies.create", "timeout_after_commit", count=2)
    unknown_a = body_of(api_a.post("/subsidies", create_body(order, subsidy_id)))
    unknown_b = body_of(api_b.post("/subsidies", create_body(order, subsidy_id, subMchId=OTHER_SUB_MCHID)))
    assert unknown_a["code"] == unknown_b["code"] == 5041, (unknown_a, unknown_b)
    clock.advance(3600)                    # past every lease and retry time
    report = sweeper.run(dataclasses.replace(ctx, tenant=None))          # as scheduled: no tenant
    assert report.succeeded == 2, report
    for tenant_api, unknown in ((api_a, unknown_a), (api_b, unknown_b)):
        view = body_of(tenant_api.get(f"/subsidies/{subsidy_id}"))["data"]
        assert view["state"] == "SUCCEEDED"
        assert view["paymentSubsidiesId"] == unknown["data"]["paymentSubsidiesId"]
        assert channel.applied(view["paymentSubsidiesId"]) == 1
