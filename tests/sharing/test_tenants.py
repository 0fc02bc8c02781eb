"""Tenants apart in profit sharing, against the real simulator: two tenants' business lines use
the same paymentOrderId (tradeId) and refundId, each shares and returns its own money; the
channel's notices reach only the tenant that sent the order; another tenant's sharing and
refund read exactly like missing ones; queued refund notices carry their tenant (one without
is refused); the scheduler serves every tenant in one run."""
import dataclasses
import json

import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.sharing import notifications, orders, refunds, scheduler
from chalicelib.sharing.messages import SharingRequest
from tests.sharing.support import SUB_MCHID, next_id, refund_notice, sharing_body, wait_until
from tests.subsidies.support import OTHER_SUB_MCHID
from tests.support.signing import TENANT_A, TENANT_B
from tests.unit.support import body_of


@pytest.fixture
def tenants(api):
    return api.as_caller(TENANT_A), api.as_caller(TENANT_B)


def paid_for_both(channel, order, processing_ms=50):
    """The same paymentOrderId paid for tenant A (its sub-merchant) and tenant B (its own)."""
    return (channel.paid(order, tenant=TENANT_A.merchant_id, sub_mchid=SUB_MCHID, processing_ms=processing_ms),
            channel.paid(order, tenant=TENANT_B.merchant_id, sub_mchid=OTHER_SUB_MCHID,
                         processing_ms=processing_ms))


def view(api, path):
    response = api.get(path)
    return response.status_code, body_of(response)


def finished(api, trade_id):
    def check():
        status, body = view(api, f"/sharing/orders/{trade_id}")
        return body["data"] if status == 200 and body["data"]["state"] == "FINISHED" else None
    data = wait_until(check)
    assert data, view(api, f"/sharing/orders/{trade_id}")
    return data


def test_two_tenants_with_the_same_trade_and_refund_ids_each_share_and_return_their_own(tenants, channel):
    api_a, api_b = tenants
    order = next_id("13587585")
    paid_a, paid_b = paid_for_both(channel, order)
    shared_a = api_a.post("/sharing/orders", sharing_body(order, [("1900000109", 1000)]))
    shared_b = api_b.post("/sharing/orders", sharing_body(order, [("1900000109", 2000)]))
    assert shared_a.status_code == shared_b.status_code == 200, (shared_a.body, shared_b.body)
    number_a = body_of(shared_a)["data"]["sharingOrderId"]
    number_b = body_of(shared_b)["data"]["sharingOrderId"]
    assert number_a != number_b
    # Each tenant's receivers were settled by the channel's notices of its own order only.
    data_a, data_b = finished(api_a, order), finished(api_b, order)
    assert (data_a["sharingOrderId"], data_a["sharedAmount"], data_a["transactionId"]) == \
        (number_a, 1000, paid_a["transaction_id"])
    assert (data_b["sharingOrderId"], data_b["sharedAmount"], data_b["transactionId"]) == \
        (number_b, 2000, paid_b["transaction_id"])

    refund_id = next_id("13588488")
    refund_a = api_a.post("/sharing/refunds", refund_notice(order, 5000, 10000, refund_id=refund_id))
    refund_b = api_b.post("/sharing/refunds", refund_notice(order, 10000, 10000, refund_id=refund_id,
                                                            subMchId=OTHER_SUB_MCHID))
    assert refund_a.status_code == refund_b.status_code == 200, (refund_a.body, refund_b.body)
    status_a, back_a = view(api_a, f"/sharing/refunds/{refund_id}")
    status_b, back_b = view(api_b, f"/sharing/refunds/{refund_id}")
    assert (status_a, back_a["data"]["state"], back_a["data"]["actualBaseReturnAmount"]) == (200, 1, 500)
    assert (status_b, back_b["data"]["state"], back_b["data"]["actualBaseReturnAmount"]) == (200, 1, 2000)
    assert {r["sharingReturnNo"] for r in back_a["data"]["returns"]}.isdisjoint(
        {r["sharingReturnNo"] for r in back_b["data"]["returns"]})
    assert channel.view(paid_a["transaction_id"])["sharing_returned_amount"] == 500
    assert channel.view(paid_b["transaction_id"])["sharing_returned_amount"] == 2000
    assert finished(api_a, order)["holdings"] == {"1900000109": 500}
    assert finished(api_b, order)["holdings"] == {"1900000109": 0}


