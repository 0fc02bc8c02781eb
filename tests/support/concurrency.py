"""Threads for the concurrency tests: many callers at once, background aggregators, a monitor."""
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, List, Sequence

from botocore.exceptions import ClientError

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.payments import aggregator, ledger
from chalicelib.payments.context import Payments
from tests.support.proxy import ClientProxy

THREADS = 32
MAX_BUSY_RETRIES = 20


def run_concurrently(function: Callable, arguments: Sequence, threads: int = THREADS) -> List:
    """Call `function` on every argument from `threads` threads, the first `threads` released together.

    Returns, in the order of `arguments`, each result or the exception raised.
    """
    go = threading.Event()

    def guarded(argument):
        go.wait(timeout=30)
        try:
            return function(argument)
        except Exception as error:    # noqa: BLE001 - the caller inspects every outcome
            return error

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(guarded, argument) for argument in arguments]
        go.set()
        return [future.result() for future in futures]


class Merchant:
    """Sends requests like the merchant system: a BUSY answer is retried with the same request."""

    def __init__(self, world, on_busy: Callable[[int], None]):
        self.world = world
        self.on_busy = on_busy

    def submit(self, request):
        for _ in range(MAX_BUSY_RETRIES):
            try:
                return self.world.submit(request)
            except PaySettleError as error:
                if error.code is not ErrorCode.BUSY:
                    raise
                self.on_busy(1)
        raise AssertionError(f"request {request.request_id} still BUSY after {MAX_BUSY_RETRIES} tries")

    def send(self, request):
        return self.submit(request).order


@dataclass
class AggregatorLoops:
    """`count` threads running the aggregator back to back until stopped."""

    ctx: Payments
    count: int = 2
    reports: List[aggregator.AggregatorReport] = field(default_factory=list)
    errors: List[BaseException] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, name=f"aggregator-{i}", daemon=True)
                         for i in range(self.count)]

    def _loop(self):
        while not self._stop.is_set():
            try:
                report = aggregator.run(self.ctx)
            except Exception as error:  # noqa: BLE001 - surfaced by __exit__
                with self._lock:
                    self.errors.append(error)
                return
            with self._lock:
                self.reports.append(report)
            if not report.received:
                self._stop.wait(0.01)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in self._threads), "an aggregator loop did not stop"
        assert not self.errors, f"aggregator runs failed: {self.errors!r}"


@dataclass
class BalanceMonitor:
    """Reads the balances of `salers` over and over (strongly consistent) while others write."""

    ctx: Payments
    salers: Sequence[str]
    lowest: dict = field(default_factory=dict)
    reads: int = 0

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="balance-monitor", daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            for saler in self.salers:
                state = ledger.account_state(self.ctx.tenant, saler)
                self.reads += 1
                self.lowest[saler] = min(self.lowest.get(saler, state.balance), state.balance)
            self._stop.wait(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


class ObservedClient(ClientProxy):
    """Counts a client's API calls and the reasons its transactions were cancelled; thread-safe."""

    def __init__(self, client):
        super().__init__(client)
        self._lock = threading.Lock()
        self.calls = Counter()
        self.cancellations = Counter()      # reason code -> number of items cancelled for it
        self.errors = Counter()

    def _call(self, operation, method, *args, **kwargs):
        with self._lock:
            self.calls[operation] += 1
        try:
            return method(*args, **kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            with self._lock:
                self.errors[code] += 1
                self.cancellations.update(r for r in reasons if r and r != "None")
            raise
