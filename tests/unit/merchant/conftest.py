"""Fixtures of the merchant tests: moto in-process, the payment API over HTTP, the payment link."""
import threading

import pytest
from chalice.test import Client

import app as paysettle
from infra.local_stack import MERCHANT_PROJECT
from infra.payment_link import PaymentLink
from merchant_system.app import app as merchant_app
from tests.unit.support import Api
from tests.unit.merchant.support import HOLD_SECONDS, PaymentApiServer, merchant_context


@pytest.fixture(scope="package")
def api():
    """The merchant system's own app behind `chalice.test.Client`, its stage `local` (its
    project's .chalice/config.json)."""
    with Client(merchant_app, stage_name="local", project_dir=str(MERCHANT_PROJECT)) as client:
        yield Api(client)


@pytest.fixture
def payment_api(stack):
    """The payment API on a loopback port, inside this test's moto mock."""
    with PaymentApiServer(paysettle.app) as server:
        yield server


@pytest.fixture
def link(payment_api):
    """The fault-injecting payment link in front of the payment API."""
    with PaymentLink(payment_api.url, HOLD_SECONDS) as running:
        yield running


@pytest.fixture
def merchant(stack, link):
    """The merchant's collaborators, calling the payment API through the link."""
    return merchant_context(stack, link.url, link.plan)


@pytest.fixture
def linearizable_moto():
    """moto in-process applies concurrent requests without isolation (two conditional writes
    can both succeed); DynamoDB does not. One lock around moto's request dispatch makes each
    request atomic (the embedded stack uses DynamoDB Local instead)."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.__call__

    def one_at_a_time(self, *args, **kwargs):
        with lock:
            return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BotocoreStubber, "__call__", one_at_a_time)
        yield
