"""The reentry mechanism itself (chalicelib/reentry), on moto: its named outcomes, the fencing
token, and a lease that expires while the channel is slow (the hole of a plain idempotency
lease: a second, different call). Also the subsidy sweeper's bounded tries."""
import threading

import pytest

from chalicelib.data.transactions import Save, Update
from chalicelib.errors import ErrorCode
from chalicelib.reentry import (AlreadyFinal, Claimed, EffectRefused, Failed, Finished, InProgress,
                                LeaseLost, Mismatch, Reentry, Replayed, Succeeded, Unknown)
from chalicelib.subsidies import service, sweeper
from chalicelib.subsidies.answers import SubsidyError
from chalicelib.subsidies.models import BizReturnGuard, Subsidy
from chalicelib.reentry.models import ReentryRecordModel
from tests.subsidies.conftest import subsidy_request
from tests.subsidies.support import context

REQUEST = {"amount": 100, "transaction_id": "42"}


class BareRecord(ReentryRecordModel):
    """A reentry record of the tests' own kind in the subsidies table, without domain attributes
    (the store's own rules, whatever the domain stores beside them)."""

    class Meta:
        table_setting = "SUBSIDIES_TABLE"
        table_name = None


@pytest.fixture
def store(stack, table, clock):
    return Reentry("TEST", model=BareRecord, lease_seconds=5,
                   retry_after_seconds=0, now=clock)


def claim(store, key="k1", fingerprint="f1"):
    return store.claim(f"TEST#{key}", key, fingerprint, REQUEST, "out_no")


@pytest.mark.parametrize("refused_first", [True, False])
def test_a_refused_effect_is_named_by_its_place_in_the_callers_list_not_by_the_order_sent(
        store, refused_first):
    # The transaction sends puts before updates whatever the order given: the refused update
    # travels last, after the record, its guard and the put, yet it is the caller's effect 0
    # (or 1) as the caller listed it.
    refused = Update(Subsidy(Subsidy.key("t1", "missing")), [Subsidy.returned_amount.set(1)],
                     condition=Subsidy.pk.exists())
    accepted = Save(BizReturnGuard(BizReturnGuard.key("t1", "9"), payment_refund_id="r", amount=1),
                    condition=BizReturnGuard.pk.does_not_exist())
    effects = [refused, accepted] if refused_first else [accepted, refused]
    outcome = store.claim("TEST#k1", "k1", "f1", REQUEST, "out_no",
                          effects=lambda before, after, outbound_no, outcome: effects)
    assert outcome == EffectRefused(index=0 if refused_first else 1, record=None)
    assert store.get("TEST#k1") is None                       # nothing of it was written
    with pytest.raises(BizReturnGuard.DoesNotExist):
        BizReturnGuard.get(BizReturnGuard.key("t1", "9"), consistent_read=True)


def test_claim_outcomes_are_named(store, clock):
    first = claim(store)
    assert isinstance(first, Claimed) and first.fresh
    record = first.record
    assert record.state == "RECEIVED" and record.version == 1 and len(record.outbound_no) == 19
    assert record.request == dict(REQUEST, out_no=record.outbound_no)   # the number, stored first
    assert isinstance(claim(store), InProgress)                          # the lease is live
    assert isinstance(claim(store, fingerprint="f2"), Mismatch)
    sending = store.start_sending(record)
    assert isinstance(store.finish(sending, Unknown("timeout")), Finished)
    again = claim(store)                                                 # UNKNOWN: take it over
    assert isinstance(again, Claimed) and not again.fresh
    assert again.record.version == 2 and again.record.outbound_no == record.outbound_no
    sending = store.start_sending(again.record)
    assert isinstance(store.finish(sending, Failed("INVALID_REQUEST", "no")), Finished)
    third = claim(store)                                                 # FAILED: executed again
    assert isinstance(third, Claimed) and third.record.outbound_no == record.outbound_no
    sending = store.start_sending(third.record)
    done = store.finish(sending, Succeeded({"subsidy_id": "s1"}))
    assert isinstance(done, Finished) and done.record.state == "SUCCEEDED"
    replay = claim(store)
    assert isinstance(replay, Replayed) and replay.record.result == {"subsidy_id": "s1"}
    assert replay.record.sends == 3


def test_a_fenced_holder_cannot_record_a_failure_or_unknown_but_its_success_counts(store, clock):
    holder = claim(store).record
    sending = store.start_sending(holder)
    clock.advance(6)                                     # the lease expires during the call
    taken = claim(store)
    assert isinstance(taken, Claimed) and taken.record.version == 2
    # The old holder's non-success is dropped: the new holder is re-sending the same request.
    assert isinstance(store.finish(sending, Unknown("timeout")), LeaseLost)
    assert isinstance(store.finish(sending, Failed("INVALID_REQUEST", "x")), LeaseLost)
    with pytest.raises(Exception):
        store.start_sending(holder)                      # and it may not send again
    # A success for the same number is the channel's fact: recorded by whoever gets it.
    late = store.finish(sending, Succeeded({"subsidy_id": "s1"}))
    assert isinstance(late, Finished) and late.record.state == "SUCCEEDED"
    stored = store.get(holder.pk)
    assert stored.state == "SUCCEEDED" and stored.result == {"subsidy_id": "s1"}