def test_another_tenants_sharing_and_refund_read_exactly_like_missing_ones(api, tenants, channel):
    api_a, api_b = tenants
    order = next_id("13587585")
    channel.paid(order, tenant=TENANT_A.merchant_id)
    assert api_a.post("/sharing/orders", sharing_body(order, [("1900000109", 1000)])).status_code == 200
    finished(api_a, order)
    refund_id = next_id("13588488")
    assert api_a.post("/sharing/refunds", refund_notice(order, 4000, 10000, refund_id=refund_id)).status_code == 200

    for path, missing_path, code in ((f"/sharing/orders/{order}", f"/sharing/orders/{next_id('13587585')}", 4049),
                                     (f"/sharing/refunds/{refund_id}",
                                      f"/sharing/refunds/{next_id('13588488')}", 4050)):
        theirs, missing = api_b.get(path), api_b.get(missing_path)
        assert theirs.status_code == missing.status_code == 404
        assert body_of(theirs) == body_of(missing) and body_of(theirs)["code"] == code
        assert api.get(path).body == missing.body              # the platform test key: another tenant
        assert api_a.get(path).status_code == 200


def test_another_tenants_paid_order_is_never_paid_for_this_tenant(tenants, channel):
    """B names A's paymentOrderId: its sharing is refused like one of an order never paid (no
    sub-merchant is looked up across tenants), its refund finds no sharing (state 3), and A's
    sharing is untouched."""
    api_a, api_b = tenants
    order = next_id("13587585")
    channel.paid(order, tenant=TENANT_A.merchant_id)
    assert api_a.post("/sharing/orders", sharing_body(order, [("1900000109", 1000)])).status_code == 200
    before = finished(api_a, order)

    theirs = api_b.post("/sharing/orders", sharing_body(order, [("1900000109", 1000)]))
    never = api_b.post("/sharing/orders", sharing_body(next_id("13587585"), [("1900000109", 1000)]))
    assert theirs.status_code == never.status_code == 404
    assert body_of(theirs) == body_of(never) and body_of(theirs)["code"] == 4047

    refund = api_b.post("/sharing/refunds", refund_notice(order, 10000, 10000))
    assert refund.status_code == 200 and body_of(refund)["data"]["state"] == 3
    assert body_of(refund)["data"]["actualBaseReturnAmount"] == 0
    assert finished(api_a, order) == before
    assert len(channel.calls_of("profitsharing.return-orders")) == 0


def test_a_channel_notice_reaches_only_the_owning_tenants_record(api, tenants, channel):
    """The receivers stay PENDING at the channel for a minute; the test posts the channel's
    notices itself. A's notice settles A's receiver only; a notice pairing A's out_order_no
    with B's transaction (or sub-merchant) is refused as unknown and changes nothing."""
    api_a, api_b = tenants
    order = next_id("13587585")
    paid_a, paid_b = paid_for_both(channel, order, processing_ms=60_000)
    number_a = body_of(api_a.post("/sharing/orders", sharing_body(order, [("1900000109", 1000)])))["data"]["sharingOrderId"]
    number_b = body_of(api_b.post("/sharing/orders", sharing_body(order, [("1900000109", 1000)])))["data"]["sharingOrderId"]
    notice = {"sub_mchid": SUB_MCHID, "transaction_id": paid_a["transaction_id"], "order_id": "3008450740201411110007820472",
              "out_order_no": number_a,
              "receiver": {"type": "MERCHANT_ID", "account": "1900000109", "amount": 1000, "description": "分账",
                           "result": "SUCCESS", "detail_id": "36011111111111111111111"},
              "success_time": "2026-11-22T14:00:00+08:00"}
    for forged in (dict(notice, transaction_id=paid_b["transaction_id"]),
                   dict(notice, sub_mchid=OTHER_SUB_MCHID),
                   dict(notice, out_order_no=number_b)):
        refused = api.post("/channel/notifications/profitsharing", forged)
        assert (refused.status_code, body_of(refused)["code"]) == (404, 4049), forged
    for tenant_api in (api_a, api_b):
        assert view(tenant_api, f"/sharing/orders/{order}")[1]["data"]["receivers"][0]["state"] == "PENDING"

    recorded = api.post("/channel/notifications/profitsharing", notice)
    assert (recorded.status_code, body_of(recorded)["message"]) == (200, "recorded")
    data_a = view(api_a, f"/sharing/orders/{order}")[1]["data"]
    data_b = view(api_b, f"/sharing/orders/{order}")[1]["data"]
    assert (data_a["receivers"][0]["state"], data_a["sharedAmount"]) == ("SUCCESS", 1000)
    assert (data_b["receivers"][0]["state"], data_b["sharedAmount"]) == ("PENDING", 0)


