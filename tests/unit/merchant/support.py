"""Helpers of the merchant tests: the payment API served over real HTTP inside the moto mock,
the merchant's collaborators, and views of both sides' stored orders."""
import json
import threading
from dataclasses import replace
from datetime import timedelta
from typing import List, Optional

from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalDevServer, ThreadedHTTPServer

from chalicelib import clock
from chalicelib.dynamo import from_item
from infra.loopback import STOP_POLL_SECONDS
from infra.payment_link import FaultPlan
from merchantlib.context import Merchant
from merchantlib.orders import MerchantOrder
from merchantlib.payment_client import PaymentApi
from merchantlib.repository import MerchantOrders
from merchantlib.signing_key import SecretsManagerKey
from tests.unit.support import ROOT, Stack

# The merchant's call timeout when the payment link will fault the call, and how long the link
# holds a faulted call; a call the link forwards gets a budget no loaded machine exhausts.
TIMEOUT_SECONDS = 1.0
HOLD_SECONDS = 1.3
PATIENT_TIMEOUT_SECONDS = 10.0


class _Server(ThreadedHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many threads connect at once in the concurrency tests


class PaymentApiServer:
    """PaySettle's own app served over HTTP on a loopback port (chalice's local dev server),
    talking to moto in-process: the merchant reaches it through a real socket."""

    def __init__(self, app):
        config = Config(chalice_stage="local",
                        config_from_disk=json.loads((ROOT / ".chalice" / "config.json").read_text()))
        self._server = LocalDevServer(app, config, "127.0.0.1", 0, handler_cls=ChaliceRequestHandler,
                                      server_cls=_Server)
        self._thread = threading.Thread(target=self._server.server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": STOP_POLL_SECONDS})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server.server_address[1]}"

    def __enter__(self) -> "PaymentApiServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server.server_close()
        self._thread.join(5)


class PacedPaymentApi(PaymentApi):
    """The merchant's payment client, its timeout short only while the link's plan faults calls:
    a faulted call costs the test its timeout, and a forwarded call must not turn UNKNOWN
    because the machine is busy."""

    def __init__(self, base_url: str, plan: FaultPlan, signing_key: SecretsManagerKey):
        self._plan = plan
        super().__init__(base_url, TIMEOUT_SECONDS, signing_key)

    @property
    def timeout_seconds(self) -> float:
        settings = self._plan.status()
        faulted = settings["timeout_after_commit"] or settings["timeout_before_commit"]
        return TIMEOUT_SECONDS if faulted else PATIENT_TIMEOUT_SECONDS

    @timeout_seconds.setter
    def timeout_seconds(self, _ignored: float) -> None:
        pass


def merchant_context(stack: Stack, payment_url: str, plan: Optional[FaultPlan] = None,
                     **overrides) -> Merchant:
    """The merchant's collaborators; with the link's `plan`, the client paced by it."""
    key = SecretsManagerKey(stack.environment["MERCHANT_SIGNING_SECRET"])
    payment = (PacedPaymentApi(payment_url, plan, key) if plan is not None
               else PaymentApi(payment_url, PATIENT_TIMEOUT_SECONDS, key))
    # Its models read the stack's merchant table (MERCHANT_ORDERS_TABLE, set for the test).
    settings = dict(orders=MerchantOrders(),
                    payment=payment, resolve_after_seconds=60)
    settings.update(overrides)
    return Merchant(**settings)


def later(ctx: Merchant, seconds: float) -> Merchant:
    """The same merchant, its clock `seconds` ahead (what the resolver sees a while later)."""
    return replace(ctx, now=lambda: clock.utc_now() + timedelta(seconds=seconds))


def merchant_items(stack: Stack) -> List[dict]:
    return [from_item(item) for item in stack.scan(stack.environment["MERCHANT_ORDERS_TABLE"])]


def stored(stack: Stack, request_id: str) -> Optional[MerchantOrder]:
    found = [item for item in merchant_items(stack) if item["request_id"] == request_id]
    return MerchantOrder.from_record(found[0]) if found else None


def stored_item(stack: Stack, request_id: str) -> dict:
    [item] = [item for item in merchant_items(stack) if item["request_id"] == request_id]
    return item


def payment_orders(stack: Stack, request_id: Optional[str] = None) -> List[dict]:
    """The payment system's orders (not its response-id guards), optionally of one request id."""
    orders = [from_item(item) for item in stack.scan(stack.orders_table)]
    orders = [o for o in orders if "request_id" in o]
    return [o for o in orders if request_id is None or o["request_id"] == request_id]


def committed_order(stack: Stack, request_id: str, timeout: float = 5.0) -> dict:
    """The payment side's order, once it is there: after a "timeout after commit" the link
    forwarded the call, but on a loaded machine the API may commit after the merchant gave up."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        found = payment_orders(stack, request_id)
        if found or time.monotonic() >= deadline:
            assert len(found) == 1, f"{request_id}: {len(found)} payment orders"
            return found[0]
        time.sleep(0.05)
