"""One retry-with-backoff policy: exponential, capped, full jitter; clock and sleep injectable.

    policy = Backoff(attempts=12, base_seconds=0.01, cap_seconds=0.5)
    result = policy.call(send, retry_on=lambda e: is_conflict(e))

or, for a loop whose body decides itself whether to go on:

    for attempt in policy.tries():
        ...            # `break` when done; the policy sleeps between tries

or, for a loop that retries some outcomes at once (a fresh random id drawn after a collision)
and pauses only after contention:

    for attempt in range(policy.attempts):
        ...            # `continue` to retry at once
        policy.pause(attempt)

The named policies below are every retry loop's settings, in one place. A context's own
`sleep` (tests pass one that returns at once) is bound with `policy.using(sleep=ctx.sleep)`.

Full jitter (a uniform delay in [0, min(cap, base * 2**attempt))) keeps writers that collided
from colliding again in step. `deadline_seconds` bounds the whole, measured on `clock`, so a
Lambda never outlives its time budget retrying.
"""
import random as _random
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Optional, TypeVar

T = TypeVar("T")


class RetriesExhausted(Exception):
    """Every try failed (or the deadline passed); `last` is the last try's error."""

    def __init__(self, tries: int, last: Optional[BaseException]):
        super().__init__(f"gave up after {tries} tries: {last!r}")
        self.tries = tries
        self.last = last


@dataclass(frozen=True)
class Backoff:
    attempts: int
    base_seconds: float
    cap_seconds: float
    deadline_seconds: Optional[float] = None
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    random: Callable[[], float] = field(default=_random.random, compare=False)

    def __post_init__(self):
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError("delays must not be negative")

    def delay(self, attempt: int) -> float:
        """The pause after failed try number `attempt` (0-based)."""
        return self.random() * min(self.cap_seconds, self.base_seconds * 2 ** attempt)

    def pause(self, attempt: int) -> None:
        """Sleep after failed try number `attempt`; nothing after the last (no try follows)."""
        if attempt < self.attempts - 1:
            self.sleep(self.delay(attempt))

    def using(self, sleep: Optional[Callable[[float], None]] = None,
              random: Optional[Callable[[], float]] = None) -> "Backoff":
        """This policy with another sleep and/or random source (a test's, a context's)."""
        return replace(self, sleep=sleep or self.sleep, random=random or self.random)

    def tries(self) -> Iterator[int]:
        """Try numbers 0, 1, ...; sleeps before each but the first. Stops after `attempts`, or
        before a try that would start past the deadline."""
        started = self.clock()
        for attempt in range(self.attempts):
            if attempt:
                pause = self.delay(attempt - 1)
                if (self.deadline_seconds is not None
                        and self.clock() + pause - started > self.deadline_seconds):
                    return
                self.sleep(pause)
            yield attempt

    def call(self, operation: Callable[[], T], retry_on: Callable[[BaseException], bool]) -> T:
        """`operation()`'s result; an error `retry_on` accepts is retried, any other raised at
        once; RetriesExhausted (from the last error) when no try is left."""
        last: Optional[BaseException] = None
        tries = 0
        for _ in self.tries():
            tries += 1
            try:
                return operation()
            except Exception as error:  # noqa: BLE001 - retry_on decides, the rest is re-raised
                if not retry_on(error):
                    raise
                last = error
        raise RetriesExhausted(tries, last) from last


# A pay or withdraw: the caller waits for the answer, so many short pauses; BUSY when spent.
PAY_WITHDRAW = Backoff(attempts=40, base_seconds=0.004, cap_seconds=0.2)
# Settling a trade (its real-time phase), answered to the caller like a pay.
TRADE_SETTLEMENT = Backoff(attempts=30, base_seconds=0.004, cap_seconds=0.2)
# One transaction of the credit aggregator: what is left unapplied stays queued for the next run.
CREDIT_BATCH = Backoff(attempts=12, base_seconds=0.01, cap_seconds=0.5)
# One asynchronous phase of a trade: "busy" leaves it pending for the applier's next run.
TRADE_PHASE = Backoff(attempts=8, base_seconds=0.01, cap_seconds=0.5)
# Reads and conditional writes of one reentry record (subsidies, sharing) racing other writers.
REENTRY_RECORD = Backoff(attempts=20, base_seconds=0.002, cap_seconds=0.05)
# An account read together with its journal entries: re-read at once while credits land.
ACCOUNT_SNAPSHOT = Backoff(attempts=5, base_seconds=0.0, cap_seconds=0.0)
# The merchant system's order with its caller's idempotency key, racing the same key.
MERCHANT_KEYED_ORDER = Backoff(attempts=6, base_seconds=0.01, cap_seconds=0.32)
