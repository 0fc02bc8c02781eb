"""A reentry record's claim and refused-finish decisions, as plain rules: no AWS, no clock."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.reentry.decisions import (TAKE_OVER_STATES, AlreadyFinal, InProgress, LateSuccess, LeaseLost,
                                          Mismatch, Replayed, Scheduled, TakeOver, decide_claim,
                                          decide_refused_finish, take_over_allowed)
from chalicelib.reentry.record import (CANCELLED, FAILED, IN_FLIGHT, NEEDS_ATTENTION, RECEIVED, SUCCEEDED,
                                       UNKNOWN, Record)

STATES = (RECEIVED, IN_FLIGHT, SUCCEEDED, FAILED, UNKNOWN, NEEDS_ATTENTION, CANCELLED)
NOW = 1_700_000_000_000
LEASE = NOW + 12_000


def record(state=RECEIVED, fingerprint="f1", version=3, lease_until=0, not_before=0, sweeps=0,
           outbound_no="1700000000000123456") -> Record:
    return Record(pk="T#t1#SUBSIDY#1", kind="SUBSIDY", reentry_key="1", fingerprint=fingerprint,
                  outbound_no=outbound_no, state=state, version=version, lease_until=lease_until,
                  sends=1, sweeps=sweeps, request={"out_order_no": outbound_no},
                  created_at="2026-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z",
                  not_before=not_before)


def test_other_parameters_under_a_known_key_are_a_mismatch_whatever_the_state():
    for state in STATES:
        assert decide_claim(record(state), "f2", NOW, LEASE) == Mismatch(record(state))


@pytest.mark.parametrize("state", [SUCCEEDED, CANCELLED])
def test_a_final_success_or_cancel_is_replayed_and_never_sent_again(state):
    assert decide_claim(record(state), "f1", NOW, LEASE) == Replayed(record(state))


def test_a_scheduled_record_before_its_time_is_not_ours_to_send():
    early = record(RECEIVED, not_before=NOW + 1)
    assert decide_claim(early, "f1", NOW, LEASE) == Scheduled(early)
    due = record(RECEIVED, not_before=NOW)
    assert isinstance(decide_claim(due, "f1", NOW, LEASE), TakeOver)


def test_a_live_lease_is_in_progress_and_an_expired_one_is_taken_over_with_the_next_version():
    held = record(IN_FLIGHT, lease_until=NOW + 1)
    assert decide_claim(held, "f1", NOW, LEASE) == InProgress(held)
    expired = record(IN_FLIGHT, lease_until=NOW, sweeps=2)
    assert decide_claim(expired, "f1", NOW, LEASE, sweep=True) == \
        TakeOver(expired, next_version=4, lease_until=LEASE, sweeps=3)


@pytest.mark.parametrize("state", [FAILED, UNKNOWN, NEEDS_ATTENTION])
def test_a_failed_unknown_or_abandoned_record_is_taken_over_to_resend_the_same_number(state):
    decision = decide_claim(record(state), "f1", NOW, LEASE)
    assert isinstance(decision, TakeOver) and decision.record.outbound_no == record().outbound_no


def test_a_take_over_needs_a_lease_that_ends_after_now():
    with pytest.raises(ValueError):
        decide_claim(record(FAILED), "f1", NOW, NOW)


records = st.builds(record, state=st.sampled_from(STATES), fingerprint=st.sampled_from(["f1", "f2"]),
                    version=st.integers(1, 10**6), lease_until=st.integers(0, 2 * NOW),
                    not_before=st.one_of(st.just(0), st.integers(0, 2 * NOW)),
                    sweeps=st.integers(0, 100))


@settings(max_examples=500, deadline=None)
@given(stored=records, now=st.integers(1, 2 * NOW), lease_ms=st.integers(1, 60_000), sweep=st.booleans())
def test_a_claim_takes_over_exactly_when_the_guarding_condition_would_admit_it(stored, now, lease_ms, sweep):
    decision = decide_claim(stored, "f1", now, now + lease_ms, sweep)
    admitted = (stored.fingerprint == "f1" and stored.state not in (SUCCEEDED, CANCELLED)
                and take_over_allowed(stored, now))
    assert isinstance(decision, TakeOver) == admitted
    if isinstance(decision, TakeOver):
        # never a live lease, never a final success, always the next fencing version
        assert stored.lease_until <= now and stored.state in TAKE_OVER_STATES
        assert decision.next_version == stored.version + 1 and decision.lease_until > now
        assert decision.sweeps == stored.sweeps + sweep
    else:
        assert decision.record == stored


def test_a_refused_success_of_the_same_number_is_recorded_late_over_an_open_or_failed_state():
    mine = record(IN_FLIGHT, version=3)
    for state in (RECEIVED, IN_FLIGHT, UNKNOWN, FAILED, NEEDS_ATTENTION):
        stored = record(state, version=5)
        assert decide_refused_finish(stored, mine, SUCCEEDED) == LateSuccess(stored)


def test_a_refused_finish_otherwise_yields_to_a_final_state_or_to_the_new_holder():
    mine = record(IN_FLIGHT, version=3)
    assert decide_refused_finish(record(SUCCEEDED, version=4), mine, SUCCEEDED) == \
        AlreadyFinal(record(SUCCEEDED, version=4))
    assert decide_refused_finish(record(SUCCEEDED, version=4), mine, FAILED) == \
        AlreadyFinal(record(SUCCEEDED, version=4))
    assert decide_refused_finish(record(FAILED, version=4), mine, UNKNOWN) == AlreadyFinal(record(FAILED, version=4))
    assert decide_refused_finish(record(IN_FLIGHT, version=4), mine, FAILED) == LeaseLost(record(IN_FLIGHT, version=4))
    assert decide_refused_finish(record(CANCELLED, version=4), mine, SUCCEEDED) == \
        AlreadyFinal(record(CANCELLED, version=4))
    other_number = record(UNKNOWN, version=4, outbound_no="1700000000000999999")
    assert decide_refused_finish(other_number, mine, SUCCEEDED) == LeaseLost(other_number)


@settings(max_examples=300, deadline=None)
@given(stored=records, state=st.sampled_from([SUCCEEDED, FAILED, UNKNOWN]))
def test_a_refused_finish_never_replaces_a_final_state_except_a_failure_by_its_own_success(stored, state):
    mine = record(IN_FLIGHT)
    decision = decide_refused_finish(stored, mine, state)
    if isinstance(decision, LateSuccess):
        assert state == SUCCEEDED and stored.outbound_no == mine.outbound_no
        assert stored.state not in (SUCCEEDED, CANCELLED)
    elif stored.final:
        assert isinstance(decision, AlreadyFinal)
    else:
        assert isinstance(decision, LeaseLost)
