"""Delayed sharing (sharingMode 2): executed by sharing_scheduler at planSharingTime; a refund
arriving while it is still scheduled reduces its plan in proportion, or cancels it (full refund).
The clock is the test's (it jumps); the channel is the real simulator."""
from chalicelib.sharing import orders, refunds, scheduler
from chalicelib.sharing.messages import RefundNotification, SharingRequest
from tests.sharing.support import next_id, refund_notice, sharing_body, wait_until


def _delayed(ctx, channel, receivers, amount=10000, in_seconds=3600):
    order = next_id("13587585")
    channel.paid(order, amount=amount)
    plan = int(ctx.now().timestamp()) + in_seconds
    request = SharingRequest.model_validate(sharing_body(order, receivers, sharingMode=2, planSharingTime=plan))
    return order, request, orders.share(ctx, request)


def _run_until_finished(ctx, order):
    def finished():
        scheduler.run(ctx)
        return orders.view(ctx, order)["state"] == "FINISHED"
    assert wait_until(finished, timeout=5, step=0.1)


def test_scheduled_then_sent_by_the_scheduler_when_due(ctx, channel, clock):
    order, request, data = _delayed(ctx, channel, [("1900000109", 1000), ("1900000110", 500)])
    assert data["state"] == "SCHEDULED" and len(data["sharingOrderId"]) == 19
    assert orders.share(ctx, request)["sharingOrderId"] == data["sharingOrderId"]   # re-sent: the record
    scheduler.run(ctx)                                                              # not due yet
    assert channel.calls_of("profitsharing.orders") == []
    clock.advance(3601)
    _run_until_finished(ctx, order)
    calls = channel.calls_of("profitsharing.orders")
    assert [c["outbound_no"] for c in calls] == [data["sharingOrderId"]]
    assert orders.view(ctx, order)["sharedAmount"] == 1500


def test_a_full_refund_cancels_a_scheduled_sharing(ctx, channel, clock):
    order, request, data = _delayed(ctx, channel, [("1900000109", 1000), ("1900000110", 500)])
    answer = refunds.handle(ctx, RefundNotification.model_validate(refund_notice(order, 10000, 10000)))
    assert (answer["state"], answer["actualBaseReturnAmount"], answer["returns"]) == (3, 1500, [])
    assert answer["planReduced"] == {"1900000109": 1000, "1900000110": 500}
    assert orders.view(ctx, order)["state"] == "CANCELLED"
    clock.advance(3601)
    scheduler.run(ctx)
    assert channel.calls_of("profitsharing.orders") == []
    assert orders.share(ctx, request)["state"] == "CANCELLED"        # re-sent: never shared later


def test_a_partial_refund_reduces_the_plan_in_proportion(ctx, channel, clock):
    order, _, data = _delayed(ctx, channel, [("1900000109", 1001), ("1900000110", 997), ("1900000111", 1)],
                              amount=9999)
    answer = refunds.handle(ctx, RefundNotification.model_validate(refund_notice(order, 3333, 9999)))
    assert answer["state"] == 3 and answer["actualBaseReturnAmount"] == 1999 * 3333 // 9999 == 666
    assert sum(answer["planReduced"].values()) == 666
    clock.advance(3601)
    _run_until_finished(ctx, order)
    view = orders.view(ctx, order)
    assert view["sharedAmount"] == 1999 - 666
    transaction = channel.view(view["transactionId"])
    assert transaction["shared_amount"] == 1999 - 666
    # the rest of the order refunded later: everything that was shared comes back
    answer = refunds.handle(ctx, RefundNotification.model_validate(refund_notice(order, 6666, 9999)))
    assert answer["state"] == 1 and answer["actualBaseReturnAmount"] == 1999 - 666
    assert channel.view(view["transactionId"])["sharing_returned_amount"] == 1999 - 666


def test_a_refund_after_the_scheduler_sent_it_returns_through_the_channel(ctx, channel, clock):
    order, _, data = _delayed(ctx, channel, [("1900000109", 1000)])
    clock.advance(3601)
    _run_until_finished(ctx, order)
    answer = refunds.handle(ctx, RefundNotification.model_validate(refund_notice(order, 5000, 10000)))
    assert answer["state"] == 1 and [r["amount"] for r in answer["returns"]] == [500]
