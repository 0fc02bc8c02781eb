"""Rules 3 and 4 with every fault of the simulator, for create and for return.

An unknown outcome (timeout before or after the channel committed, SYSTEM_ERROR, a bare 500, an
answer slower than our timeout) stays UNKNOWN (5041, never FAILED), and is resolved by re-sending
the identical request with the SAME outbound number, by the caller's retry or by the sweeper: the
channel's original success comes back (after-commit: the ORIGINAL subsidy_id) and exactly one
call of that number is APPLIED. A rejection is FAILED (3003) and is executed again.
"""
import pytest

from chalicelib.errors import ErrorCode
from chalicelib.subsidies import service, sweeper
from chalicelib.subsidies.answers import SubsidyError
from tests.subsidies.conftest import return_request, subsidy_request
from tests.subsidies.support import HOLD_MS, return_body

UNKNOWN_FAULTS = [("timeout_before_commit", HOLD_MS), ("timeout_after_commit", HOLD_MS),
                  ("system_error", HOLD_MS), ("http_500", HOLD_MS), ("slow", 1200)]
RESOLVERS = ["retry", "sweeper"]


def refused(call, *args) -> SubsidyError:
    with pytest.raises(SubsidyError) as caught:
        call(*args)
    return caught.value


@pytest.fixture
def subsidised(ctx, paid):
    return service.create(ctx, subsidy_request(paid["paymentOrderId"]))


@pytest.mark.parametrize("resolve", RESOLVERS)
@pytest.mark.parametrize("fault, delay_ms", UNKNOWN_FAULTS)
def test_an_unknown_create_is_resolved_with_the_same_number(ctx, channel, paid, fault, delay_ms,
                                                            resolve):
    request = subsidy_request(paid["paymentOrderId"])
    channel.fault("subsidies.create", fault, delay_ms=delay_ms)
    unknown = refused(service.create, ctx, request)
    assert unknown.code is ErrorCode.OUTCOME_UNKNOWN
    number = unknown.data["paymentSubsidiesId"]
    assert service.view(ctx, request.bizSubsidiesId)["state"] == "UNKNOWN"

    if resolve == "retry":
        data = service.create(ctx, request)
    else:
        assert sweeper.run(ctx).succeeded == 1
        data = service.create(ctx, request)                      # now a replay
    view = service.view(ctx, request.bizSubsidiesId)
    assert view["state"] == "SUCCEEDED" and view["sends"] == 2
    on_channel = channel.view(paid["transaction_id"])["subsidy"]
    assert on_channel["out_subsidy_no"] == number == data["paymentSubsidiesId"]
    assert on_channel["subsidy_id"] == data["proxyChannelSubsidiesId"]    # the original one
    assert channel.applied(number) == 1
    creates = [c for c in channel.calls() if c["operation"] == "subsidies.create"]
    assert {c["outbound_no"] for c in creates} == {number} and len(creates) == 2
    if fault in ("timeout_after_commit", "slow"):
        assert [c["outcome"] for c in creates] == ["APPLIED", "REPLAYED"]


def test_a_slow_answer_within_the_timeout_is_simply_success(ctx, channel, paid):
    channel.fault("subsidies.create", "slow", delay_ms=150)
    data = service.create(ctx, subsidy_request(paid["paymentOrderId"]))
    assert channel.applied(data["paymentSubsidiesId"]) == 1


def test_a_rejected_create_is_failed_and_executed_again_with_the_same_number(ctx, channel, paid):
    request = subsidy_request(paid["paymentOrderId"])
    channel.fault("subsidies.create", "reject")
    failed = refused(service.create, ctx, request)
    assert failed.code is ErrorCode.CHANNEL_REJECTED
    assert sweeper.run(ctx).examined == 0                       # FAILED is final: not swept
    data = service.create(ctx, request)
    assert data["paymentSubsidiesId"] == failed.data["paymentSubsidiesId"]
    assert channel.applied(data["paymentSubsidiesId"]) == 1


def test_a_business_rejection_is_failed_not_unknown(ctx, channel, paid):
    over_the_limit = subsidy_request(paid["paymentOrderId"], amount=5001)   # subsidy_limit 5000
    failed = refused(service.create, ctx, over_the_limit)
    assert failed.code is ErrorCode.CHANNEL_REJECTED
    assert failed.data["channelCode"] == "INVALID_REQUEST"


@pytest.mark.parametrize("resolve", RESOLVERS)
@pytest.mark.parametrize("fault, delay_ms", UNKNOWN_FAULTS)
def test_an_unknown_return_is_resolved_with_the_same_number(ctx, channel, paid, subsidised, fault,
                                                            delay_ms, resolve):
    request = return_request(return_body(subsidised, amount=1000))
    channel.fault("subsidies.return", fault, delay_ms=delay_ms)
    unknown = refused(service.return_subsidy, ctx, request)
    assert unknown.code is ErrorCode.OUTCOME_UNKNOWN
    number = unknown.data["paymentReturnSubsidiesId"]
    view = service.view(ctx, subsidised["bizSubsidiesId"])
    # The amount stays reserved while the outcome is unknown.
    assert (view["returning_amount"], view["returnable_amount"]) == (1000, 1332)

    if resolve == "retry":
        data = service.return_subsidy(ctx, request)
    else:
        assert sweeper.run(ctx).succeeded == 1
        data = service.return_subsidy(ctx, request)
    assert data["paymentReturnSubsidiesId"] == number
    view = service.view(ctx, subsidised["bizSubsidiesId"])
    assert (view["returned_amount"], view["returning_amount"], view["returnable_amount"]) == (1000, 0, 1332)
    [returned] = channel.view(paid["transaction_id"])["returns"]
    assert returned["out_order_no"] == number
    assert returned["subsidy_refund_id"] == data["proxyChannelReturnSubsidiesId"]
    assert channel.applied(number) == 1
    returns = [c for c in channel.calls() if c["operation"] == "subsidies.return"]
    assert {c["outbound_no"] for c in returns} == {number}


def test_a_rejected_return_is_failed_released_and_executed_again(ctx, channel, subsidised):
    request = return_request(return_body(subsidised, amount=1000))
    channel.fault("subsidies.return", "reject")
    failed = refused(service.return_subsidy, ctx, request)
    assert failed.code is ErrorCode.CHANNEL_REJECTED
    assert service.view(ctx, subsidised["bizSubsidiesId"])["returnable_amount"] == 2332
    data = service.return_subsidy(ctx, request)
    assert data["paymentReturnSubsidiesId"] == failed.data["paymentReturnSubsidiesId"]
    assert channel.applied(data["paymentReturnSubsidiesId"]) == 1


def test_an_unknown_return_keeps_its_amount_from_other_returns(ctx, channel, subsidised):
    """Amount再次校验: the in-flight (unknown) amount counts as spent."""
    channel.fault("subsidies.return", "timeout_after_commit")
    first = return_request(return_body(subsidised, amount=2000))
    assert refused(service.return_subsidy, ctx, first).code is ErrorCode.OUTCOME_UNKNOWN
    second = return_request(return_body(subsidised, amount=500))
    over = refused(service.return_subsidy, ctx, second)
    assert over.code is ErrorCode.RETURN_EXCEEDS_SUBSIDY
    assert over.data["returningAmount"] == 2000
    service.return_subsidy(ctx, first)
    service.return_subsidy(ctx, return_request(return_body(subsidised, amount=332)))
