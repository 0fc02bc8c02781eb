"""Unfreezing what a sharing with unfreezeOrder 2 left frozen, against the real simulator: on
request (the signed, tenant-scoped route) or by the sharing scheduler after the sharing is final;
either way one channel unfreeze, on the unfreeze's own outbound number, whoever asks and however
often."""
import json

import pytest

from chalicelib.errors import ErrorCode
from chalicelib.sharing import orders, scheduler, unfreeze
from chalicelib.sharing.common import SharingError
from chalicelib.sharing.messages import SharingRequest
from tests.sharing.support import next_id, sharing_body, wait_until
from tests.support.signing import TENANT_A, TENANT_B
from tests.unit.support import body_of
from tests.unit.test_openapi_responses import conforms

UNFREEZE = "profitsharing.unfreeze"


def _shared(ctx, channel, unfreeze_order=2, **overrides):
    order = next_id("13587585")
    paid = channel.paid(order)
    orders.share(ctx, SharingRequest.model_validate(
        sharing_body(order, [("1900000109", 1000)], unfreezeOrder=unfreeze_order, **overrides)))
    return order, paid


def _finish(ctx, order):
    def finished():
        scheduler.run(ctx)
        return orders.view(ctx, order)["state"] == "FINISHED"
    assert wait_until(finished, timeout=8, step=0.1), orders.view(ctx, order)
    return orders.find(ctx, order)


def test_unfreeze_order_2_keeps_the_rest_frozen_until_the_unfreeze(ctx, channel):
    order, paid = _shared(ctx, channel)
    sharing = _finish(ctx, order)
    assert channel.view(paid["transaction_id"])["unfrozen"] is False
    before = orders.view(ctx, order)["unfreeze"]
    assert before["state"] == "FROZEN" and before["scheduledAt"] and before["unfreezeOrderNo"] == ""
    answer = unfreeze.unfreeze(ctx, sharing)
    assert answer["state"] == "UNFROZEN" and len(answer["unfreezeOrderNo"]) == 19
    assert answer["unfreezeOrderNo"] != sharing.outbound_no       # its own number, not the sharing's
    unfrozen = channel.view(paid["transaction_id"])
    assert unfrozen["unfrozen"] is True and unfrozen["unfreeze"]["out_order_no"] == answer["unfreezeOrderNo"]
    assert orders.view(ctx, order)["unfreeze"]["scheduledAt"] == ""     # nothing left scheduled


def test_unfreezing_twice_calls_the_channel_once(ctx, channel, clock):
    order, _ = _shared(ctx, channel)
    sharing = _finish(ctx, order)
    first = unfreeze.unfreeze(ctx, sharing)
    again = unfreeze.unfreeze(ctx, sharing)
    assert again == first
    clock.advance(ctx.unfreeze_after_seconds + 1)
    scheduler.run(ctx)                                          # the scheduled one finds it done
    calls = channel.calls_of(UNFREEZE)
    assert [c["outbound_no"] for c in calls] == [first["unfreezeOrderNo"]]
    assert orders.view(ctx, order)["unfreeze"]["unfreezeOrderNo"] == first["unfreezeOrderNo"]


def test_an_unknown_unfreeze_is_sent_again_with_the_same_number(ctx, channel):
    order, paid = _shared(ctx, channel)
    sharing = _finish(ctx, order)
    channel.fault(UNFREEZE, "system_error", count=1)
    with pytest.raises(SharingError) as unknown:
        unfreeze.unfreeze(ctx, sharing)
    assert unknown.value.code == ErrorCode.OUTCOME_UNKNOWN
    answer = unfreeze.unfreeze(ctx, sharing)
    assert answer["state"] == "UNFROZEN" and answer["sends"] == 2
    calls = channel.calls_of(UNFREEZE)
    assert [c["outbound_no"] for c in calls] == [answer["unfreezeOrderNo"]] * 2
    assert channel.applied(answer["unfreezeOrderNo"]) == 1
    assert channel.view(paid["transaction_id"])["unfrozen"] is True


