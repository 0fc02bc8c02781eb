"""One attempt: send a claimed record's stored request once, under its lease, and record it."""
from typing import Callable, Union

from .record import Failed, Record, Succeeded, Unknown
from .store import Effects, FinishOutcome, LeaseLostError, Reentry, LeaseLost, _no_effects

Send = Callable[[Record], Union[Succeeded, Failed, Unknown]]


def attempt(store: Reentry, claimed: Record, send: Send,
            effects: Effects = _no_effects) -> FinishOutcome:
    """start_sending (fenced), send the IDENTICAL stored request with the record's outbound
    number, finish (fenced). `LeaseLost` without sending when the lease was lost before."""
    try:
        sending = store.start_sending(claimed)
    except LeaseLostError as lost:
        return LeaseLost(lost.record)
    return store.finish(sending, send(sending), effects)
