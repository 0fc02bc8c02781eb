"""One retry-with-backoff policy: exponential, capped, full jitter; clock and sleep injectable.

    policy = Backoff(attempts=12, base_seconds=0.01, cap_seconds=0.5)
    result = policy.call(send, retry_on=lambda e: is_conflict(e))

or, for a loop whose body decides itself whether to go on:

    for attempt in policy.tries():
        ...            # `break` when done; the policy sleeps between tries

Full jitter (a uniform delay in [0, min(cap, base * 2**attempt))) keeps writers that collided
from colliding again in step. `deadline_seconds` bounds the whole, measured on `clock`, so a
Lambda never outlives its time budget retrying.
"""
import random as _random
import time
from dataclasses import dataclass, field
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
