"""Every fault of the simulator on profit sharing and on its returns, resolved by re-sending
the same request (same outbound number) or by sharing_scheduler; afterwards the channel's money
equals the center's records, and only one outbound number was ever used per order / return."""
import time

import pytest

from chalicelib.errors import ErrorCode
from chalicelib.sharing import orders, refunds, scheduler
from chalicelib.sharing.common import SharingError
from chalicelib.sharing.context import SHARING
from chalicelib.sharing.messages import RefundNotification, SharingRequest
from chalicelib.sharing.models import SharingRecord
from tests.sharing.support import next_id, refund_notice, sharing_body, wait_until
from tests.subsidies.support import HOLD_MS

FAULTS = ["timeout_before_commit", "timeout_after_commit", "system_error", "http_500", "reject", "slow"]
OUTCOME = {"timeout_before_commit": ErrorCode.OUTCOME_UNKNOWN, "timeout_after_commit": ErrorCode.OUTCOME_UNKNOWN,
           "system_error": ErrorCode.OUTCOME_UNKNOWN, "http_500": ErrorCode.OUTCOME_UNKNOWN,
           "reject": ErrorCode.CHANNEL_REJECTED, "slow": None}


def _settle(ctx, order):
    def finished():
        scheduler.run(ctx)
        return orders.view(ctx, order)["state"] == "FINISHED"
    assert wait_until(finished, timeout=8, step=0.1), orders.view(ctx, order)


def _request(order, receivers):
    return SharingRequest.model_validate(sharing_body(order, receivers))


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("resolver", ["resend", "scheduler"])
def test_sharing_faults(ctx, channel, fault, resolver):
    order = next_id("13587585")
    channel.paid(order)
    request = _request(order, [("1900000109", 1000), ("1900000110", 700)])
    channel.fault("profitsharing.orders", fault, delay_ms=200 if fault == "slow" else HOLD_MS)
    try:
        orders.share(ctx, request)
        refused = None
    except SharingError as error:
        refused = error.code
    assert refused == OUTCOME[fault]
    if refused is not None:
        time.sleep(HOLD_MS / 1000)             # the held connection is over (after-commit applied)
        if resolver == "resend" or fault == "reject":    # a rejection is final until re-sent
            orders.share(ctx, request)
        else:
            scheduler.run(ctx)
    _settle(ctx, order)
    view = orders.view(ctx, order)
    numbers = {c["outbound_no"] for c in channel.calls_of("profitsharing.orders")}
    assert numbers == {view["sharingOrderId"]}
    assert channel.view(view["transactionId"])["shared_amount"] == view["sharedAmount"] == 1700


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("resolver", ["resend", "scheduler"])
def test_return_faults(ctx, channel, fault, resolver):
    order = next_id("13587585")
    channel.paid(order)
    orders.share(ctx, _request(order, [("1900000109", 1000), ("1900000110", 700)]))
    _settle(ctx, order)
    notice = RefundNotification.model_validate(refund_notice(order, 5000, 10000))
    channel.fault("profitsharing.return-orders", fault, delay_ms=200 if fault == "slow" else HOLD_MS)
    first = refunds.handle(ctx, notice)
    rows = {r["returnMchId"]: r for r in first["returns"]}
    affected = rows["1900000109"]                # returns are sent in account order: the first one
    if fault == "slow":
        assert first["state"] == 1
    elif fault == "reject":
        assert (affected["state"], affected["result"], affected["failReason"]) == (3, "FAILED", "INVALID_REQUEST")
        assert first["state"] == 2
    else:
        assert (affected["state"], affected["result"]) == (1, "PROCESSING")    # unknown is not failed
        assert first["state"] == 0
    time.sleep(HOLD_MS / 1000)
    if resolver == "resend" or fault == "reject":
        again = refunds.handle(ctx, notice)
    else:
        scheduler.run(ctx)
        again = refunds.view(ctx, notice.refundId)
    assert again["state"] == 1, again
    assert {r["returnMchId"]: r["sharingReturnNo"] for r in again["returns"]} == \
        {a: r["sharingReturnNo"] for a, r in rows.items()}                     # never re-numbered
    calls = channel.calls_of("profitsharing.return-orders")
    assert {c["outbound_no"] for c in calls} == {r["sharingReturnNo"] for r in again["returns"]}
    transaction = channel.view(orders.view(ctx, order)["transactionId"])
    assert transaction["sharing_returned_amount"] == again["actualBaseReturnAmount"] == 850


