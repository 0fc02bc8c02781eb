"""Runs a load plan against the merchant API from a pool of threads.

`run_load(settings)` is the one entry point (the `paysettle load` command and
`make run` both call it): it plans, optionally turns the payment link's fault
mode on, sends every call (in plan order, `threads` at a time), turns the fault
mode back to what it was, and returns a `LoadResult`.
"""
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

from tqdm import tqdm

from . import outcomes as counting
from .client import DEFAULT_TIMEOUT_SECONDS, CallOutcome, MerchantClient
from .faults import FaultSession
from .plan import PAY, WITHDRAW, PlanSpec, overdraw_count, plan
from ..signing import SignedAuth
from .report import render_table

PERCENTILE_METHOD = "nearest-rank"
# The fault rate `make run` uses: 1 % of the merchant's calls to the payment API time out after
# the payment side committed. docs/load-driver.md ("What rate is realistic") says why.
REALISTIC_FAULT_RATE = 0.01


@dataclass(frozen=True)
class LoadSettings:
    api_url: str
    spec: PlanSpec = field(default_factory=PlanSpec)
    threads: int = 16
    timeout: float = DEFAULT_TIMEOUT_SECONDS   # per call, seconds; above the merchant's own
    fault_rate: float = 0.0                    # share of merchant->payment calls timed out after commit
    payment_link_url: Optional[str] = None     # needed when fault_rate > 0
    restore_faults: bool = True                # leave the payment link as it was found
    progress: bool = True                      # a progress bar on stderr
    # {"key_id", "secret"}: every call signed with it (None: unsigned, the merchant API's
    # /merchant/* routes need no signature). Never printed: repr leaves it out.
    credential: Optional[dict] = field(default=None, repr=False)

    def problems(self) -> List[str]:
        found = list(self.spec.problems())
        if not self.api_url.startswith(("http://", "https://")):
            found.append(f"--api-url {self.api_url!r} is not an http:// or https:// URL")
        if self.threads < 1:
            found.append("--threads must be at least 1")
        if not self.timeout > 0:
            found.append("--timeout must be more than 0 seconds")
        if not 0 <= self.fault_rate <= 1:
            found.append("--fault-rate must be in [0, 1]")
        if self.fault_rate > 0 and not self.payment_link_url:
            found.append("--fault-rate needs the payment link: no payment_link_url in the "
                         "stack file (is the local stack running?) and no --payment-link-url")
        return found


@dataclass
class LoadResult:
    settings: LoadSettings
    outcomes: List[CallOutcome]       # one per planned call, in plan order
    wall_seconds: float
    faults: Optional[Dict[str, int]]  # the payment link's counters during the run; None if off

    @property
    def unknown_request_ids(self) -> List[str]:
        """Merchant request_ids answered UNKNOWN (or INIT): orders the merchant must resolve."""
        return counting.unresolved_request_ids(self.outcomes)

    @property
    def complete(self) -> bool:
        """Every call got a readable HTTP 200 answer (SUCCESS, FAIL, UNKNOWN or INIT)."""
        return all(counting.state_of(o) is not None for o in self.outcomes)

    def to_dict(self) -> dict:
        spec = self.settings.spec
        by_kind = {kind: [o for o in self.outcomes if o.call.kind == kind] for kind in (PAY, WITHDRAW)}
        operations = {kind: counting.operation_stats(items, self.wall_seconds)
                      for kind, items in by_kind.items()}
        operations["overall"] = counting.operation_stats(self.outcomes, self.wall_seconds)
        return {
            "api_url": self.settings.api_url,
            "seed": spec.seed,
            "plan": {**asdict(spec), "overdraws": overdraw_count(spec)},
            "threads": self.settings.threads,
            "fault_rate": self.settings.fault_rate,
            "wall_seconds": round(self.wall_seconds, 3),
            "percentile_method": PERCENTILE_METHOD,
            "operations": operations,
            "overdraw_outcomes": counting.count(o for o in self.outcomes if o.call.overdraw),
            "faults": self.faults,
            "unknown_request_ids": self.unknown_request_ids,
            "complete": self.complete,
        }

    def table(self) -> str:
        return render_table(self.to_dict())


def _send_all(client: MerchantClient, calls, threads: int, progress: bool) -> List[CallOutcome]:
    results: List[Optional[CallOutcome]] = [None] * len(calls)
    # On a terminal the bar redraws twice a second; in a log file each redraw is appended.
    interval = 0.5 if sys.stderr.isatty() else 15
    bar = tqdm(total=len(calls), desc="load", unit="call", file=sys.stderr,
               disable=not progress, dynamic_ncols=True, mininterval=interval)
    try:
        # The pool's queue is first in, first out: calls start in plan order.
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="load") as pool:
            futures = {pool.submit(client.send, call): call.index for call in calls}
            try:
                for future in as_completed(futures):
                    results[futures[future]] = future.result()
                    bar.update(1)
            except BaseException:
                # Ctrl-C or a driver bug: send nothing more (calls already sent finish).
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    finally:
        bar.close()
    return results


def run_load(settings: LoadSettings) -> LoadResult:
    problems = settings.problems()
    if problems:
        raise ValueError("; ".join(problems))
    calls = plan(settings.spec)
    fault_session = None
    if settings.fault_rate > 0:
        fault_session = FaultSession(settings.payment_link_url, settings.fault_rate,
                                     settings.spec.seed)
        fault_session.start()
    auth = SignedAuth.from_credential(settings.credential) if settings.credential else None
    client = MerchantClient(settings.api_url, timeout=settings.timeout, auth=auth)
    try:
        started = time.perf_counter()
        outcomes = _send_all(client, calls, settings.threads, settings.progress)
        wall_seconds = time.perf_counter() - started
    finally:
        client.close()
        if fault_session is not None:
            fault_session.finish(restore=settings.restore_faults)
    return LoadResult(settings, outcomes, wall_seconds,
                      fault_session.counters() if fault_session else None)
