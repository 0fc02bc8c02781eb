"""Every line logged during an invocation carries the Lambda request id, cold start, function
name and a correlation id, through the Chalice middleware of chalicelib.logs."""
import json

import pytest
from chalice import Chalice, Rate
from chalice.test import Client

from chalicelib import logs
from chalicelib.logs import log
from tests.support.logs import captured_log_lines


@pytest.fixture
def probe_app():
    app = Chalice(app_name="log-context-probe")
    app.register_middleware(logs.lambda_context_middleware, "all")

    @app.route("/probe")
    def probe():
        log("probe.route", account="6222021234567890123")
        return {"ok": True}

    @app.schedule(Rate(1, unit=Rate.MINUTES), name="probe_schedule")
    def probe_schedule(event):
        log("probe.schedule")
        return {}

    return app


def _one_line(lines):
    [line] = lines
    return line


def test_a_route_line_names_the_request_the_function_and_the_callers_request_id(probe_app):
    with Client(probe_app) as client, captured_log_lines() as lines:
        client.http.get("/probe", headers={"X-Request-Id": "caller-req-42"})
    line = _one_line(lines)
    assert line["event"] == "probe.route" and {"ts", "level"} <= set(line)
    assert line["correlation_id"] == "caller-req-42"
    assert line["function_request_id"] and line["function_request_id"] != "caller-req-42"
    assert line["function_name"] == "api_handler"
    assert isinstance(line["cold_start"], bool)
    assert line["account"] == "*" * 15 + "0123"          # masking still applies


def test_without_a_caller_request_id_the_correlation_id_is_the_lambda_request_id(probe_app):
    with Client(probe_app) as client, captured_log_lines() as lines:
        client.http.get("/probe")
        client.http.get("/probe")
    first, second = lines
    for line in (first, second):
        assert line["correlation_id"] == line["function_request_id"]
    assert first["function_request_id"] != second["function_request_id"]
    assert second["cold_start"] is False


@pytest.mark.parametrize("header", ["a" * 65, "two\nlines", "{\"body\": 1}", "", " padded"])
def test_an_unusable_caller_request_id_is_replaced_by_the_lambda_request_id(probe_app, header):
    with Client(probe_app) as client, captured_log_lines() as lines:
        client.http.get("/probe", headers={"X-Request-Id": header})
    line = _one_line(lines)
    assert line["correlation_id"] == line["function_request_id"]
    assert header.strip() == "" or header not in json.dumps(line)


def test_an_event_handler_line_carries_the_same_keys(probe_app):
    with Client(probe_app) as client, captured_log_lines() as lines:
        client.lambda_.invoke("probe_schedule", client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    line = _one_line(lines)
    assert line["event"] == "probe.schedule"
    assert line["function_name"] == "probe_schedule"
    assert line["correlation_id"] == line["function_request_id"] and line["function_request_id"]


def test_lines_logged_outside_an_invocation_carry_no_stale_request_id(probe_app):
    with Client(probe_app) as client:
        client.http.get("/probe", headers={"X-Request-Id": "earlier"})
    with captured_log_lines() as lines:
        log("probe.outside")
    line = _one_line(lines)
    assert "correlation_id" not in line and "function_request_id" not in line


def test_the_app_registers_the_middleware_for_every_kind_of_event():
    from app import app

    assert (logs.lambda_context_middleware, "all") in app.middleware_handlers
