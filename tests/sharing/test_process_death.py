"""The process dies between two steps (an exception where a Lambda would be killed): what was
written is consistent, and the scheduler (or a re-send) finishes the work with the same numbers."""
import pytest

from chalicelib.sharing import orders, refunds, scheduler
from chalicelib.sharing.messages import RefundNotification, SharingRequest
from tests.sharing.support import next_id, refund_notice, sharing_body, wait_until


class Died(Exception):
    pass


class DyingChannel:
    """The real adapter, except that the process dies just before the n-th call of `operation`."""

    def __init__(self, channel, operation: str, before_call: int):
        self._channel, self._operation, self._left = channel, operation, before_call

    def __getattr__(self, name):
        method = getattr(self._channel, name)
        if name != self._operation:
            return method

        def call(*args, **kwargs):
            self._left -= 1
            if self._left == 0:
                raise Died(name)
            return method(*args, **kwargs)
        return call


def _settle(ctx, order):
    assert wait_until(lambda: scheduler.run(ctx) and orders.view(ctx, order)["state"] == "FINISHED",
                      timeout=8, step=0.1)


def test_death_before_the_sharing_call_is_sent_by_the_scheduler_after_the_lease(ctx, channel, clock):
    order = next_id("13587585")
    channel.paid(order)
    request = SharingRequest.model_validate(sharing_body(order, [("1900000109", 1000)]))
    real = ctx.channel
    ctx.channel = DyingChannel(real, "create_sharing", 1)
    with pytest.raises(Died):
        orders.share(ctx, request)
    ctx.channel = real
    assert orders.view(ctx, order)["state"] == "SENDING"          # recorded, number kept
    clock.advance(ctx.lease_seconds + 1)
    _settle(ctx, order)
    assert len(channel.calls_of("profitsharing.orders")) == 1


@pytest.mark.parametrize("dies_before_return", [1, 2])
def test_death_between_returns_is_continued_by_the_scheduler(ctx, channel, clock, dies_before_return):
    order = next_id("13587585")
    channel.paid(order)
    orders.share(ctx, SharingRequest.model_validate(sharing_body(order, [("1900000109", 1000), ("1900000110", 700)])))
    _settle(ctx, order)
    notice = RefundNotification.model_validate(refund_notice(order, 10000, 10000))
    real = ctx.channel
    ctx.channel = DyingChannel(real, "return_sharing", dies_before_return)
    with pytest.raises(Died):
        refunds.handle(ctx, notice)
    ctx.channel = real
    assert refunds.view(ctx, notice.refundId)["state"] == 0         # the relation and its split are there
    clock.advance(ctx.lease_seconds + 1)                             # the dead holder's lease runs out
    assert wait_until(lambda: scheduler.run(ctx) and refunds.view(ctx, notice.refundId)["state"] == 1,
                      timeout=5, step=0.1)
    view = refunds.view(ctx, notice.refundId)
    calls = channel.calls_of("profitsharing.return-orders")
    assert sorted(c["outbound_no"] for c in calls) == sorted(r["sharingReturnNo"] for r in view["returns"])
    assert channel.view(orders.view(ctx, order)["transactionId"])["sharing_returned_amount"] == 1700