def test_the_scheduler_unfreezes_after_the_last_planned_sharing(ctx, channel, clock):
    """A delayed sharing: nothing is unfrozen before it was sent and settled, nor before the
    unfreeze's delay after that; then the scheduler unfreezes, once."""
    plan = int(ctx.now().timestamp()) + 3600
    order, paid = _shared(ctx, channel, sharingMode=2, planSharingTime=plan)
    with pytest.raises(SharingError) as early:
        unfreeze.unfreeze(ctx, orders.find(ctx, order))     # still scheduled: 3006, nothing sent
    assert early.value.code == ErrorCode.SHARING_IN_PROGRESS
    scheduler.run(ctx)
    assert channel.calls_of(UNFREEZE) == []
    clock.advance(3601)
    _finish(ctx, order)
    scheduler.run(ctx)
    assert channel.calls_of(UNFREEZE) == [] and not channel.view(paid["transaction_id"])["unfrozen"]
    assert orders.view(ctx, order)["unfreeze"]["state"] == "FROZEN"
    clock.advance(ctx.unfreeze_after_seconds + 1)
    scheduler.run(ctx)
    view = orders.view(ctx, order)["unfreeze"]
    assert view["state"] == "UNFROZEN" and view["scheduledAt"] == ""
    scheduler.run(ctx)
    assert [c["outbound_no"] for c in channel.calls_of(UNFREEZE)] == [view["unfreezeOrderNo"]]
    assert channel.view(paid["transaction_id"])["unfreeze"]["out_order_no"] == view["unfreezeOrderNo"]


def test_a_scheduled_unfreeze_after_an_unknown_answer_tries_again_later(ctx, channel, clock):
    order, paid = _shared(ctx, channel)
    _finish(ctx, order)
    channel.fault(UNFREEZE, "system_error", count=1)
    clock.advance(ctx.unfreeze_after_seconds + 1)
    scheduler.run(ctx)
    assert orders.view(ctx, order)["unfreeze"]["state"] == "UNKNOWN"
    scheduler.run(ctx)
    view = orders.view(ctx, order)["unfreeze"]
    assert view["state"] == "UNFROZEN"
    assert [c["outbound_no"] for c in channel.calls_of(UNFREEZE)] == [view["unfreezeOrderNo"]] * 2
    assert channel.applied(view["unfreezeOrderNo"]) == 1


def test_unfreeze_order_1_was_unfrozen_by_the_sharing_itself(ctx, channel, clock):
    order, paid = _shared(ctx, channel, unfreeze_order=1)
    sharing = _finish(ctx, order)
    assert unfreeze.unfreeze(ctx, sharing)["state"] == "UNFROZEN_BY_SHARING"
    clock.advance(ctx.unfreeze_after_seconds + 1)
    scheduler.run(ctx)
    assert channel.calls_of(UNFREEZE) == []
    assert channel.view(paid["transaction_id"])["unfreeze"]["by"] == "unfreeze_unsplit"


def test_the_unfreeze_route_is_scoped_to_the_callers_tenant(api, channel):
    api_a, api_b = api.as_caller(TENANT_A), api.as_caller(TENANT_B)
    order = next_id("13587585")
    paid = channel.paid(order, tenant=TENANT_A.merchant_id)
    assert api_a.post("/sharing/orders", sharing_body(order, [("1900000109", 1000)], unfreezeOrder=2)).status_code == 200

    def finished():
        answer = api_a.get(f"/sharing/orders/{order}")
        return answer.status_code == 200 and body_of(answer)["data"]["state"] == "FINISHED"
    assert wait_until(finished, timeout=8, step=0.1)

    theirs = api_b.post(f"/sharing/orders/{order}/unfreeze", {})
    missing = api_b.post(f"/sharing/orders/{next_id('13587585')}/unfreeze", {})
    assert theirs.status_code == missing.status_code == 404
    assert body_of(theirs) == body_of(missing) and body_of(theirs)["code"] == 4049
    conforms("/sharing/orders/{tradeId}/unfreeze", "POST", theirs)
    assert api.post(f"/sharing/orders/{order}/unfreeze", {}).body == missing.body   # the platform's key
    assert channel.calls_of(UNFREEZE) == [] and not channel.view(paid["transaction_id"])["unfrozen"]

    mine = api_a.post(f"/sharing/orders/{order}/unfreeze", {"paymentOrderId": order})
    again = api_a.post(f"/sharing/orders/{order}/unfreeze", {})
    assert mine.status_code == again.status_code == 200, mine.body
    assert body_of(mine)["data"]["state"] == "UNFROZEN"
    conforms("/sharing/orders/{tradeId}/unfreeze", "POST", mine)
    assert body_of(again)["data"]["unfreezeOrderNo"] == body_of(mine)["data"]["unfreezeOrderNo"]
    assert len(channel.calls_of(UNFREEZE)) == 1
    assert channel.view(paid["transaction_id"])["unfrozen"] is True
    bad = api_a.post(f"/sharing/orders/{order}/unfreeze", {"paymentOrderId": "x"})
    assert (bad.status_code, body_of(bad)["code"]) == (400, 1001)
    conforms("/sharing/orders/{tradeId}/unfreeze", "POST", bad)
    conforms("/sharing/orders/{tradeId}", "GET", api_a.get(f"/sharing/orders/{order}"))
    assert json.loads(api_a.get(f"/sharing/orders/{order}").body)["data"]["unfreeze"]["state"] == "UNFROZEN"
