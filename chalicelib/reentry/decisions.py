"""What a reentry record's claim and a refused finish decide: plain rules, no I/O.

A claim reads the stored record and decides, before any write:
* `Mismatch`:   the key is known with other parameters (another fingerprint): nothing changes;
* `Replayed`:   it SUCCEEDED (or was CANCELLED) with these parameters: answer it, send nothing;
* `Scheduled`:  a scheduled record not yet due: not ours to send;
* `InProgress`: another holder's lease is live: nothing changes;
* `TakeOver`:   nobody holds it and it is not final (FAILED, UNKNOWN, NEEDS_ATTENTION, or
                RECEIVED / IN_FLIGHT whose lease expired): take it with the next fencing
                version and a new lease, and send the SAME request with the SAME number.

A holder whose finish was refused (its version or state no longer matched) re-reads and decides:
* `LateSuccess`:  the channel applied this record's number: a fact no later answer contradicts,
                  recorded over any open or FAILED state of the same number;
* `AlreadyFinal`: someone else recorded a final state first: theirs stands, ours is dropped;
* `LeaseLost`:    we were taken over and ours was not a success: dropped; the new holder re-sends.

The store persists these decisions only under conditions that guard them against a concurrent
writer (store.py lists them exactly): a take-over is written only if the version it read is
still stored, the lease still expired and the state still one that `take_over_allowed` admits.
"""
from dataclasses import dataclass
from typing import Union

from .record import (CANCELLED, FAILED, IN_FLIGHT, NEEDS_ATTENTION, RECEIVED, SUCCEEDED, UNKNOWN,
                     Record)

TAKE_OVER_STATES = (RECEIVED, IN_FLIGHT, UNKNOWN, FAILED, NEEDS_ATTENTION)
LATE_SUCCESS_STATES = (RECEIVED, IN_FLIGHT, UNKNOWN, FAILED, NEEDS_ATTENTION)


@dataclass(frozen=True)
class Replayed:
    record: Record


@dataclass(frozen=True)
class Scheduled:
    record: Record


@dataclass(frozen=True)
class Mismatch:
    record: Record


@dataclass(frozen=True)
class InProgress:
    record: Record


@dataclass(frozen=True)
class TakeOver:
    """Take `record` over: the fencing version after it and the new holder's lease."""
    record: Record
    next_version: int
    lease_until: int             # epoch milliseconds
    sweeps: int


@dataclass(frozen=True)
class AlreadyFinal:
    record: Record


@dataclass(frozen=True)
class LeaseLost:
    record: Record


@dataclass(frozen=True)
class LateSuccess:
    record: Record               # as stored: the late write is conditional on its version


ClaimDecision = Union[Mismatch, Replayed, Scheduled, InProgress, TakeOver]
RefusedFinishDecision = Union[LateSuccess, AlreadyFinal, LeaseLost]


def take_over_allowed(stored: Record, now_ms: int) -> bool:
    """The take-over's condition, on the record as read (DynamoDB checks it again on write)."""
    return (stored.state in TAKE_OVER_STATES and not stored.lease_live(now_ms)
            and stored.not_before <= now_ms)


def decide_claim(stored: Record, fingerprint: str, now_ms: int, lease_until_ms: int,
                 sweep: bool = False) -> ClaimDecision:
    """What a claim of `stored` with `fingerprint` at `now_ms` does (`lease_until_ms`: the lease
    a take-over would hold; `sweep`: the sweeper's claim, counted in `sweeps`)."""
    if stored.fingerprint != fingerprint:
        return Mismatch(stored)
    if stored.state in (SUCCEEDED, CANCELLED):
        return Replayed(stored)
    if stored.state == RECEIVED and stored.not_before > now_ms:
        return Scheduled(stored)
    if not take_over_allowed(stored, now_ms):
        return InProgress(stored)
    if lease_until_ms <= now_ms:
        raise ValueError("a take-over's lease must end after now")
    return TakeOver(stored, next_version=stored.version + 1, lease_until=lease_until_ms,
                    sweeps=stored.sweeps + (1 if sweep else 0))


def decide_refused_finish(stored: Record, mine: Record, state: str) -> RefusedFinishDecision:
    """After our finish of `mine` (recording `state`) was refused, with `stored` re-read."""
    if (state == SUCCEEDED and stored.outbound_no == mine.outbound_no
            and stored.state in LATE_SUCCESS_STATES):
        return LateSuccess(stored)
    if stored.final:
        return AlreadyFinal(stored)
    return LeaseLost(stored)
