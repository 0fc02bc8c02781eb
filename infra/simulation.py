"""`make run`: concurrent pays and withdraws over HTTP on the embedded stack, then a check.

Until the merchant system lands this is the main job. It starts the local stack,
fires pays and withdraws for a few salers from several threads (some withdraws
larger than any balance, some requests replayed, a few request ids reused with
other parameters), waits until the aggregator has credited every pay, and
compares, per saler, three numbers that must agree:

* expected: successful pays minus successful withdraws, from the answers received
  (withdraws race with credits, so only the answers say which ones succeeded);
* the balance `GET /accounts/{saler}` reports;
* the sum of the saler's journal, paged through `GET /accounts/{saler}/journal`.

It also checks that replays got the original answer, reused ids got 409, and
response ids are unique. Exit status 1 on any mismatch.
"""
import importlib
import logging
import os
import random
import socket
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Optional

import requests

from .local_stack import (DEFAULT_API_PORT, DEFAULT_AWS_PORT, REPO_ROOT, LocalStack,
                          port_from_env)

SALERS = 5
PAYS = 200
WITHDRAWS = 60
REPLAYS = 12
CONFLICTS = 3
THREADS = 8
HTTP_ATTEMPTS = 6
HTTP_TIMEOUT_SECONDS = 30
CREDIT_DEADLINE_SECONDS = 40
JOURNAL_PAGE = 100
LOG_FILE = REPO_ROOT / "out" / "simulation.log"
CHINA = timezone(timedelta(hours=8))
INSUFFICIENT_BALANCE = "账户余额不足，提款失败"


@dataclass(frozen=True)
class Call:
    kind: str            # "pay" or "withdraw"
    saler_id: str
    amount: int          # fen
    request_id: str
    request_time: str
    purpose: str = "new"  # "new", "replay" (same parameters) or "conflict" (other parameters)

    def body(self) -> dict:
        amount_field = "total_fee" if self.kind == "pay" else "withdraw_money"
        return {"request_time": self.request_time, "request_id": self.request_id,
                "saler_id": self.saler_id, amount_field: str(self.amount)}


@dataclass
class Answer:
    call: Call
    status: Optional[int]           # None: no HTTP answer after every attempt
    body: Optional[dict]

    @property
    def succeeded(self) -> bool:
        return self.status == 200 and self.body.get("response_code") == "SUCCESS"


class RequestIds:
    """20 digits: a real yyyyMMddHHmmss and a 6-digit sequence, unique within a run."""

    def __init__(self):
        self._stamp = datetime.now(CHINA).strftime("%Y%m%d%H%M%S")
        self._next = 0
        self._lock = threading.Lock()

    def new(self) -> str:
        with self._lock:
            self._next += 1
            return f"{self._stamp}{self._next:06d}"


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens on it, else any free loopback port."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return probe.getsockname()[1]
            except OSError:
                continue
    raise RuntimeError("no free port on 127.0.0.1")


def plan(rng: random.Random, ids: RequestIds) -> List[Call]:
    salers = [f"saler-{n:02d}" for n in range(1, SALERS + 1)]
    now = datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    pays = [Call("pay", rng.choice(salers), rng.randint(100, 50_000), ids.new(), now)
            for _ in range(PAYS)]
    paid = defaultdict(int)
    for call in pays:
        paid[call.saler_id] += call.amount
    withdraws = []
    for n in range(WITHDRAWS):
        saler = rng.choice(salers)
        # Every fifth asks for more than the saler will ever have; the rest race the credits.
        amount = paid[saler] + 1 if n % 5 == 0 else rng.randint(100, 120_000)
        withdraws.append(Call("withdraw", saler, amount, ids.new(), now))
    originals = pays + withdraws
    replays = [replace(call, purpose="replay") for call in rng.sample(originals, REPLAYS)]
    conflicts = [replace(call, amount=call.amount + 1, purpose="conflict")
                 for call in rng.sample(pays, CONFLICTS)]
    calls = originals + replays
    rng.shuffle(calls)
    # Conflicts go last so that the original is known recorded when they arrive.
    return calls + conflicts


class Client:
    """One keep-alive session per thread; retries are safe because every call is idempotent."""

    def __init__(self, api_url: str):
        self.api_url = api_url
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def send(self, call: Call) -> Answer:
        for attempt in range(HTTP_ATTEMPTS):
            try:
                response = self.session.post(f"{self.api_url}/{call.kind}", json=call.body(),
                                             timeout=HTTP_TIMEOUT_SECONDS)
            except requests.ConnectionError:
                self._local.session = requests.Session()
            else:
                if response.status_code != 503:
                    return Answer(call, response.status_code, response.json())
            time.sleep(0.05 * 2 ** attempt)  # bounded: HTTP_ATTEMPTS tries in all
        return Answer(call, None, None)

    def get(self, path: str, **params) -> requests.Response:
        return self.session.get(f"{self.api_url}{path}", params=params,
                                timeout=HTTP_TIMEOUT_SECONDS)


def fire(client: Client, calls: List[Call]) -> List[Answer]:
    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(client.send, [c for c in calls if c.purpose != "conflict"]))
        answers += list(pool.map(client.send, [c for c in calls if c.purpose == "conflict"]))
    return answers


