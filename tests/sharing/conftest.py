"""Fixtures of the profit-sharing tests: moto in-process for the tables, the REAL channel
simulator (infra/channel) on a loopback port, reached over HTTP, notifying the app through a
loopback bridge."""
import logging

import pytest
from chalice.test import Client

import app as paysettle
from infra.channel import ChannelSimulator
from tests.sharing.support import Clock, SharingChannel, context, next_id, serialize_models
from tests.subsidies.support import (BRIDGE_NOTIFY_TIMEOUT, CONNECT_TIMEOUT, READ_TIMEOUT,
                                     CenterBridge, LogLines)
from tests.unit.support import ROOT, Api, aws_stack


@pytest.fixture
def stack():
    with aws_stack("sharing") as created:
        yield created


@pytest.fixture(scope="module")
def api():
    with Client(paysettle.app, stage_name="local", project_dir=str(ROOT)) as client:
        yield Api(client)


@pytest.fixture
def bridge(api):
    with CenterBridge(api) as running:
        yield running


@pytest.fixture
def simulator(stack, bridge, monkeypatch):
    serialize_models(bridge.lock, monkeypatch)
    with ChannelSimulator(center_url=bridge.url, notify_timeout=BRIDGE_NOTIFY_TIMEOUT) as running:
        monkeypatch.setenv("CHANNEL_URL", running.url)
        monkeypatch.setenv("CHANNEL_CONNECT_TIMEOUT_SECONDS", str(CONNECT_TIMEOUT))
        monkeypatch.setenv("CHANNEL_READ_TIMEOUT_SECONDS", str(READ_TIMEOUT))
        monkeypatch.setenv("SHARING_WAIT_SECONDS", "0.5")
        monkeypatch.setenv("SHARING_FOLLOW_AFTER_SECONDS", "0")
        monkeypatch.setenv("SHARING_RETRY_AFTER_SECONDS", "0")
        yield running


@pytest.fixture
def channel(simulator):
    return SharingChannel(simulator.url)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ctx(stack, simulator, clock):
    return context(stack.environment["SUBSIDIES_TABLE"], simulator.url, clock)


@pytest.fixture
def paid(channel):
    """A paid order of 10000 fen on the channel (ratio 0.3), notified to the center."""
    payment_order_id = next_id("13587585")
    answer = channel.paid(payment_order_id)
    return {"paymentOrderId": payment_order_id, "amount": 10000, **answer}


@pytest.fixture
def log_lines():
    handler = LogLines()
    logger = logging.getLogger("paysettle")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
