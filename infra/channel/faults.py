"""The fault schedule: per operation, a FIFO of (fault, remaining count, delay).

`POST /_control/faults {"operation", "fault", "count", "delay_ms"}` appends one entry to
that operation's queue; each call of the operation takes the head entry's fault and
counts it down (an entry at zero is dropped), so faults scheduled one after another
are served in order, and an operation never takes another operation's fault.

The kinds (what the server does with them):
* `timeout_before_commit`: nothing is applied; the connection is held `delay_ms`, then
  closed without an answer;
* `timeout_after_commit`: the call is applied (money moves), then held and closed the same way;
* `system_error`: 500 `{"code": "SYSTEM_ERROR", ...}`, nothing applied;
* `http_500`: a bare 500 with a non-JSON body, nothing applied;
* `reject`: 400 `{"code": "INVALID_REQUEST", "message": "对应的订单不能补差"}`, nothing applied;
* `slow`: applied, answered normally after `delay_ms`.
"""
import threading
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, List, Optional

from .rules import FAULTABLE_OPERATIONS, ChannelError, param_error

TIMEOUT_BEFORE_COMMIT = "timeout_before_commit"
TIMEOUT_AFTER_COMMIT = "timeout_after_commit"
SYSTEM_ERROR = "system_error"
HTTP_500 = "http_500"
REJECT = "reject"
SLOW = "slow"
KINDS = (TIMEOUT_BEFORE_COMMIT, TIMEOUT_AFTER_COMMIT, SYSTEM_ERROR, HTTP_500, REJECT, SLOW)
# Kinds that stop the call before the rules see it.
UNAPPLIED_KINDS = (TIMEOUT_BEFORE_COMMIT, SYSTEM_ERROR, HTTP_500, REJECT)

DEFAULT_DELAY_MS = 3000
MAX_DELAY_MS = 120_000
MAX_COUNT = 100_000


@dataclass(frozen=True)
class Fault:
    """One call's fault: its kind and how long to hold or delay (seconds)."""
    kind: str
    delay_seconds: float


@dataclass
class _Entry:
    kind: str
    remaining: int
    delay_ms: int


class FaultSchedule:
    """Pending faults per operation; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._queues: Dict[str, Deque[_Entry]] = {}

    def reset(self) -> None:
        with self._lock:
            self._queues = {}

    def add(self, body) -> dict:
        """Schedule from a control body; PARAM_ERROR (naming the field) when it is wrong."""
        if not isinstance(body, dict):
            raise param_error("body", "must be a JSON object")
        unknown = sorted(set(body) - {"operation", "fault", "count", "delay_ms"})
        if unknown:
            raise param_error(unknown[0], "unknown setting")
        operation, kind = body.get("operation"), body.get("fault")
        if operation not in FAULTABLE_OPERATIONS:
            raise param_error("operation", f"one of {', '.join(FAULTABLE_OPERATIONS)}")
        if kind not in KINDS:
            raise param_error("fault", f"one of {', '.join(KINDS)}")
        count = body.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
            raise param_error("count", f"an integer from 1 to {MAX_COUNT}")
        delay = body.get("delay_ms", DEFAULT_DELAY_MS)
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_MS:
            raise param_error("delay_ms", f"an integer from 0 to {MAX_DELAY_MS}")
        entry = _Entry(kind, count, delay)
        with self._lock:
            self._queues.setdefault(operation, deque()).append(entry)
        return {"operation": operation, "fault": kind, "count": count, "delay_ms": delay}

    def take(self, operation: str) -> Optional[Fault]:
        """The fault of the next call of `operation` (counted down), or None."""
        with self._lock:
            queue = self._queues.get(operation)
            if not queue:
                return None
            head = queue[0]
            head.remaining -= 1
            if head.remaining == 0:
                queue.popleft()
            return Fault(head.kind, head.delay_ms / 1000)

    def pending(self) -> List[dict]:
        with self._lock:
            return [{"operation": operation, "fault": e.kind, "remaining": e.remaining,
                     "delay_ms": e.delay_ms}
                    for operation, queue in self._queues.items() for e in queue]


__all__ = ["FaultSchedule", "Fault", "KINDS", "UNAPPLIED_KINDS", "ChannelError"]
