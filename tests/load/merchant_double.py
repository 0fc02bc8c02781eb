"""A small merchant API on loopback for the load driver's tests: real HTTP, fixed rules.

It implements the merchant contract the driver relies on (POST /merchant/pay,
POST /merchant/withdraw -> 200 with the order view, 400 on bad input) with
answers fixed by the amount, so a test can say from the plan alone what each
call must get:

pay `total_fee`, first rule that matches:
  % 19 == 0  answered after `hang_seconds` (beyond the driver's timeout in the tests)
  % 17 == 0  the connection is closed without an answer
  % 13 == 0  HTTP 503
  % 11 == 0  state UNKNOWN (as after a timeout towards the payment side)
  %  7 == 0  SUCCESS after `slow_seconds`
  otherwise  SUCCESS
  A SUCCESS credits the saler at once.
withdraw: SUCCESS and debited if the saler's balance covers it, else FAIL
  "账户余额不足，提款失败".

A payment link double (`/_control/faults`) shares a `Faults` object with the
merchant: while its `timeout_after_commit` share is on, that share of the calls
(drawn from its seed) are answered UNKNOWN and counted.
"""
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional

from infra.loopback import STOP_POLL_SECONDS

INSUFFICIENT = "账户余额不足，提款失败"


def pay_rule(amount: int) -> str:
    for divisor, rule in ((19, "hang"), (17, "drop"), (13, "503"), (11, "UNKNOWN"), (7, "slow")):
        if amount % divisor == 0:
            return rule
    return "SUCCESS"


class Faults:
    def __init__(self, forwarded: int = 0):
        self.lock = threading.Lock()
        self.settings = {"timeout_after_commit": 0.0, "timeout_before_commit": 0.0, "seed": 0}
        self.counters = {"forwarded": forwarded, "caller_gone": 0, "timeout_after_commit": 0,
                         "timeout_before_commit": 0}
        self.posts: List[dict] = []
        self._rng = random.Random(0)

    def configure(self, body: dict) -> None:
        with self.lock:
            self.posts.append(body)
            self.settings.update(body)
            self._rng = random.Random(self.settings.get("seed", 0))

    def times_out(self) -> bool:
        with self.lock:
            if self._rng.random() < self.settings["timeout_after_commit"]:
                self.counters["timeout_after_commit"] += 1
                return True
            self.counters["forwarded"] += 1
            return False

    def document(self) -> dict:
        with self.lock:
            return {**self.settings, "counters": dict(self.counters)}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The default backlog of 5 makes connects time out on a busy machine, which the driver then
    # (rightly) retries; the tests count attempts, so every connect must be accepted at once.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass  # a client that gave up (the driver's timeout) breaks the pipe: expected here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as the driver's sessions expect
    # Buffered: headers and body leave in one segment (flushed after each request), so
    # Nagle's algorithm and delayed ACKs do not add 40 ms to every answer.
    wbufsize = 64 * 1024

    def log_message(self, *args):  # quiet tests
        pass

    def _answer(self, status: int, document: dict) -> None:
        data = json.dumps(document, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Optional[dict]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.raw = raw
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        return body if isinstance(body, dict) else None


class MerchantHandler(_Handler):
    def do_POST(self):
        merchant: "MerchantDouble" = self.server.merchant
        body = self._body()
        with merchant.lock:     # what a verifying API would check the signature against
            merchant.wire.append((self.path, dict(self.headers), self.raw))
        kind = {"/merchant/pay": "PAY", "/merchant/withdraw": "WITHDRAW"}.get(self.path)
        if kind is None:
            return self._answer(404, {"error_code": 4040})
        field = "total_fee" if kind == "PAY" else "withdraw_money"
        amount = (body or {}).get(field)
        if not isinstance(amount, str) or not amount.isdigit() or not (body or {}).get("saler_id"):
            return self._answer(400, {"error_code": 1001, "field": field})
        merchant.record(kind, body)
        amount, saler = int(amount), body["saler_id"]
        rule = pay_rule(amount) if kind == "PAY" else "WITHDRAW"
        if rule == "hang":
            time.sleep(merchant.hang_seconds)
            rule = "SUCCESS"
        if rule == "drop":
            self.close_connection = True
            return None
        if rule == "503":
            return self._answer(503, {"error_code": 5031})
        if rule == "slow":
            time.sleep(merchant.slow_seconds)
            rule = "SUCCESS"
        if merchant.faults is not None and merchant.faults.times_out():
            rule = "UNKNOWN"
        state, message = merchant.settle(kind, rule, saler, amount)
        request_id = merchant.new_request_id()
        answered = state in ("SUCCESS", "FAIL")
        return self._answer(200, {
            "request_id": request_id, "request_time": "2026-11-22 13:00:00", "kind": kind,
            "saler_id": saler, field: str(amount), "state": state,
            "response_id": request_id if answered else None,
            "response_time": "2026-11-22 13:00:01" if answered else None,
            "response_code": state if answered else None,
            "response_msg": message, "attempts": 1})


class LinkHandler(_Handler):
    def do_GET(self):
        if self.path != "/_control/faults":
            return self._answer(404, {})
        return self._answer(200, self.server.faults.document())

    def do_POST(self):
        if self.path != "/_control/faults":
            return self._answer(404, {})
        self.server.faults.configure(self._body() or {})
        return self._answer(200, self.server.faults.document())


class MerchantDouble:
    def __init__(self, slow_seconds=0.2, hang_seconds=0.8, faults: Optional[Faults] = None):
        self.slow_seconds, self.hang_seconds, self.faults = slow_seconds, hang_seconds, faults
        self.lock = threading.Lock()
        self.balances: Dict[str, int] = {}
        self.received: List[tuple] = []
        self.wire: List[tuple] = []     # (path, headers, raw body) of every POST
        self._next_id = 0
        self._server = _Server(("127.0.0.1", 0), MerchantHandler)
        self._server.merchant = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": STOP_POLL_SECONDS})

    def record(self, kind: str, body: dict) -> None:
        with self.lock:
            self.received.append((kind, json.dumps(body, sort_keys=True)))

    def settle(self, kind: str, rule: str, saler: str, amount: int):
        with self.lock:
            if rule == "UNKNOWN":
                return "UNKNOWN", None
            if kind == "PAY":
                self.balances[saler] = self.balances.get(saler, 0) + amount
                return "SUCCESS", "OK"
            if self.balances.get(saler, 0) >= amount:
                self.balances[saler] -= amount
                return "SUCCESS", "OK"
            return "FAIL", INSUFFICIENT

    def new_request_id(self) -> str:
        with self.lock:
            self._next_id += 1
            return f"20261122130000{self._next_id:06d}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


class LinkDouble:
    def __init__(self, faults: Faults):
        self._server = _Server(("127.0.0.1", 0), LinkHandler)
        self._server.faults = faults
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": STOP_POLL_SECONDS})

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
