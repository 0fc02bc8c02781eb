"""Helpers of the subsidy tests: the real channel simulator over HTTP, a clock that can jump,
a bridge that lets the simulator notify the app behind chalice's test client, request bodies."""
import itertools
import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

import requests

from chalicelib.channel.http_adapter import HttpChannel
from chalicelib.logs import output_formatter
from chalicelib.subsidies.context import Subsidies
from infra.loopback import STOP_POLL_SECONDS
from tests.support.signing import PLATFORM

MCH_ID = "1800007135"
SUB_MCHID = "1692608207"
OTHER_SUB_MCHID = "1692608208"      # another tenant's sub-merchant at the channel
# One call's budget in the tests, and how long the simulator holds a "timeout" connection.
CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 0.6
HOLD_MS = 900
# The center behind the bridge makes its AWS clients afresh in every test (moto is per test), and
# on a loaded 2-core CI machine one notification took 5.5 s to handle: past the simulator's own
# 5 s default, so the test saw a notice the center did record answered 502. The bridge is the
# tests' harness, not the channel under test (tests/channel times the simulator's timeout).
BRIDGE_NOTIFY_TIMEOUT = 60.0
# No lease of the service tests is meant to run out in real time (those that test a takeover move
# the clock past it), so it is sized for a stalled CI worker, not for the channel's timeouts.
LEASE_SECONDS = 60

_numbers = itertools.count(1)


def next_id(prefix: str = "13291288") -> str:
    """A fresh 19-digit id."""
    return f"{prefix}{next(_numbers):011d}"[:19]


class Clock:
    """The real time plus an offset the test can move forward (leases, retry times)."""

    def __init__(self):
        self.offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(timezone.utc) + self.offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += timedelta(seconds=seconds)


class Channel:
    """The simulator's control API, over HTTP."""

    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()

    def order(self, payment_order_id: str, amount: int = 10000, subsidy_limit: int = 5000,
              biz_order_id: str = "1774303629096779780_1", tenant: str = PLATFORM.merchant_id,
              sub_mchid: str = SUB_MCHID) -> Dict[str, Any]:
        """A paid order placed for `tenant` (the notice's `attach`: the tenant it is filed under)."""
        answer = self.http.post(f"{self.url}/_control/orders", timeout=10, json={
            "payment_order_id": payment_order_id, "biz_order_id": biz_order_id, "mch_id": MCH_ID,
            "sub_mchid": sub_mchid, "amount": amount, "subsidy_limit": subsidy_limit,
            "attach": tenant})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def fault(self, operation: str, fault: str, count: int = 1, delay_ms: int = HOLD_MS) -> None:
        answer = self.http.post(f"{self.url}/_control/faults", timeout=5, json={
            "operation": operation, "fault": fault, "count": count, "delay_ms": delay_ms})
        assert answer.status_code == 200, answer.text

    def pending(self) -> List[dict]:
        """The faults scheduled and not yet served."""
        return self.http.get(f"{self.url}/_control/faults", timeout=5).json()["faults"]

    def calls(self, outbound_no: Optional[str] = None) -> List[dict]:
        calls = self.http.get(f"{self.url}/_control/calls", timeout=5).json()["calls"]
        return [c for c in calls if outbound_no is None or c.get("outbound_no") == outbound_no]

    def applied(self, outbound_no: str) -> int:
        return sum(c["outcome"] == "APPLIED" for c in self.calls(outbound_no))

    def view(self, transaction_id: str) -> dict:
        answer = self.http.get(f"{self.url}/_control/orders/{transaction_id}", timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def reset(self) -> None:
        self.http.post(f"{self.url}/_control/reset", timeout=5)


class CenterBridge:
    """A loopback HTTP server in front of the app under `chalice.test.Client`: the simulator
    notifies it as it would notify the API of the local stack."""

    def __init__(self, api):
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with bridge.lock:
                    response = api.post_raw(self.path, body)
                self.send_response(response.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

        # Re-entrant: a notification handled under it may take it again through app clients
        # serialized on it (tests/sharing).
        self.lock = threading.RLock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       kwargs={"poll_interval": STOP_POLL_SECONDS})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def context(channel_url: str, clock: Clock, **overrides) -> Subsidies:
    settings = dict(channel=HttpChannel(channel_url, CONNECT_TIMEOUT, READ_TIMEOUT),
                    lease_seconds=LEASE_SECONDS, wait_seconds=0.5,
                    retry_after_seconds=0, sweeper_max_tries=3, now=clock,
                    tenant=PLATFORM.merchant_id)     # the tenant of the tests' signed calls
    settings.update(overrides)
    return Subsidies(**settings)


def create_body(payment_order_id: str, biz_subsidies_id: Optional[str] = None, amount: Any = 2332,
                **overrides) -> Dict[str, Any]:
    body = {"traceId": "60e1dec8139c00120b2f488bb17859f0", "timestamp": 1740125261,
            "productId": 1096, "tenantId": 0, "userId": "1295659",
            "bizOrderId": "1774303629096779780_1", "paymentOrderId": payment_order_id,
            "bizRelOrderId": "1329128496286412800_0",
            "bizSubsidiesId": biz_subsidies_id or next_id("13291288"), "amount": amount,
            "description": "补差描述1", "mchId": MCH_ID, "subMchId": SUB_MCHID}
    body.update(overrides)
    return body


def return_body(created: Dict[str, Any], amount: Any = "2332", payment_refund_id: Optional[str] = None,
                biz_return_subsidies_id: Optional[str] = None, **overrides) -> Dict[str, Any]:
    """A return of the subsidy `created` (the data of its answer)."""
    body = {"traceId": "1295413502290092034_114", "timestamp": 1740125261, "productId": 1096,
            "userId": "1295659", "bizOrderId": created["bizOrderId"],
            "paymentOrderId": created["paymentOrderId"], "bizRelOrderId": created["bizRelOrderId"],
            "bizRefundId": next_id("13291288"),
            "paymentRefundId": payment_refund_id or next_id("13262164"),
            "bizReturnSubsidiesId": biz_return_subsidies_id or next_id("13291288"),
            "bizSubsidiesId": created["bizSubsidiesId"],
            "paymentSubsidiesId": created["paymentSubsidiesId"], "amount": amount,
            "description": "补差回退", "mchId": MCH_ID, "subMchId": SUB_MCHID}
    body.update(overrides)
    return body


class LogLines(logging.Handler):
    """Collects the JSON log lines of chalicelib.logs while installed."""

    def __init__(self):
        super().__init__()
        self.lines: List[dict] = []
        self.setFormatter(output_formatter())

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))

    def events(self, name: str) -> List[dict]:
        return [line for line in self.lines if line.get("event") == name]
