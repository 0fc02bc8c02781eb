"""What the sharing services share: the channel's answer as a reentry outcome, waiting for a
holder, refusals with data, the follow-up markers."""
from datetime import timedelta
from typing import Callable, Optional

from .. import clock
from ..channel import port
from ..dynamo import to_item
from ..errors import ErrorCode
from ..reentry import (Claimed, EffectRefused, Failed, InProgress, LeaseLost, Mismatch, Record,
                       Reentry, Replayed, Scheduled, Succeeded, Unknown, attempt)
from ..subsidies.answers import SubsidyError as SharingError  # a PaySettleError with data
from .context import Sharing

FOLLOW_INDEX = "follow"        # sparse GSI: hash follow_kind, range follow_at (FOLLOW# items)

__all__ = ["SharingError", "accepted_outcome", "drive", "follow_item", "unfollow_item"]


def accepted_outcome(outcome: port.Outcome):
    """The channel's answer as a reentry outcome: an HTTP 200 means the channel took the
    outbound number (whatever the order's or return's own result: that is followed apart)."""
    if isinstance(outcome, port.Accepted):
        return Succeeded(outcome.body)
    if isinstance(outcome, port.Rejected):
        return Failed(outcome.code, outcome.message)
    return Unknown(outcome.reason)


def follow_item(ctx: Sharing, kind: str, record_pk: str, after_seconds: Optional[float] = None) -> dict:
    """A marker the scheduler finds in the `follow` index: query the channel for this record's
    result from `follow_at` on. Written in the same transaction as what made it necessary."""
    at = ctx.now() + timedelta(seconds=ctx.follow_after_seconds if after_seconds is None else after_seconds)
    return {"Put": {"TableName": ctx.table, "Item": to_item({
        "pk": f"FOLLOW#{record_pk}", "record": record_pk, "follow_kind": kind,
        "follow_at": clock.iso_utc(at)})}}


def unfollow_item(ctx: Sharing, record_pk: str) -> dict:
    return {"Delete": {"TableName": ctx.table, "Key": to_item({"pk": f"FOLLOW#{record_pk}"})}}


def _wait(ctx: Sharing, store: Reentry, pk: str, deadline: float) -> Optional[Record]:
    while ctx.monotonic() < deadline:
        ctx.sleep(ctx.poll_seconds)
        record = store.get(pk)
        if record is not None and not record.lease_live(int(ctx.now().timestamp() * 1000)):
            return record
    return None


def drive(ctx: Sharing, store: Reentry, claim: Callable, send: Callable, effects: Callable,
          on_mismatch: Callable, on_refused: Callable) -> Record:
    """Claim; send once if we hold the lease; else wait for the holder (as subsidies do).
    A scheduled record not yet due is answered as it is (the scheduler sends it)."""
    deadline = ctx.monotonic() + ctx.wait_seconds
    while True:
        outcome = claim()
        if isinstance(outcome, Claimed):
            finished = attempt(store, outcome.record, send, effects)
            if not isinstance(finished, LeaseLost):
                return finished.record
            outcome = InProgress(finished.record)
        if isinstance(outcome, (Replayed, Scheduled)):
            return outcome.record
        if isinstance(outcome, Mismatch):
            raise on_mismatch(outcome.record)
        if isinstance(outcome, EffectRefused):
            raise on_refused(outcome)
        record = _wait(ctx, store, outcome.record.pk, deadline)
        if record is None:
            raise SharingError(ErrorCode.REENTRY_IN_PROGRESS,
                               detail=(f"{outcome.record.reentry_key}: the same request is being "
                                       "sent to the channel; retry it unchanged"))
        if record.final:
            return record
