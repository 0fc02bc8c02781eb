"""Fixtures of the subsidy tests: moto in-process for the tables, the REAL channel simulator
(infra/channel) on a loopback port, reached over HTTP."""
import logging

import pytest
from chalice.test import Client

import app as paysettle
from chalicelib.subsidies.messages import SubsidyRequest, SubsidyReturnRequest
from infra.channel import ChannelSimulator
from tests.subsidies.support import (BRIDGE_NOTIFY_TIMEOUT, CONNECT_TIMEOUT, READ_TIMEOUT,
                                     CenterBridge, Channel, Clock, LogLines, context, create_body,
                                     next_id)
from tests.unit.support import ROOT, Api, aws_stack


@pytest.fixture
def stack():
    with aws_stack("subsidies") as created:
        yield created


@pytest.fixture
def table(stack):
    return stack.environment["SUBSIDIES_TABLE"]


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
    with ChannelSimulator(center_url=bridge.url, notify_timeout=BRIDGE_NOTIFY_TIMEOUT) as running:
        monkeypatch.setenv("CHANNEL_URL", running.url)
        monkeypatch.setenv("CHANNEL_CONNECT_TIMEOUT_SECONDS", str(CONNECT_TIMEOUT))
        monkeypatch.setenv("CHANNEL_READ_TIMEOUT_SECONDS", str(READ_TIMEOUT))
        monkeypatch.setenv("SUBSIDY_WAIT_SECONDS", "0.5")
        yield running


@pytest.fixture
def channel(simulator):
    return Channel(simulator.url)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ctx(simulator, clock):
    return context(simulator.url, clock)


@pytest.fixture
def paid(channel):
    """A paid order on the channel, notified to the center: its paymentOrderId and ids."""
    payment_order_id = next_id("13262164")
    answer = channel.order(payment_order_id)
    return {"paymentOrderId": payment_order_id, **answer}


@pytest.fixture
def log_lines():
    handler = LogLines()
    logger = logging.getLogger("paysettle")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def subsidy_request(payment_order_id: str, **overrides) -> SubsidyRequest:
    return SubsidyRequest.model_validate(create_body(payment_order_id, **overrides))


def return_request(body: dict) -> SubsidyReturnRequest:
    return SubsidyReturnRequest.model_validate(body)
