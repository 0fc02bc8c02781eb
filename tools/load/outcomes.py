"""What each answer means, counted per operation.

Counted per operation (pay, withdraw, and overall), plus the overdraws on their
own (a subset of the withdraws):

* `SUCCESS`, `UNKNOWN`, `INIT`: HTTP 200 with that merchant order `state`;
* `FAIL`: HTTP 200, state FAIL, counted by `response_msg`;
* `http_errors`: any other HTTP status, by status (400 bad input, 5xx ...);
* `unreadable_answers`: HTTP 200 whose body is not a merchant order view;
* `connection_errors`: no HTTP answer (see `client`): `connect_failed` (never
  sent), `connection_lost` and `timed_out` (may have made an order the driver
  will never know the request_id of).
"""
from collections import Counter
from typing import Dict, Iterable, List, Optional

from .client import CONNECT_FAILED, CONNECTION_LOST, TIMED_OUT, CallOutcome
from .percentiles import summary

STATES = ("SUCCESS", "FAIL", "UNKNOWN", "INIT")
UNRESOLVED = ("UNKNOWN", "INIT")
DRIVER_ERRORS = (CONNECT_FAILED, CONNECTION_LOST, TIMED_OUT)


def state_of(outcome: CallOutcome) -> Optional[str]:
    """The merchant order state of a readable HTTP 200 answer, else None."""
    body = outcome.body
    if outcome.status != 200 or not isinstance(body, dict):
        return None
    state = body.get("state")
    return state if state in STATES else None


def request_id_of(outcome: CallOutcome) -> Optional[str]:
    body = outcome.body
    return body.get("request_id") if isinstance(body, dict) else None


def count(outcomes: Iterable[CallOutcome]) -> dict:
    states: Counter = Counter()
    failures: Counter = Counter()
    http_errors: Counter = Counter()
    driver_errors: Counter = Counter()
    unreadable = 0
    for outcome in outcomes:
        if outcome.error:
            driver_errors[outcome.error] += 1
            continue
        state = state_of(outcome)
        if outcome.status != 200:
            http_errors[str(outcome.status)] += 1
        elif state is None:
            unreadable += 1
        elif state == "FAIL":
            failures[str(outcome.body.get("response_msg") or "")] += 1
        else:
            states[state] += 1
    return {"SUCCESS": states["SUCCESS"], "FAIL": dict(sorted(failures.items())),
            "UNKNOWN": states["UNKNOWN"], "INIT": states["INIT"],
            "http_errors": dict(sorted(http_errors.items())),
            "unreadable_answers": unreadable,
            "connection_errors": {name: driver_errors[name] for name in DRIVER_ERRORS}}


def _rounded(values: Dict[str, float]) -> Dict[str, float]:
    return {key: round(value, 3) for key, value in values.items()}


def operation_stats(outcomes: List[CallOutcome], wall_seconds: float) -> dict:
    """Calls, throughput over the run's wall time, latency of the answered calls, outcomes."""
    latencies = [o.latency_ms for o in outcomes if o.latency_ms is not None]
    return {"calls": len(outcomes),
            "answered": len(latencies),
            "throughput_per_s": round(len(outcomes) / wall_seconds, 3) if wall_seconds > 0 else 0.0,
            "latency_ms": _rounded(summary(latencies)),
            "outcomes": count(outcomes)}


def unresolved_request_ids(outcomes: Iterable[CallOutcome]) -> List[str]:
    """request_ids the merchant answered UNKNOWN (or INIT), in plan order."""
    return [request_id_of(o) for o in sorted(outcomes, key=lambda o: o.call.index)
            if state_of(o) in UNRESOLVED and request_id_of(o)]
