"""The payment link: a fault-injecting HTTP proxy between the merchant and the payment API.

Local stack only. The merchant reaches the payment API through PAYMENT_API_URL;
locally that URL is this proxy, which forwards every request to the API unless a
fault is drawn for it. Two faults, each a share in [0, 1] of the calls passing
through, drawn from a random generator seeded by the control call (the same
seed and the same sequence of calls give the same faults):

* `timeout_after_commit`: the request is forwarded and the API's answer read
  (so the payment system has recorded the order), then withheld: the connection
  is held for `hold_seconds` (longer than the merchant's call timeout) and
  closed without a byte of answer;
* `timeout_before_commit`: the request is never forwarded; the connection is
  held and closed the same way.

Control (never forwarded, never faulted):
* `POST /_control/faults` `{"timeout_after_commit": 0.02, "timeout_before_commit": 0.0,
  "seed": 7}` (each key optional; a given seed restarts the draws) → the settings;
* `GET /_control/faults` → the settings plus `counters`: `{"forwarded"` (no fault
  drawn), `"caller_gone"` (of those, the ones whose caller had hung up, its own
  timeout spent, before the API answered: the answer is dropped),
  `"timeout_after_commit", "timeout_before_commit"}` (the counters are nested
  because they share the names of the settings);
* `POST /_control/reset` → no faults, counters zero.

A bad control body is answered 400 with `{"error": ...}`.
"""
import http.client
import json
import random
import select
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Optional, Tuple
from urllib.parse import urlsplit

from chalicelib.logs import log

from .loopback import LoopbackServer, LoopbackService

CONTROL_PREFIX = "/_control/"
FAULTS = ("timeout_after_commit", "timeout_before_commit")
FORWARD = "forwarded"
CALLER_GONE = "caller_gone"
UPSTREAM_TIMEOUT_SECONDS = 30
# Headers that describe one hop, not the message.
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate", "host", "content-length"}


class ControlError(ValueError):
    """A control request that cannot be applied."""


@dataclass
class Faults:
    timeout_after_commit: float = 0.0
    timeout_before_commit: float = 0.0
    seed: Optional[int] = None


