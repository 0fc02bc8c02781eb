"""Sends one planned call to the merchant API and says what came back.

One keep-alive `requests.Session` per thread. The driver sends no
Idempotency-Key (it measures what single calls do), so its POSTs are NOT
idempotent: each one makes a new merchant order with a new request_id that the
driver only learns from the answer. So a call is retried only when the request
certainly never left this machine (the TCP connection could not be opened, or
opening it timed out), at most `CONNECT_ATTEMPTS` times. Once the request may
have been sent (the connection dropped mid-call, or no answer within the
timeout), the outcome is unknown to the driver: it is counted as a driver-side
connection error and NOT re-sent, since a re-send could create a second order.
"""
import threading
import time
from dataclasses import dataclass
from typing import Optional

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from .plan import PlannedCall

CONNECT_ATTEMPTS = 3
CONNECT_BACKOFF_SECONDS = 0.1
DEFAULT_TIMEOUT_SECONDS = 30.0

# Driver-side errors (no HTTP answer).
CONNECT_FAILED = "connect_failed"      # never sent, even after the retries
CONNECTION_LOST = "connection_lost"    # may have been sent: not retried
TIMED_OUT = "timed_out"                # sent, no answer in time: not retried


@dataclass(frozen=True)
class CallOutcome:
    call: PlannedCall
    status: Optional[int] = None         # HTTP status; None when there was no answer
    body: Optional[object] = None        # the decoded JSON answer, if it was JSON
    latency_ms: Optional[float] = None   # the answered attempt, send to last byte
    error: Optional[str] = None          # one of the driver-side errors above
    attempts: int = 1


def never_sent(error: requests.RequestException) -> bool:
    """True only when the request cannot have reached the server."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    cause = error.args[0] if error.args else None
    # requests wraps urllib3's MaxRetryError; its reason says which step failed.
    # NewConnectionError (refused, unreachable, name not resolved) is a ConnectTimeoutError.
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, ConnectTimeoutError)


class MerchantClient:
    def __init__(self, api_url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS,
                 auth: Optional[requests.auth.AuthBase] = None):
        """`auth`: signs each request (tools.signing.SignedAuth); each attempt gets its own nonce."""
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.auth = auth
        self._local = threading.local()
        self._sessions = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.auth = self.auth
            with self._lock:
                self._sessions.append(session)
        return session

    def send(self, call: PlannedCall) -> CallOutcome:
        url = self.api_url + call.path
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            started = time.perf_counter()
            try:
                response = self._session().post(url, json=call.body(), timeout=self.timeout)
            except requests.Timeout as error:
                if never_sent(error):
                    if attempt < CONNECT_ATTEMPTS:
                        time.sleep(CONNECT_BACKOFF_SECONDS * attempt)
                        continue
                    return CallOutcome(call, error=CONNECT_FAILED, attempts=attempt)
                return CallOutcome(call, error=TIMED_OUT, attempts=attempt)
            except requests.ConnectionError as error:
                if never_sent(error):
                    if attempt < CONNECT_ATTEMPTS:
                        time.sleep(CONNECT_BACKOFF_SECONDS * attempt)
                        continue
                    return CallOutcome(call, error=CONNECT_FAILED, attempts=attempt)
                self._local.session = None  # a broken connection: start clean
                return CallOutcome(call, error=CONNECTION_LOST, attempts=attempt)
            except requests.RequestException:
                # Sent, and the answer broke off while being read (chunked encoding, ...).
                self._local.session = None
                return CallOutcome(call, error=CONNECTION_LOST, attempts=attempt)
            latency_ms = (time.perf_counter() - started) * 1000
            try:
                body = response.json()
            except ValueError:
                body = None
            return CallOutcome(call, status=response.status_code, body=body,
                               latency_ms=latency_ms, attempts=attempt)
        raise AssertionError("unreachable: the loop returns on its last attempt")

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()