def _event(notice: dict, tenant=None) -> dict:
    message = {"messageId": "m-tenant", "body": json.dumps(notice)}
    if tenant is not None:
        message["messageAttributes"] = {"tenant": {"stringValue": tenant, "dataType": "String"}}
    return {"Records": [message]}


def _shared(ctx, channel, order, tenant, sub_mchid, amount):
    mine = ctx.for_tenant(tenant)
    channel.paid(order, tenant=tenant, sub_mchid=sub_mchid)
    orders.share(mine, SharingRequest.model_validate(sharing_body(order, [("1900000109", amount)])))
    assert wait_until(lambda: scheduler.run(ctx) and orders.view(mine, order)["state"] == "FINISHED",
                      timeout=5, step=0.1)
    return mine


def test_queued_refund_notices_are_handled_under_their_tenant(ctx, channel):
    order, refund_id = next_id("13587585"), next_id("13588488")
    a = _shared(ctx, channel, order, TENANT_A.merchant_id, SUB_MCHID, 1000)
    b = _shared(ctx, channel, order, TENANT_B.merchant_id, OTHER_SUB_MCHID, 2000)
    as_queued = dataclasses.replace(ctx, tenant=None)         # the queue's Lambda: no caller
    notice_a = refund_notice(order, 10000, 10000, refund_id=refund_id)
    notice_b = refund_notice(order, 5000, 10000, refund_id=refund_id, subMchId=OTHER_SUB_MCHID)
    assert notifications.handle_sqs_event(as_queued, _event(notice_a, TENANT_A.merchant_id)) == {"handled": 1}
    assert notifications.handle_sqs_event(as_queued, _event(notice_b, TENANT_B.merchant_id)) == {"handled": 1}
    assert notifications.handle_sqs_event(as_queued, _event(notice_a, TENANT_A.merchant_id)) == {"handled": 1}
    assert (refunds.view(a, refund_id)["state"], refunds.view(a, refund_id)["actualBaseReturnAmount"]) == (1, 1000)
    assert (refunds.view(b, refund_id)["state"], refunds.view(b, refund_id)["actualBaseReturnAmount"]) == (1, 1000)
    assert orders.view(a, order)["holdings"] == {"1900000109": 0}
    assert orders.view(b, order)["holdings"] == {"1900000109": 1000}


@pytest.mark.parametrize("attributes", [None, {}, {"tenant": {"stringValue": "", "dataType": "String"}},
                                        {"other": {"stringValue": "tenant-a", "dataType": "String"}}])
def test_a_queued_refund_notice_without_a_tenant_is_refused_logged_and_writes_nothing(ctx, stack, log_lines,
                                                                                      attributes):
    notice = refund_notice(next_id("13587585"), 10000, 10000)
    event = _event(notice)
    if attributes is not None:
        event["Records"][0]["messageAttributes"] = attributes
    table = stack.environment["SHARING_TABLE"]
    before = stack.count(table)
    with pytest.raises(PaySettleError) as refused:       # SQS re-delivers it, then dead-letters it
        notifications.handle_sqs_event(dataclasses.replace(ctx, tenant=None), event)
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_FIELD, "tenant")
    assert [line["level"] for line in log_lines.events("sharing_refund.no_tenant")] == ["ERROR"]
    assert stack.count(table) == before


def test_one_scheduler_run_sends_the_due_delayed_sharings_of_every_tenant(ctx, channel, clock):
    order = next_id("13587585")
    paid_for_both(channel, order)
    plan = int(ctx.now().timestamp()) + 3600
    scheduled = {}
    for tenant, amount in ((TENANT_A.merchant_id, 1000), (TENANT_B.merchant_id, 2000)):
        mine = ctx.for_tenant(tenant)
        request = SharingRequest.model_validate(sharing_body(order, [("1900000109", amount)], sharingMode=2,
                                                             planSharingTime=plan))
        data = orders.share(mine, request)
        assert data["state"] == "SCHEDULED"
        scheduled[tenant] = (mine, data["sharingOrderId"], amount)
    clock.advance(3601)
    as_scheduled = dataclasses.replace(ctx, tenant=None)
    report = scheduler.run(as_scheduled)
    assert report.sent == 2, report
    assert sorted(c["outbound_no"] for c in channel.calls_of("profitsharing.orders")) == \
        sorted(number for _, number, _ in scheduled.values())
    for mine, number, amount in scheduled.values():
        assert wait_until(lambda: scheduler.run(as_scheduled) and orders.view(mine, order)["state"] == "FINISHED",
                          timeout=5, step=0.1)
        data = orders.view(mine, order)
        assert (data["sharingOrderId"], data["sharedAmount"]) == (number, amount)
