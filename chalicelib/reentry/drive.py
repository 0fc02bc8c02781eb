"""A caller's whole reentrant request: claim, send once if we hold the lease, else wait for the
holder; the one loop every reentrant API (subsidies, their returns, sharing, its returns) runs.

Outcomes of `drive`, all named:
* the record, final (SUCCEEDED / FAILED / CANCELLED) or UNKNOWN, after our own attempt;
* the record as stored when it was already answered (`Replayed`) or is scheduled for later;
* `on_mismatch(record)` raised: the key was used with other parameters;
* `on_refused(outcome)` raised: one of the caller's own transaction items failed its condition;
* `on_busy(record)` raised: another caller's lease stayed live past `ctx.wait_seconds`;
* otherwise, when the holder finished with UNKNOWN or its lease expired, the loop claims the
  record and re-sends the identical request with the same outbound number.
"""
from typing import Callable, Optional

from .attempt import attempt
from .record import Record
from .store import Claimed, EffectRefused, InProgress, LeaseLost, Mismatch, Reentry, Replayed, Scheduled


def _wait(ctx, store: Reentry, pk: str, deadline: float) -> Optional[Record]:
    """Poll the record until its lease is released (or expires); None at the deadline."""
    while ctx.monotonic() < deadline:
        ctx.sleep(ctx.poll_seconds)
        record = store.get(pk)
        if record is not None and not record.lease_live(int(ctx.now().timestamp() * 1000)):
            return record
    return None


def drive(ctx, store: Reentry, claim: Callable, send: Callable, effects: Callable,
          on_mismatch: Callable, on_refused: Callable, on_busy: Callable) -> Record:
    """`ctx` has `wait_seconds`, `poll_seconds`, `now()`, `monotonic()` and `sleep(seconds)`."""
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
            raise on_busy(outcome.record)
        if record.final:
            return record
        # UNKNOWN, or the holder's lease expired: claim it and re-send (same number).


class ReentryStores:
    """For a service's context dataclass: one `Reentry` per record kind, made on first use.
    The context has `lease_seconds`, `retry_after_seconds`, `now`,
    `new_outbound_no`, `sleep`, a `_stores` dict and `record_model(kind)`: the model of the
    records of that kind."""

    def store(self, kind: str) -> Reentry:
        found = self._stores.get(kind)
        if found is None:
            found = self._stores.setdefault(kind, Reentry(
                kind, model=self.record_model(kind),
                lease_seconds=self.lease_seconds,
                retry_after_seconds=self.retry_after_seconds, now=self.now,
                new_outbound_no=self.new_outbound_no, sleep=self.sleep))
        return found
