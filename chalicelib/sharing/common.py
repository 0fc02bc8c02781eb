"""What the sharing services share: the channel's answer as a reentry outcome, waiting for a
holder, refusals with data, the follow-up markers."""
from datetime import timedelta
from typing import Callable, Optional

from .. import clock
from ..channel import port
from ..data.transactions import Save
from ..errors import ErrorCode
from ..reentry import Failed, Record, Reentry, Succeeded, Unknown
from ..reentry.drive import drive as reentry_drive
from ..subsidies.answers import SubsidyError as SharingError  # a PaySettleError with data
from .context import Sharing
from .models import FollowMarker


__all__ = ["SharingError", "accepted_outcome", "drive", "follow_item"]


def accepted_outcome(outcome: port.Outcome):
    """The channel's answer as a reentry outcome: an HTTP 200 means the channel took the
    outbound number (whatever the order's or return's own result: that is followed apart)."""
    if isinstance(outcome, port.Accepted):
        return Succeeded(outcome.body)
    if isinstance(outcome, port.Rejected):
        return Failed(outcome.code, outcome.message)
    return Unknown(outcome.reason)


def follow_at(ctx: Sharing, after_seconds: Optional[float] = None) -> str:
    """When the scheduler looks again: `after_seconds` (default: the follow interval) from now."""
    at = ctx.now() + timedelta(seconds=ctx.follow_after_seconds if after_seconds is None else after_seconds)
    return clock.iso_utc(at)


def follow_item(ctx: Sharing, kind: str, record_pk: str, after_seconds: Optional[float] = None) -> Save:
    """A marker the scheduler finds in the `follow` index: query the channel for this record's
    result from `follow_at` on. Written in the same transaction as what made it necessary."""
    return Save(FollowMarker(FollowMarker.key(record_pk), record=record_pk, follow_kind=kind,
                             follow_at=follow_at(ctx, after_seconds)))


def _busy(record: Record) -> SharingError:
    return SharingError(ErrorCode.REENTRY_IN_PROGRESS,
                        detail=(f"{record.reentry_key}: the same request is being sent to the "
                                "channel; retry it unchanged"))


def drive(ctx: Sharing, store: Reentry, claim: Callable, send: Callable, effects: Callable,
          on_mismatch: Callable, on_refused: Callable) -> Record:
    """Claim; send once if we hold the lease; else wait for the holder (`chalicelib.reentry.drive`).
    A scheduled record not yet due is answered as it is (the scheduler sends it)."""
    return reentry_drive(ctx, store, claim, send, effects, on_mismatch, on_refused, _busy)

