"""Rule 6: the process dies between recording the request and calling the channel, or between
the channel's answer and recording it; a later retry or the sweeper finishes it correctly.

The dying process is simulated with tests/support/faults.py's plan over the subsidy models'
clients (tests/support/model_faults.py): ProcessDied before (or after) the n-th
TransactWriteItems. Each request writes 1) the claim
(RECEIVED, outbound number), 2) IN_FLIGHT (just before the channel call), 3) the outcome.
"""
from contextlib import contextmanager

import pytest

from chalicelib.errors import ErrorCode
from chalicelib.subsidies import service, sweeper
from chalicelib.subsidies.answers import SubsidyError
from tests.subsidies.conftest import return_request, subsidy_request
from tests.subsidies.support import return_body
from tests.support.faults import AFTER, BEFORE, FaultPlan, ProcessDied
from tests.support.model_faults import faults_on_models, subsidy_models

CLAIM, SENDING, OUTCOME = 1, 2, 3
# (which write, before/after it, did the channel apply it before the death)
DEATHS = [(SENDING, BEFORE, False),      # recorded RECEIVED, never sent
          (SENDING, AFTER, False),       # recorded IN_FLIGHT, died before the HTTP call
          (OUTCOME, BEFORE, True)]       # the channel answered SUCCESS; never recorded


@contextmanager
def dying(write: int, when: str):
    """Inside the block, the process dies before (or after) its `write`-th TransactWriteItems."""
    plan = FaultPlan(die_on=("TransactWriteItems", write), when=when)
    with faults_on_models(plan, subsidy_models()):
        yield plan


@pytest.mark.parametrize("resolve", ["retry", "sweeper"])
@pytest.mark.parametrize("write, when, applied", DEATHS)
def test_a_create_whose_process_died_is_finished_later(ctx, clock, channel, paid, write, when,
                                                       applied, resolve):
    request = subsidy_request(paid["paymentOrderId"])
    with dying(write, when), pytest.raises(ProcessDied):
        service.create(ctx, request)
    died = service.view(ctx, request.bizSubsidiesId)
    number = died["paymentSubsidiesId"]
    assert died["state"] in ("RECEIVED", "IN_FLIGHT")
    assert channel.applied(number) == (1 if applied else 0)

    # Within the dead holder's lease a duplicate is told "in progress", and nothing is sent.
    with pytest.raises(SubsidyError) as busy:
        service.create(ctx, request)
    assert busy.value.code is ErrorCode.REENTRY_IN_PROGRESS
    assert sweeper.run(ctx).examined == 0

    clock.advance(ctx.lease_seconds + 1)
    if resolve == "retry":
        data = service.create(ctx, request)
    else:
        assert sweeper.run(ctx).succeeded == 1
        data = service.create(ctx, request)
    assert data["paymentSubsidiesId"] == number
    on_channel = channel.view(paid["transaction_id"])["subsidy"]
    assert on_channel["subsidy_id"] == data["proxyChannelSubsidiesId"]
    assert channel.applied(number) == 1
    assert {c["outbound_no"] for c in channel.calls()} == {number}


@pytest.mark.parametrize("write, when, applied", DEATHS)
def test_a_return_whose_process_died_is_finished_by_the_sweeper(ctx, clock, channel, paid, write,
                                                                when, applied):
    subsidised = service.create(ctx, subsidy_request(paid["paymentOrderId"]))
    request = return_request(return_body(subsidised, amount=1200))
    with dying(write, when), pytest.raises(ProcessDied):
        service.return_subsidy(ctx, request)
    view = service.view(ctx, subsidised["bizSubsidiesId"])
    assert (view["returning_amount"], view["returnable_amount"]) == (1200, 1132)

    clock.advance(ctx.lease_seconds + 1)
    assert sweeper.run(ctx).succeeded == 1
    view = service.view(ctx, subsidised["bizSubsidiesId"])
    assert (view["returned_amount"], view["returning_amount"]) == (1200, 0)
    data = service.return_subsidy(ctx, request)
    assert channel.applied(data["paymentReturnSubsidiesId"]) == 1
    assert channel.view(paid["transaction_id"])["returned_amount"] == 1200


def test_a_process_dying_on_its_claim_leaves_nothing_or_a_claim(ctx, clock, channel, paid):
    request = subsidy_request(paid["paymentOrderId"])
    with dying(CLAIM, BEFORE), pytest.raises(ProcessDied):
        service.create(ctx, request)
    with pytest.raises(SubsidyError) as missing:
        service.view(ctx, request.bizSubsidiesId)
    assert missing.value.code is ErrorCode.SUBSIDY_NOT_FOUND
    data = service.create(ctx, request)
    assert channel.applied(data["paymentSubsidiesId"]) == 1