def wait_for_credits(client: Client, salers: List[str]) -> bool:
    deadline = time.monotonic() + CREDIT_DEADLINE_SECONDS
    waiting = set(salers)
    while waiting and time.monotonic() < deadline:
        for saler in sorted(waiting):
            answer = client.get(f"/accounts/{saler}")
            if answer.status_code == 200 and answer.json()["pending_credit_count"] == 0:
                waiting.discard(saler)
        if waiting:
            time.sleep(0.5)
    return not waiting


def journal_sum(client: Client, saler: str) -> int:
    total, cursor = 0, None
    while True:
        params = {"limit": JOURNAL_PAGE}
        if cursor:
            params["cursor"] = cursor
        page = client.get(f"/accounts/{saler}/journal", **params).json()
        total += sum(entry["amount"] for entry in page["entries"])
        cursor = page.get("next_cursor")
        if not cursor:
            return total


@dataclass
class SalerTally:
    pays: int = 0
    paid: int = 0
    withdraws_ok: int = 0
    withdraws_failed: int = 0
    withdrawn: int = 0

    @property
    def expected(self) -> int:
        return self.paid - self.withdrawn


def tally(answers: List[Answer], problems: List[str]) -> Dict[str, SalerTally]:
    """Per saler, from the answers; each request id counts once, however often it was sent."""
    by_request: Dict[tuple, List[Answer]] = defaultdict(list)
    for answer in answers:
        if answer.call.purpose == "conflict":
            if answer.status != 409:
                problems.append(f"{answer.call.request_id}: reused with other parameters, "
                                f"answered {answer.status} instead of 409")
            continue
        by_request[(answer.call.kind, answer.call.request_id)].append(answer)
    tallies: Dict[str, SalerTally] = defaultdict(SalerTally)
    response_ids = defaultdict(list)
    for (kind, request_id), group in by_request.items():
        if any(a.status is None for a in group):
            problems.append(f"{request_id}: no answer after {HTTP_ATTEMPTS} attempts")
            continue
        first = group[0]
        seen = {(a.body.get("response_id"), a.body.get("response_code")) for a in group}
        if len(seen) > 1:
            problems.append(f"{request_id}: a replay got a different answer {sorted(seen)}")
        response_ids[first.body.get("response_id")].append(request_id)
        saler = tallies[first.call.saler_id]
        if kind == "pay" and first.succeeded:
            saler.pays += 1
            saler.paid += first.call.amount
        elif kind == "withdraw" and first.succeeded:
            saler.withdraws_ok += 1
            saler.withdrawn += first.call.amount
        elif kind == "withdraw" and first.body.get("response_msg") == INSUFFICIENT_BALANCE:
            saler.withdraws_failed += 1
        else:
            problems.append(f"{request_id}: unexpected answer {first.status} {first.body}")
    for response_id, request_ids in response_ids.items():
        if len(request_ids) > 1:
            problems.append(f"response_id {response_id} answered {len(request_ids)} requests")
    return tallies


def report(client: Client, tallies: Dict[str, SalerTally]) -> bool:
    header = (f"{'saler':<10} {'pays':>5} {'wd ok':>6} {'wd fail':>8} {'expected':>12} "
              f"{'api balance':>12} {'journal sum':>12}  check")
    print("amounts in fen; wd = withdraws")
    print(header)
    print("-" * len(header))
    all_ok = True
    for saler in sorted(tallies):
        t = tallies[saler]
        answer = client.get(f"/accounts/{saler}")
        balance = answer.json().get("balance") if answer.status_code == 200 else None
        journal = journal_sum(client, saler)
        ok = t.expected == balance == journal
        all_ok &= ok
        print(f"{saler:<10} {t.pays:>5} {t.withdraws_ok:>6} {t.withdraws_failed:>8} "
              f"{t.expected:>12} {balance!s:>12} {journal:>12}  {'OK' if ok else 'MISMATCH'}")
    return all_ok


def _logs_to_file(path: Path) -> None:
    """Send the stack's JSON log lines to a file so the table stays readable.

    The app is imported first: on import Chalice configures the `paysettle`
    logger unless a stdout handler is already there.
    """
    importlib.import_module("app")
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("paysettle").handlers = [handler]


def main() -> int:
    started = time.monotonic()
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    _logs_to_file(LOG_FILE)
    seed = int(os.environ.get("SIMULATION_SEED", "3"))
    stack = LocalStack(api_port=free_port(port_from_env("API_PORT", DEFAULT_API_PORT)),
                       aws_port=free_port(port_from_env("AWS_PORT", DEFAULT_AWS_PORT)),
                       out_path=None, api_log=LOG_FILE.with_name("simulation-api.log"))
    with stack:
        print(f"embedded stack: API {stack.api_url}, AWS {stack.aws.url}; logs in {LOG_FILE.parent}/")
        client = Client(stack.api_url)
        calls = plan(random.Random(seed), RequestIds())
        print(f"firing {len(calls)} calls from {THREADS} threads (seed {seed}): {PAYS} pays, "
              f"{WITHDRAWS} withdraws, {REPLAYS} replays, {CONFLICTS} reused request ids")
        answers = fire(client, calls)
        problems: List[str] = []
        tallies = tally(answers, problems)
        if not wait_for_credits(client, sorted(tallies)):
            problems.append(f"credits still pending after {CREDIT_DEADLINE_SECONDS} s")
        print()
        balances_ok = report(client, tallies)
    print()
    for problem in problems:
        print(f"PROBLEM: {problem}")
    verdict = balances_ok and not problems
    print(f"{'ALL OK' if verdict else 'MISMATCH'} in {time.monotonic() - started:.1f} s")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
