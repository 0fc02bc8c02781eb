"""An embedded AWS endpoint on loopback: moto's server, for SQS, S3 and Secrets Manager.

DynamoDB is not served here: the embedded stack sends its DynamoDB calls to AWS's DynamoDB
Local (`infra/dynamodb_local.py`), which applies transactions and conditional writes as
DynamoDB does. S3 and Secrets Manager requests are served on threads with no lock of
ours: each one touches one object or secret.

SQS keeps one lock (`SqsOneAtATime`): moto 5's DeleteMessage rebuilds a queue's message
list outside the lock its SendMessage appends under, so a message sent while another is
deleted can vanish, and a receive iterates the in-flight set while another request changes
it. The pump deletes while the API sends, all the time, so every SQS request is applied
alone. That lock is short (an SQS request is a few list operations), is never held while a
client uploads its body, and is not held across an SQS long poll (ReceiveMessage with
WaitTimeSeconds > 0), which is served as a series of short polls with the waiting done
outside the lock. (Only the JSON protocol boto3 speaks is recognised, and only a
WaitTimeSeconds in the request: a queue whose ReceiveMessageWaitTimeSeconds attribute makes
every receive a long poll would still hold the lock; the template sets none.)

moto's SQS reads the clock through `datetime` arithmetic for every message it looks at, and
looks at every message of a queue several times per request (the queue's attributes on each
send, all of them again for the retention period of each received message): at 5,000 messages
a receive of ten took 2.8 s, under the lock, and the whole stack waited behind it.
`_fast_sqs_clock` gives moto's SQS module the same clock (seconds and milliseconds since the
epoch, from `time.time()`, not datetime arithmetic) and reads a received message's retention
period from its queue instead of recomputing every attribute of the queue; the answers are
the same, and that receive of ten at 5,000 messages takes 9 ms.

werkzeug's server closes the connection after every answer (`Connection: close`) and then waits
10 ms for stray request bytes, so each AWS call paid for a new TCP connection, a new server thread
and that wait. An SQS request (a small JSON body framed by its Content-Length) is answered on a
connection that stays open instead (`_serve_kept_alive`): a pay's SendMessage and the pump's polls
reuse their client's pooled connection. The other services' requests, whose bodies moto reads
itself (an S3 upload may be large), still go through werkzeug's own path. A connection idle for
IDLE_CONNECTION_SECONDS is closed (a client reconnects), so a stopped endpoint's threads end.

Everything here lives in memory: queues, objects and secrets are gone when the process
stops (the stack makes them again at every start).

`EmbeddedAWSProcess` serves the same endpoint from a process of its own (`python -m
infra.embedded_aws`), as the embedded stack runs it: moto's request handling then has an
interpreter lock of its own instead of sharing the stack's with the pumps, the payment link,
the channel simulator and a load driver. It ends when its parent ends, even if the parent was
killed outright.
"""
import argparse
import io
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Tuple

from werkzeug.serving import BaseWSGIServer, make_server

LOOPBACK = "127.0.0.1"
# How often a serving loop (this endpoint's, the loopback services') looks for a stop request.
# `shutdown()` waits for the loop to look, and socketserver's default (0.5 s) made every stop of
# a service cost a quarter second on average: a test starting one or two services paid it each
# time. An idle loop waking 50 times a second costs nothing measurable.
STOP_POLL_SECONDS = 0.02
SQS_TARGET_PREFIX = "AmazonSQS."
SQS_RECEIVE_TARGET = "AmazonSQS.ReceiveMessage"
LONG_POLL_STEP_SECONDS = 0.05
IDLE_CONNECTION_SECONDS = 30


