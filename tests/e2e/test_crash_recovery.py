"""What a crash leaves: the books survive a SIGKILL of the whole stack, and the API's.

The merchant's view decides: every pay answered SUCCESS before the crash is still there
after it, credited exactly once (its credit message may have died with the queue: the
sweeper finds it), and a pay whose answer was lost is settled by sending it again, same
request_id, as the merchant would.
"""
import os
import signal
import threading
import time
from typing import Dict, List, Tuple

import pytest
import requests

from .support import (Deadline, RunningStack, new_request_id, new_saler, start_stack, stop_stack,
                      request_time, wait_until)

pytestmark = pytest.mark.e2e

THREADS = 8
SUCCESS_BEFORE_KILL = 40
RECOVERY_SECONDS = 90
API_BACK_SECONDS = 30
RESEND_PAUSE_SECONDS = 0.2


class PayLoad:
    """Signed pays from THREADS threads, each for its own saler, until stopped."""

    def __init__(self, stack: RunningStack):
        self.stack = stack
        self.salers = [new_saler() for _ in range(THREADS)]
        self.succeeded: Dict[str, List[Tuple[str, int]]] = {s: [] for s in self.salers}
        self.unanswered: Dict[str, List[Tuple[str, int, str]]] = {s: [] for s in self.salers}
        self.stopping = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(s,)) for s in self.salers]

    def _run(self, saler: str) -> None:
        """Pays one after another; one without an answer is sent again, identical, as the
        merchant does, until it is answered or the load stops (then it is left unanswered)."""
        session = self.stack.session("mch-demo")
        amount = 1
        while not self.stopping.is_set():
            request_id, amount, when = new_request_id(), amount % 97 + 1, request_time()
            while True:
                try:
                    answer = self.stack.pay_with(session, saler, amount, request_id, when)
                except requests.RequestException:
                    answer = None
                if answer is not None and answer.status_code < 500:
                    break
                if self.stopping.wait(RESEND_PAUSE_SECONDS):
                    self.unanswered[saler].append((request_id, amount, when))
                    return
            if answer.status_code == 200 and answer.json().get("response_code") == "SUCCESS":
                self.succeeded[saler].append((request_id, amount))

    def start(self) -> "PayLoad":
        for thread in self._threads:
            thread.start()
        return self

    def successes(self) -> int:
        return sum(len(v) for v in self.succeeded.values())

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(60)


def _resend_unanswered(stack: RunningStack, load: PayLoad) -> None:
    """The merchant sends each unanswered pay again, the identical message, until answered."""
    for saler, calls in load.unanswered.items():
        for request_id, amount, when in calls:
            def answered():
                try:
                    answer = stack.pay(saler, amount, request_id=request_id, when=when)
                except requests.RequestException as error:
                    last_problem[:] = [repr(error)]
                    return None
                last_problem[:] = [answer.status_code, answer.text]
                return [answer] if answer.status_code < 500 else None  # a Response of 4xx is falsy
            last_problem = []
            try:
                [answer] = wait_until(answered, 30, f"an answer to {request_id}", interval=0.5)
            except Deadline:
                raise AssertionError(f"no answer to {request_id}: {last_problem}") from None
            assert answer.status_code == 200, answer.text
            if answer.json()["response_code"] == "SUCCESS":
                load.succeeded[saler].append((request_id, amount))


def _check_books(stack: RunningStack, load: PayLoad) -> None:
    for saler, paid in load.succeeded.items():
        stack.wait_for_balance(saler, sum(amount for _, amount in paid), timeout=RECOVERY_SECONDS)
        journal = [e["request_id"] for e in stack.journal(saler)]
        assert sorted(journal) == sorted(request_id for request_id, _ in paid), \
            f"{saler}: the journal is not one entry per successful pay"


def test_a_sigkilled_stack_comes_back_with_its_books_intact(tmp_path):
    stack = start_stack(tmp_path, new_session=True)
    load = PayLoad(stack).start()
    try:
        wait_until(lambda: load.successes() >= SUCCESS_BEFORE_KILL, 60,
                   f"{SUCCESS_BEFORE_KILL} pays succeeded under load")
        # The stack and DynamoDB Local at once, no chance to flush or clean up; the API
        # (its own session) notices its parent is gone and exits by itself.
        os.killpg(stack.process.pid, signal.SIGKILL)
        stack.process.wait()
    finally:
        load.stop()
    assert load.successes() >= SUCCESS_BEFORE_KILL
    answered_before = {s: list(v) for s, v in load.succeeded.items()}

    again = start_stack(tmp_path)
    try:
        _resend_unanswered(again, load)
        for saler, paid in answered_before.items():
            for request_id, amount in paid:
                assert set(paid) <= set(load.succeeded[saler])
        _check_books(again, load)
    finally:
        assert stop_stack(again) == 0


def test_a_sigkilled_api_answers_again_and_its_in_flight_pays_resolve(tmp_path):
    stack = start_stack(tmp_path)
    try:
        load = PayLoad(stack).start()
        try:
            wait_until(lambda: load.successes() >= SUCCESS_BEFORE_KILL // 2, 60, "pays succeed")
            api_pid = _api_pid(stack)
            os.kill(api_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            before = load.successes()
            wait_until(lambda: load.successes() > before + THREADS, API_BACK_SECONDS,
                       "the API answered pays again after its SIGKILL")
            assert time.monotonic() - killed_at < API_BACK_SECONDS
        finally:
            load.stop()
        assert _api_pid(stack) != api_pid
        _resend_unanswered(stack, load)
        _check_books(stack, load)
        log = stack.log_text()
        center = [line for line in log.splitlines() if '"process":"api:center"' in line]
        assert any('"event":"supervisor.exited"' in line for line in center)
        assert any('"event":"supervisor.restarted"' in line for line in center)
    finally:
        assert stop_stack(stack) == 0


def _api_pid(stack: RunningStack) -> int:
    """The pid of the stack's newest supervised payment-center API (not the merchant
    system's, the stack's other `chalice local`), from its log."""
    import json
    started = [json.loads(line) for line in stack.log_text().splitlines()
               if '"event":"supervisor.' in line and '"process":"api:center"' in line]
    return [e for e in started if e["event"] in ("supervisor.started", "supervisor.restarted")][-1]["pid"]