@pytest.mark.parametrize("operation", ["profitsharing.query", "profitsharing.return-query"])
@pytest.mark.parametrize("fault", ["timeout_before_commit", "system_error", "http_500"])
def test_query_faults_postpone_the_follow_up(ctx, channel, bridge, operation, fault):
    order = next_id("13587585")
    channel.paid(order)
    bridge.server.shutdown()                      # no notifications: only queries settle
    bridge.server.server_close()
    channel.return_outcome("1900000109", "PROCESSING", then="SUCCESS")
    orders.share(ctx, _request(order, [("1900000109", 1000)]))
    time.sleep(0.2)
    if operation == "profitsharing.query":
        channel.fault(operation, fault, delay_ms=HOLD_MS)
        scheduler.run(ctx)
        assert orders.view(ctx, order)["state"] == "PROCESSING"
    _settle(ctx, order)
    notice = RefundNotification.model_validate(refund_notice(order, 10000, 10000))
    answer = refunds.handle(ctx, notice)
    assert answer["returns"][0]["result"] == "PROCESSING" and answer["state"] == 0
    time.sleep(0.2)
    if operation == "profitsharing.return-query":
        channel.fault(operation, fault, delay_ms=HOLD_MS)
        scheduler.run(ctx)
        assert refunds.view(ctx, notice.refundId)["state"] == 0
    assert wait_until(lambda: scheduler.run(ctx) and refunds.view(ctx, notice.refundId)["state"] == 1,
                      timeout=5, step=0.1)


def test_a_return_that_fails_at_the_channel_is_state_2_with_the_reason(ctx, channel):
    order = next_id("13587585")
    channel.paid(order)
    channel.return_outcome("1900000109", "FAILED", fail_reason="ACCOUNT_ABNORMAL")
    orders.share(ctx, _request(order, [("1900000109", 1000), ("1900000110", 700)]))
    _settle(ctx, order)
    notice = RefundNotification.model_validate(refund_notice(order, 10000, 10000))
    answer = refunds.handle(ctx, notice)
    rows = {r["returnMchId"]: r for r in answer["returns"]}
    assert (rows["1900000109"]["result"], rows["1900000109"]["failReason"]) == ("FAILED", "ACCOUNT_ABNORMAL")
    assert rows["1900000110"]["result"] == "SUCCESS" and answer["state"] == 2
    # re-sent: the channel's final FAILED under that number is kept, nothing re-numbered
    again = refunds.handle(ctx, notice)
    assert again["state"] == 2 and again["returns"] == answer["returns"]


def test_the_scheduler_gives_up_after_its_tries_and_a_resend_still_resolves(ctx, channel, log_lines):
    order = next_id("13587585")
    channel.paid(order)
    request = _request(order, [("1900000109", 1000)])
    channel.fault("profitsharing.orders", "system_error", count=1 + ctx.scheduler_max_tries)
    try:
        orders.share(ctx, request)
    except SharingError as error:
        assert error.code == ErrorCode.OUTCOME_UNKNOWN
    for _ in range(ctx.scheduler_max_tries + 1):
        scheduler.run(ctx)
    view = orders.view(ctx, order)
    assert view["state"] == "UNKNOWN" and view["sends"] == 1 + ctx.scheduler_max_tries
    pk = SharingRecord.key(ctx.tenant, order, order)
    assert [line["pk"] for line in log_lines.events("sharing_scheduler.needs_attention")] == [pk]
    [metric] = log_lines.events("sharing_scheduler.needs_attention_metric")
    assert (metric["Kind"], metric["NeedsAttention"], metric["pk"]) == (SHARING, 1, pk)
    assert metric["_aws"]["CloudWatchMetrics"] == [{
        "Namespace": "PaySettle/Sharing", "Dimensions": [["Kind"], []],
        "Metrics": [{"Name": "NeedsAttention", "Unit": "Count"}]}]
    scheduler.run(ctx)
    assert orders.view(ctx, order)["sends"] == 1 + ctx.scheduler_max_tries     # out of the index
    orders.share(ctx, request)                                                  # the business line's re-send
    _settle(ctx, order)
    assert {c["outbound_no"] for c in channel.calls_of("profitsharing.orders")} == {view["sharingOrderId"]}


def test_a_refund_spends_at_most_its_budget_and_the_scheduler_goes_on(ctx, channel):
    order = next_id("13587585")
    channel.paid(order)
    orders.share(ctx, _request(order, [("1900000109", 1000), ("1900000110", 700), ("1900000111", 300)]))
    _settle(ctx, order)
    ctx.request_budget_seconds = ctx.channel.call_seconds * 1.5     # room for one lost call only
    channel.fault("profitsharing.return-orders", "timeout_before_commit", count=1, delay_ms=HOLD_MS)
    notice = RefundNotification.model_validate(refund_notice(order, 10000, 10000))
    started = time.monotonic()
    answer = refunds.handle(ctx, notice)
    assert time.monotonic() - started < ctx.request_budget_seconds + 0.5
    assert answer["state"] == 0
    assert [r["result"] for r in answer["returns"]] == ["PROCESSING", "INIT", "INIT"]
    time.sleep(HOLD_MS / 1000)
    assert wait_until(lambda: scheduler.run(ctx) and refunds.view(ctx, notice.refundId)["state"] == 1,
                      timeout=5, step=0.1)
    assert channel.view(orders.view(ctx, order)["transactionId"])["sharing_returned_amount"] == 2000
