"""The reentry mechanism's extension for delayed work (chalicelib/reentry): a scheduled record
is recorded without a lease, answered `Scheduled` and never taken over before its time, found in
the `open` index when due; `revise_unsent` changes or cancels it only while nobody claimed it,
fenced by the version like every other write."""
from pynamodb.attributes import UnicodeAttribute

from chalicelib.reentry import (CANCELLED, RECEIVED, Claimed, Finished, LeaseLost, Replayed, Reentry,
                                Scheduled)
from chalicelib.reentry.models import ReentryRecordModel
from tests.sharing.support import Clock


class NotedRecord(ReentryRecordModel):
    """A reentry record of the tests' own kind, with one domain attribute of its own."""

    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    note = UnicodeAttribute(null=True)


def _store(stack, clock):
    return Reentry("TEST", model=NotedRecord,
                   lease_seconds=5, now=clock)


def _scheduled(store, clock, in_seconds=60):
    due = int(clock().timestamp() * 1000) + in_seconds * 1000
    return store.claim("TEST#1", "1", "fp", {"amount": 1}, "out_no", {"note": "a"}, not_before_ms=due)


def test_scheduled_until_due_then_claimed_once(stack):
    clock = Clock()
    store = _store(stack, clock)
    first = _scheduled(store, clock)
    assert isinstance(first, Scheduled) and first.record.state == RECEIVED and first.record.lease_until == 0
    assert isinstance(store.claim("TEST#1", "1", "fp", {"amount": 1}, "out_no"), Scheduled)
    assert store.due(10)[0] == []                               # not in the index before its time
    clock.advance(61)
    assert [r.pk for r in store.due(10)[0]] == ["TEST#1"]
    claimed = store.claim("TEST#1", "1", "fp", {"amount": 1}, "out_no", sweep=True)
    assert isinstance(claimed, Claimed) and claimed.record.outbound_no == first.record.outbound_no
    assert not isinstance(store.claim("TEST#1", "1", "fp", {"amount": 1}, "out_no"), Claimed)


def test_revise_unsent_changes_the_request_and_fences_a_stale_claim(stack):
    clock = Clock()
    store = _store(stack, clock)
    record = _scheduled(store, clock).record
    revised = store.revise_unsent(record, request=dict(record.request, amount=0), attributes={"note": "b"})
    assert isinstance(revised, Finished) and revised.record.version == record.version + 1
    stored = store.get("TEST#1")
    assert stored.request["amount"] == 0 and stored.extra["note"] == "b"
    # a second revision from the old version loses: someone changed it meanwhile
    assert isinstance(store.revise_unsent(record, cancel=True), LeaseLost)


def test_cancelled_is_final_never_sent_and_out_of_the_index(stack):
    clock = Clock()
    store = _store(stack, clock)
    record = _scheduled(store, clock).record
    assert isinstance(store.revise_unsent(record, cancel=True), Finished)
    clock.advance(61)
    assert store.due(10)[0] == []
    again = store.claim("TEST#1", "1", "fp", {"amount": 1}, "out_no")
    assert isinstance(again, Replayed) and again.record.state == CANCELLED


def test_a_claimed_record_cannot_be_revised(stack):
    clock = Clock()
    store = _store(stack, clock)
    _scheduled(store, clock, in_seconds=1)
    clock.advance(2)
    claimed = store.claim("TEST#1", "1", "fp", {"amount": 1}, "out_no")
    assert isinstance(claimed, Claimed)
    assert isinstance(store.revise_unsent(store.get("TEST#1"), cancel=True), LeaseLost)