class FaultPlan:
    """The fault settings, the seeded draws and the counters; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._faults = Faults()
            self._random = random.Random(0)
            self._counts = {FORWARD: 0, CALLER_GONE: 0, **{name: 0 for name in FAULTS}}

    def configure(self, body: dict) -> dict:
        if not isinstance(body, dict):
            raise ControlError("the body must be a JSON object")
        unknown = set(body) - set(FAULTS) - {"seed"}
        if unknown:
            raise ControlError(f"unknown settings: {sorted(unknown)}")
        with self._lock:
            shares = {name: body.get(name, getattr(self._faults, name)) for name in FAULTS}
            for name, share in shares.items():
                if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
                    raise ControlError(f"{name} must be a number from 0 to 1")
            if sum(shares.values()) > 1:
                raise ControlError("the shares must add up to at most 1")
            seed = body.get("seed", self._faults.seed)
            if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                raise ControlError("seed must be an integer")
            self._faults = Faults(seed=seed, **{k: float(v) for k, v in shares.items()})
            if "seed" in body:
                self._random = random.Random(seed)
            return self._settings()

    def _settings(self) -> dict:
        return {"timeout_after_commit": self._faults.timeout_after_commit,
                "timeout_before_commit": self._faults.timeout_before_commit,
                "seed": self._faults.seed}

    def status(self) -> dict:
        """The settings, and under `counters` how many calls went each way."""
        with self._lock:
            return dict(self._settings(), counters=dict(self._counts))

    def draw(self) -> str:
        """What happens to the next call: FORWARD or one of FAULTS (and count it)."""
        with self._lock:
            roll = self._random.random()
            outcome = FORWARD
            if roll < self._faults.timeout_after_commit:
                outcome = "timeout_after_commit"
            elif roll < self._faults.timeout_after_commit + self._faults.timeout_before_commit:
                outcome = "timeout_before_commit"
            self._counts[outcome] += 1
            return outcome

    def caller_gone(self) -> None:
        with self._lock:
            self._counts[CALLER_GONE] += 1


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # one JSON line per fault instead (below)

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        return self.rfile.read(int(length)) if length and length.isdigit() else b""

    def _answer(self, status: int, body: bytes, headers=()) -> None:
        self.send_response(status)
        sent = set()
        for name, value in headers:
            if name.lower() not in HOP_HEADERS:
                self.send_header(name, value)
                sent.add(name.lower())
        if "content-type" not in sent:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: dict) -> None:
        self._answer(status, json.dumps(value).encode("utf-8"))

    def _control(self, body: bytes) -> None:
        plan = self.server.plan
        name = self.path[len(CONTROL_PREFIX):].split("?", 1)[0]
        if name == "faults" and self.command == "GET":
            return self._json(200, plan.status())
        if name == "faults" and self.command == "POST":
            try:
                settings = plan.configure(json.loads(body.decode("utf-8") or "{}"))
            except (ValueError, UnicodeDecodeError) as error:
                return self._json(400, {"error": str(error)})
            log("payment_link.faults", **settings)
            return self._json(200, settings)
        if name == "reset" and self.command == "POST":
            plan.reset()
            return self._json(200, plan.status())
        return self._json(404, {"error": f"no control {self.command} {self.path}"})

    def _hold_and_close(self, fault: str) -> None:
        log("payment_link.fault", fault=fault, method=self.command, path=self.path)
        self.server.stopping.wait(self.server.hold_seconds)
        self.close_connection = True  # closed without an answer

    def _relay(self) -> None:
        body = self._body()
        if self.path.startswith(CONTROL_PREFIX):
            return self._control(body)
        outcome = self.server.plan.draw()
        if outcome == "timeout_before_commit":
            return self._hold_and_close(outcome)
        try:
            status, headers, answer = self.server.forward(self.command, self.path, self.headers, body)
        except (OSError, http.client.HTTPException) as error:
            log("payment_link.upstream_failed", error=type(error).__name__, path=self.path)
            return self._json(502, {"error": f"payment API unreachable: {type(error).__name__}"})
        if outcome == "timeout_after_commit":
            return self._hold_and_close(outcome)
        if self._caller_hung_up():
            return self._drop_answer(status)
        try:
            self._answer(status, answer, headers)
        except (BrokenPipeError, ConnectionResetError):  # hung up while the answer was sent
            self._drop_answer(status)

    def _caller_hung_up(self) -> bool:
        """Whether the caller closed its end (a timed-out client does): its socket then reads
        as at end of file. A client sends nothing else while it waits for the answer."""
        # poll, not select: select refuses a descriptor numbered 1024 or more, which a busy
        # process reaches.
        poller = select.poll()
        poller.register(self.connection, select.POLLIN)
        if not poller.poll(0):
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True

    def _drop_answer(self, status: int) -> None:
        # Not an error of the link: the caller's own timeout, which the merchant records as
        # UNKNOWN. One JSON line instead of the socket server's traceback.
        self.server.plan.caller_gone()
        log("payment_link.caller_gone", method=self.command, path=self.path, status=status)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _relay


class _Server(LoopbackServer):
    def __init__(self, address, upstream: str, hold_seconds: float):
        super().__init__(address, _Handler)
        self.plan = FaultPlan()
        self.hold_seconds = hold_seconds
        parts = urlsplit(upstream)
        self._upstream: Tuple[str, int] = (parts.hostname, parts.port or 80)
        self._upstream_prefix = parts.path.rstrip("/")

    def forward(self, method: str, path: str, headers, body: bytes):
        connection = http.client.HTTPConnection(*self._upstream, timeout=UPSTREAM_TIMEOUT_SECONDS)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
            connection.request(method, self._upstream_prefix + path, body=body, headers=sent)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


class PaymentLink(LoopbackService):
    """`PaymentLink(upstream_url, hold_seconds).start()`; `.url`, `.plan`, `.stop()`."""

    thread_name = "payment-link"

    def __init__(self, upstream_url: str, hold_seconds: float, port: int = 0):
        super().__init__(port)
        self.upstream_url = upstream_url
        self.hold_seconds = hold_seconds

    @property
    def plan(self) -> FaultPlan:
        return self._server.plan

    def _make_server(self, address) -> _Server:
        return _Server(address, self.upstream_url, self.hold_seconds)

    def _started(self) -> None:
        log("payment_link.started", url=self.url, upstream=self.upstream_url,
            hold_seconds=self.hold_seconds)