def test_a_late_answer_after_a_final_state_is_dropped(store, clock):
    holder = claim(store).record
    sending = store.start_sending(holder)
    clock.advance(6)
    taken = store.start_sending(claim(store).record)
    assert isinstance(store.finish(taken, Succeeded({"subsidy_id": "s1"})), Finished)
    late = store.finish(sending, Unknown("timeout"))
    assert isinstance(late, AlreadyFinal) and late.record.state == "SUCCEEDED"


class AnswerHeldBack:
    """The real channel client, whose answer reaches its caller only when the test lets it go:
    a channel that has applied the call, and a slow way back. Holding the answer, not timing
    it, keeps the test exact on a loaded machine."""

    def __init__(self, channel):
        self.channel = channel
        self.answered = threading.Event()
        self.let_go = threading.Event()

    def create_subsidy(self, request):
        outcome = self.channel.create_subsidy(request)
        self.answered.set()
        self.let_go.wait(30)
        return outcome


def test_a_lease_expiring_while_the_channel_is_slow_makes_no_second_different_call(
        simulator, clock, channel, paid):
    """Holder A's answer is slow; its lease expires meanwhile; B takes over and re-sends the
    SAME request with the SAME number: the channel replays; both answer the same."""
    a_ctx = context(simulator.url, clock, wait_seconds=0)
    b_ctx = context(simulator.url, clock, wait_seconds=0)
    held = a_ctx.channel = AnswerHeldBack(a_ctx.channel)
    request = subsidy_request(paid["paymentOrderId"])
    answers = {}

    def holder_a():
        try:
            answers["a"] = service.create(a_ctx, request)
        except Exception as error:   # noqa: BLE001 - asserted below, with what it was
            answers["a"] = error

    first = threading.Thread(target=holder_a)
    first.start()
    assert held.answered.wait(30)                         # A has sent; its answer is on its way
    clock.advance(a_ctx.lease_seconds + 1)                # A's lease is over; A still waits
    answers["b"] = service.create(b_ctx, request)
    held.let_go.set()
    first.join(30)
    assert answers["a"] == answers["b"]
    number = answers["a"]["paymentSubsidiesId"]
    calls = channel.calls()
    assert {(c["outbound_no"], c["amount"]) for c in calls} == {(number, 2332)}
    assert [c["outcome"] for c in calls] == ["APPLIED", "REPLAYED"]
    view = service.view(b_ctx, request.bizSubsidiesId)
    assert view["state"] == "SUCCEEDED" and view["sends"] == 2


def test_the_sweeper_gives_up_after_its_bounded_tries_and_says_so(ctx, channel, paid, log_lines):
    request = subsidy_request(paid["paymentOrderId"])
    channel.fault("subsidies.create", "system_error", count=1 + ctx.sweeper_max_tries)
    with pytest.raises(SubsidyError) as unknown:
        service.create(ctx, request)
    assert unknown.value.code is ErrorCode.OUTCOME_UNKNOWN
    reports = [sweeper.run(ctx) for _ in range(ctx.sweeper_max_tries)]
    assert [r.still_unknown for r in reports] == [1] * ctx.sweeper_max_tries
    assert reports[-1].needs_attention == 1
    view = service.view(ctx, request.bizSubsidiesId)
    assert view["state"] == "NEEDS_ATTENTION" and view["sweeps"] == ctx.sweeper_max_tries
    [line] = log_lines.events("subsidy_sweeper.needs_attention")
    assert line["level"] == "ERROR" and line["outbound_no"] == view["paymentSubsidiesId"]
    [metric] = log_lines.events("subsidy_sweeper.needs_attention_metric")
    assert metric["NeedsAttention"] == 1 and metric["Kind"] == "SUBSIDY"
    [directive] = metric["_aws"]["CloudWatchMetrics"]
    assert directive == {"Namespace": "PaySettle/Subsidies", "Dimensions": [["Kind"], []],
                         "Metrics": [{"Name": "NeedsAttention", "Unit": "Count"}]}
    assert sweeper.run(ctx).examined == 0                 # out of the sweeper's index
    # Still never failed, never re-numbered: the business line's retry re-sends and finishes it.
    data = service.create(ctx, request)
    assert data["paymentSubsidiesId"] == view["paymentSubsidiesId"]
    assert channel.applied(data["paymentSubsidiesId"]) == 1
