"""Helpers of the end-to-end tests: polling with a deadline, ids, the stack as a subprocess."""
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional, TypeVar

import boto3
import requests

from infra.ports import free_port
from tools.signing import SignedAuth

REPO_ROOT = Path(__file__).resolve().parents[2]
CHINA = timezone(timedelta(hours=8))
# DynamoDB Local's JVM and two app imports on a shared 2-core machine.
STACK_START_SECONDS = 120
STACK_STOP_SECONDS = 30

T = TypeVar("T")


class Deadline(AssertionError):
    """A condition polled for did not hold in time."""


def wait_until(probe: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise Deadline(f"{what}: not true after {timeout} s (last: {last!r})")
        time.sleep(interval)


_sequence = itertools.count(1)
_sequence_lock = threading.Lock()
_stamp = datetime.now(CHINA).strftime("%Y%m%d%H%M%S")


def new_request_id() -> str:
    """20 digits, the first 14 a real timestamp; unique within the test session."""
    with _sequence_lock:
        return f"{_stamp}{next(_sequence):06d}"


def new_saler() -> str:
    """A saler of its own for each test, so tests never see each other's money."""
    return f"e2e-{uuid.uuid4().hex[:12]}"


def request_time() -> str:
    return datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def signed_session(credentials, key_id: str) -> requests.Session:
    """A session signing every request with one caller's credential of the manifest's `merchants`."""
    [credential] = [c for c in credentials if c["key_id"] == key_id]
    session = requests.Session()
    session.auth = SignedAuth.from_credential(credential)
    return session


@dataclass
class RunningStack:
    """`python -m infra.local_stack` in a subprocess, as `make serve` runs it.

    `http` signs as mch-demo, the stack's merchant, which owns every saler the tests invent."""
    process: subprocess.Popen
    manifest_path: Path
    log_path: Path
    manifest: dict = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def api(self) -> str:
        """The payment center's API."""
        return self.manifest["api_url"]

    @property
    def merchant_api(self) -> str:
        """The merchant system's API (its own app)."""
        return self.manifest["merchant_api_url"]

    def client(self, service: str):
        # Explicit endpoint and dummy credentials: never real AWS.
        endpoint = self.manifest["dynamodb_endpoint_url" if service == "dynamodb"
                                 else "aws_endpoint_url"]
        return boto3.session.Session().client(
            service, endpoint_url=endpoint,
            region_name=self.manifest["region"], aws_access_key_id="e2e",
            aws_secret_access_key="e2e")

    def credential(self, key_id: str) -> dict:
        [found] = [c for c in self.manifest["merchants"] if c["key_id"] == key_id]
        return found

    def session(self, key_id: str) -> requests.Session:
        return signed_session(self.manifest["merchants"], key_id)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    # -- the API ---------------------------------------------------------------

    def pay(self, saler: str, amount, request_id: Optional[str] = None,
            when: Optional[str] = None) -> requests.Response:
        return self.pay_with(self.http, saler, amount, request_id, when)

    def pay_with(self, session: requests.Session, saler: str, amount,
                 request_id: Optional[str] = None, when: Optional[str] = None) -> requests.Response:
        """A pay sent on `session` (a thread's own signed session)."""
        body = {"request_time": when or request_time(), "request_id": request_id or new_request_id(),
                "saler_id": saler, "total_fee": amount}
        return session.post(f"{self.api}/pay", json=body, timeout=30)

    def withdraw(self, saler: str, amount, request_id: Optional[str] = None,
                 when: Optional[str] = None) -> requests.Response:
        return self.withdraw_with(self.http, saler, amount, request_id, when)

    def withdraw_with(self, session: requests.Session, saler: str, amount,
                      request_id: Optional[str] = None, when: Optional[str] = None) -> requests.Response:
        """A withdraw sent on `session` (a thread's own signed session)."""
        body = {"request_time": when or request_time(), "request_id": request_id or new_request_id(),
                "saler_id": saler, "withdraw_money": amount}
        return session.post(f"{self.api}/withdraw", json=body, timeout=30)

    def account(self, saler: str) -> dict:
        answer = self.http.get(f"{self.api}/accounts/{saler}", timeout=30)
        return answer.json() if answer.status_code == 200 else {}

    def wait_for_balance(self, saler: str, balance: int, timeout: float = 20) -> dict:
        """Poll until the aggregator has applied every credit and the balance is `balance`."""
        def settled():
            account = self.account(saler)
            done = account.get("balance") == balance and account.get("pending_credit_count") == 0
            return account if done else None
        return wait_until(settled, timeout, f"{saler} balance {balance} with nothing pending")

    def journal(self, saler: str, limit: int = 100) -> list:
        entries, cursor = [], None
        while True:
            params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
            page = self.http.get(f"{self.api}/accounts/{saler}/journal", params=params,
                                 timeout=30).json()
            entries += page["entries"]
            cursor = page["next_cursor"]
            if not cursor:
                return entries


def start_stack(workdir: Path, extra_env: Optional[dict] = None,
                new_session: bool = False) -> RunningStack:
    """`new_session`: the stack and DynamoDB Local get a process group of their own, which a
    test can SIGKILL whole (`os.killpg`)."""
    manifest_path = workdir / "local-stack.json"
    log_path = workdir / "local-stack.log"
    env = dict(os.environ, API_PORT=str(free_port()), AWS_PORT=str(free_port()),
               MERCHANT_API_PORT=str(free_port()),
               LOCAL_STACK_OUT=str(manifest_path), PYTHONUNBUFFERED="1")
    env.update(extra_env or {})
    manifest_path.unlink(missing_ok=True)  # a killed stack's, which would read as "ready"
    with log_path.open("ab") as log:
        process = subprocess.Popen([sys.executable, "-m", "infra.local_stack"], cwd=REPO_ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=new_session)
    stack = RunningStack(process, manifest_path, log_path)

    def ready():
        if process.poll() is not None:
            raise AssertionError(f"the stack exited with {process.returncode}:\n{stack.log_text()[-3000:]}")
        return manifest_path.exists()

    try:
        wait_until(ready, STACK_START_SECONDS, "the stack wrote its manifest", interval=0.2)
    except BaseException:
        stop_stack(stack)
        raise
    stack.manifest = json.loads(manifest_path.read_text())
    stack.http.auth = SignedAuth.from_credential(stack.credential("mch-demo"))
    return stack


def stop_stack(stack: RunningStack, sig: int = signal.SIGINT) -> int:
    """Stop the way a user does (Ctrl-C by default); return the exit status."""
    stack.http.close()
    if stack.process.poll() is None:
        stack.process.send_signal(sig)
        try:
            stack.process.wait(STACK_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait()
            raise AssertionError(f"the stack ignored {signal.Signals(sig).name} "
                                 f"for {STACK_STOP_SECONDS} s")
    return stack.process.returncode
