"""The local API server (`chalice local` as the local stack starts it) against hostile clients:
an oversized body is refused on its Content-Length before it is read, and a slow client cannot
hold a server thread: reading a request has one deadline, however slowly its bytes come."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from infra.local_stack import MERCHANT_PROJECT, chalice_local_command
from infra.ports import free_port

from .support import wait_until

pytestmark = pytest.mark.e2e

READ_SECONDS = 2.0
MAX_BODY_BYTES = 1024


@pytest.fixture(scope="module")
def server():
    """The merchant system's app (it needs no AWS to answer these) on its own server."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.Popen(chalice_local_command("local", port, read_seconds=READ_SECONDS,
                                                     max_body_bytes=MAX_BODY_BYTES),
                               cwd=MERCHANT_PROJECT, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _answers(port), 60, "chalice local serves")
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _read_all(sock: socket.socket, limit: float) -> bytes:
    """Everything the server sends until it closes the connection (at most `limit` s)."""
    sock.settimeout(limit)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def _status_and_body(raw: bytes):
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def test_an_oversized_body_is_refused_on_its_content_length_before_it_is_read(server):
    with _connect(server) as sock:
        # Announces far more than any route takes and sends none of it: a server that read the
        # body first would wait for it until its read deadline and answer nothing.
        sock.sendall(b"POST /merchant/pay HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 10000000000\r\n\r\n")
        started = time.monotonic()
        raw = _read_all(sock, READ_SECONDS * 3)
        elapsed = time.monotonic() - started
    status, head, body = _status_and_body(raw)
    assert status == 413
    assert elapsed < READ_SECONDS / 2, f"answered after {elapsed:.2f} s: the body was waited for"
    assert b"connection: close" in head.lower()
    answer = json.loads(body)
    assert (answer["error_name"], answer["response_code"]) == ("BODY_TOO_LARGE", "FAIL")


def test_a_body_within_the_limit_still_reaches_the_app(server):
    body = b"{" + b" " * (MAX_BODY_BYTES - 2) + b"}"
    with _connect(server) as sock:
        sock.sendall(b"POST /merchant/orders/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status, _, _ = _status_and_body(_read_all(sock, 10))
    assert status == 405        # chalice's own answer: the route is GET only


def test_a_content_length_that_is_not_a_number_is_refused(server):
    with _connect(server) as sock:
        sock.sendall(b"POST /merchant/pay HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
        status, _, body = _status_and_body(_read_all(sock, 10))
    assert status == 400
    assert json.loads(body)["error_name"] == "MALFORMED_BODY"


def _held_for(port: int, send) -> float:
    """How long the server keeps a connection whose client behaves as `send` does."""
    with _connect(port) as sock:
        started = time.monotonic()
        send(sock)
        try:
            _read_all(sock, READ_SECONDS * 4)
        except (ConnectionResetError, BrokenPipeError):
            pass
        except socket.timeout:
            pytest.fail("the server still holds the connection")
        return time.monotonic() - started


def test_a_client_that_stops_in_its_headers_is_cut_off(server):
    held = _held_for(server, lambda sock: sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n"))
    assert held < READ_SECONDS + 1.5


def test_a_client_that_stops_in_its_body_is_cut_off(server):
    held = _held_for(server, lambda sock: sock.sendall(
        b"POST /merchant/pay HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"saler"))
    assert held < READ_SECONDS + 1.5


def test_a_client_that_drips_its_headers_cannot_stretch_the_deadline(server):
    """One byte every half second never lets a per-read timeout expire; the request's own
    deadline still ends it."""
    def drip(sock):
        try:
            for byte in b"GET /openapi.json HTTP/1.1\r\nX-Slow: " + b"a" * 40:
                sock.sendall(bytes([byte]))
                time.sleep(READ_SECONDS / 4)
        except (BrokenPipeError, ConnectionResetError):
            return  # cut off while still dripping

    held = _held_for(server, drip)
    assert held < READ_SECONDS + 1.5


def test_an_idle_kept_alive_connection_is_closed_and_the_server_still_serves(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /merchant/orders/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        raw = _read_all(sock, READ_SECONDS * 4)   # the answer, then the close of the idle connection
        assert time.monotonic() - started < READ_SECONDS + 1.5
    assert raw.startswith(b"HTTP/1.1 ")
    with _connect(server) as sock:
        sock.sendall(b"GET /merchant/orders/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _, _ = _status_and_body(_read_all(sock, 10))
    assert status in (400, 500)     # an answer from the app (no AWS here), not a hung server