def _read_body(environ: dict) -> bytes:
    """The whole request body, however the client framed it."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    length = environ.get("CONTENT_LENGTH") or "0"
    return stream.read(int(length)) if length.isdigit() else b""


def _with_body(environ: dict, body: bytes) -> dict:
    rewritten = dict(environ)
    rewritten["wsgi.input"] = io.BytesIO(body)
    rewritten["CONTENT_LENGTH"] = str(len(body))
    rewritten.pop("wsgi.input_terminated", None)
    return rewritten


def _long_poll_seconds(environ: dict, body: bytes) -> int:
    """WaitTimeSeconds of an SQS JSON-protocol ReceiveMessage, else 0."""
    if environ.get("HTTP_X_AMZ_TARGET") != SQS_RECEIVE_TARGET:
        return 0
    try:
        wait = json.loads(body or b"{}").get("WaitTimeSeconds", 0)
    except (ValueError, AttributeError):
        return 0  # moto answers the malformed request itself
    return wait if isinstance(wait, int) and wait > 0 else 0


def _reads_whole_body(headers) -> bool:
    """An SQS request with a Content-Length and no other framing: exactly that many bytes are
    its body, so the next request on the connection starts right after them."""
    length = headers.get("Content-Length", "")
    return (headers.get("X-Amz-Target", "").startswith(SQS_TARGET_PREFIX) and length.isdigit()
            and "Transfer-Encoding" not in headers)


def _serve_kept_alive(handler) -> None:
    """Answer one SQS request on `handler` (werkzeug's request handler) and leave the connection
    open: its body read by its Content-Length, the answer sent with its own Content-Length.
    werkzeug's own path closes the connection and then waits 10 ms for stray bytes to drain."""
    body = handler.rfile.read(int(handler.headers["Content-Length"]))
    environ = _with_body(handler.make_environ(), body)
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, headers
        return lambda _data: None

    result = handler.server.app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    code, _, reason = captured["status"].partition(" ")
    handler.send_response(int(code), reason)
    for name, value in captured["headers"]:
        if name.lower() not in ("content-length", "connection", "transfer-encoding"):
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(content)))
    # Head and body in one write: two small writes on a kept-alive connection would wait for the
    # client's delayed acknowledgement (Nagle's algorithm), 40 ms each time.
    handler._headers_buffer.append(b"\r\n" + content)
    handler.flush_headers()


class SqsOneAtATime:
    """WSGI middleware: each SQS request is dispatched and answered under one lock; the
    other services' requests pass straight through."""

    def __init__(self, app: Callable, lock: Optional[threading.Lock] = None):
        self._app = app
        self._lock = lock or threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(SQS_TARGET_PREFIX):
            return self._app(environ, start_response)
        body = _read_body(environ)
        wait = _long_poll_seconds(environ, body)
        if wait:
            status, headers, content = self._long_poll(environ, body, wait)
        else:
            status, headers, content = self._dispatch(_with_body(environ, body))
        start_response(status, headers)
        return [content]

    def _dispatch(self, environ: dict) -> Tuple[str, List, bytes]:
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None  # moto never uses the legacy write()

        with self._lock:
            result = self._app(environ, capture)
            try:
                content = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return captured["status"], captured["headers"], content

    def _long_poll(self, environ: dict, body: bytes, wait: int) -> Tuple[str, List, bytes]:
        short = json.dumps(dict(json.loads(body), WaitTimeSeconds=0)).encode()
        deadline = time.monotonic() + wait
        while True:
            status, headers, content = self._dispatch(_with_body(environ, short))
            if not status.startswith("200") or time.monotonic() >= deadline:
                return status, headers, content
            try:
                if json.loads(content or b"{}").get("Messages"):
                    return status, headers, content
            except ValueError:
                return status, headers, content
            time.sleep(LONG_POLL_STEP_SECONDS)


def _fast_sqs_clock() -> None:
    """moto's SQS clock, read from `time.time()` instead of datetime arithmetic (same values)."""
    from moto.core import utils
    from moto.sqs import models

    def unix_time(dt=None) -> float:
        return time.time() if dt is None else utils.unix_time(dt)

    def unix_time_millis(dt=None) -> float:
        return time.time() * 1000.0 if dt is None else utils.unix_time_millis(dt)

    def retained(backend, queue_name: str, message) -> bool:
        period = backend.get_queue(queue_name).message_retention_period
        return period + message.sent_timestamp / 1000 > time.time()

    models.unix_time = unix_time
    models.unix_time_millis = unix_time_millis
    models.SQSBackend.is_message_valid_based_on_retention_period = retained


def _require_loopback(host: str) -> None:
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the embedded AWS endpoint only listens on loopback, not {host}")


class EmbeddedAWS:
    """moto's server app, served by werkzeug on background threads."""

    def __init__(self, port: int = 0, host: str = LOOPBACK, reset: bool = True):
        """`reset`: empty moto's process-global backends at start (a process of its own,
        which starts empty, skips it)."""
        _require_loopback(host)
        self._reset = reset
        self._host = host
        self._port = port
        self._server: Optional[BaseWSGIServer] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the embedded AWS endpoint is not started")
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> "EmbeddedAWS":
        # Imported here: moto is a development dependency, and importing it
        # registers nothing until the server starts.
        from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        class KeepAliveSqsHandler(MotoRequestHandler):
            timeout = IDLE_CONNECTION_SECONDS
            disable_nagle_algorithm = True

            def log_request(self, *args, **kwargs):
                pass  # one line per AWS call would drown the structured logs

            def log_error(self, format: str, *args) -> None:
                if not format.startswith("Request timed out"):  # an idle connection closed
                    super().log_error(format, *args)

            def run_wsgi(self) -> None:
                if not _reads_whole_body(self.headers):
                    return super().run_wsgi()
                _serve_kept_alive(self)
        _fast_sqs_clock()
        app = SqsOneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._host, self._port, app, threaded=True,
                                   request_handler=KeepAliveSqsHandler)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": STOP_POLL_SECONDS},
                                        name="embedded-aws", daemon=True)
        self._thread.start()
        # moto's backends are process-global: an endpoint started earlier in this process (or a
        # test's mock) left its tables behind, and a new stack must start empty.
        if self._reset:
            reset = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
            urllib.request.urlopen(reset, timeout=10).close()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._server = None

    def __enter__(self) -> "EmbeddedAWS":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class EmbeddedAWSProcess:
    """`EmbeddedAWS` in a child process: `start()` returns once it accepts connections."""

    def __init__(self, port: int = 0, host: str = LOOPBACK, ready_timeout: float = 60.0):
        _require_loopback(host)
        self._host = host
        self._port = port
        self._ready_timeout = ready_timeout
        self._process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        if self._process is None:
            raise RuntimeError("the embedded AWS endpoint is not started")
        return f"http://{self._host}:{self._port}"

    def start(self) -> "EmbeddedAWSProcess":
        return self.launch().wait_ready()

    def launch(self) -> "EmbeddedAWSProcess":
        """Start the process and return at once (its URL is known); `wait_ready` waits for it."""
        from .ports import free_port  # ports names this module's LOOPBACK

        self._port = self._port or free_port()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "infra.embedded_aws", "--host", self._host,
             "--port", str(self._port)],
            cwd=Path(__file__).resolve().parent.parent, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if os.name == "posix" else None)
        return self

    def wait_ready(self) -> "EmbeddedAWSProcess":
        deadline = time.monotonic() + self._ready_timeout
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise RuntimeError(f"the embedded AWS endpoint exited with code {code} "
                                   f"(is port {self._port} free?)")
            try:
                socket.create_connection((self._host, self._port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the embedded AWS endpoint did not listen on port "
                                       f"{self._port} within {self._ready_timeout} s")
                time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> "EmbeddedAWSProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _die_with_parent() -> None:
    """Linux: SIGTERM when the parent dies, however it died (no orphan holding the port)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="the embedded AWS endpoint, in this process")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    # Bound before anything is served: the parent's first request cannot meet an empty reset.
    endpoint = EmbeddedAWS(port=args.port, host=args.host, reset=False).start()
    parent = os.getppid()
    while not stopping.wait(0.5):
        if os.getppid() != parent:
            break  # the parent is gone (also where PR_SET_PDEATHSIG is not available)
    endpoint.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
