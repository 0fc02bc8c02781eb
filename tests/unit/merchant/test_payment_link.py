"""The payment link: a real HTTP proxy with seeded faults, in front of the real payment API."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from infra.payment_link import FaultPlan, PaymentLink
from tests.support.logs import captured_log_lines
from tests.support.signing import PLATFORM
from tests.unit.merchant.support import committed_order, payment_orders
from tools.signing import SignedAuth

HOLD = 1.0
UNUSED_UPSTREAM = "http://127.0.0.1:9"    # control calls are never forwarded
CLIENT_TIMEOUT = 0.2
SIGNED = SignedAuth(PLATFORM.key_id, PLATFORM.secret)     # the payment API's routes are signed


@pytest.fixture
def quick_link(payment_api):
    with PaymentLink(payment_api.url, HOLD) as running:
        yield running


def pay_message(request_id):
    return {"request_time": "2019-08-29 17:15:20", "request_id": request_id, "saler_id": "l1",
            "total_fee": "5"}


def control(link, name, body=None):
    if body is None and name == "faults":
        return requests.get(f"{link.url}/_control/faults", timeout=5)
    return requests.post(f"{link.url}/_control/{name}", json=body or {}, timeout=5)


def test_without_faults_answers_are_relayed_unchanged(stack, payment_api, quick_link):
    direct = requests.get(f"{payment_api.url}/accounts/nobody", auth=SIGNED, timeout=5)
    relayed = requests.get(f"{quick_link.url}/accounts/nobody", auth=SIGNED, timeout=5)
    assert (relayed.status_code, relayed.json()["error_code"]) == (direct.status_code, 4042)
    answer = requests.post(f"{quick_link.url}/pay", auth=SIGNED,
                           json=pay_message("20190829171520000011"), timeout=5)
    assert answer.status_code == 200 and answer.json()["response_code"] == "SUCCESS"
    assert control(quick_link, "faults").json() == {
        "timeout_after_commit": 0.0, "timeout_before_commit": 0.0, "seed": None,
        "counters": {"forwarded": 2, "caller_gone": 0, "timeout_after_commit": 0, "timeout_before_commit": 0}}


def test_after_commit_the_order_is_recorded_and_the_answer_withheld(stack, quick_link):
    assert control(quick_link, "faults", {"timeout_after_commit": 1.0, "seed": 1}).status_code == 200
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{quick_link.url}/pay", auth=SIGNED, json=pay_message("20190829171520000012"),
                      timeout=CLIENT_TIMEOUT)
    assert time.monotonic() - started < HOLD
    committed_order(stack, "20190829171520000012")     # forwarded: the payment side has it
    assert control(quick_link, "faults").json() == {
        "timeout_after_commit": 1.0, "timeout_before_commit": 0.0, "seed": 1,
        "counters": {"forwarded": 0, "caller_gone": 0, "timeout_after_commit": 1, "timeout_before_commit": 0}}


def test_held_connections_are_closed_without_an_answer(stack, quick_link):
    control(quick_link, "faults", {"timeout_before_commit": 1.0, "seed": 1})
    with pytest.raises(requests.exceptions.ConnectionError):
        # A client more patient than the hold sees the connection closed, never an answer.
        requests.post(f"{quick_link.url}/pay", auth=SIGNED, json=pay_message("20190829171520000013"), timeout=5)
    assert payment_orders(stack) == []        # before commit: never forwarded


def test_counters_and_reset(stack, quick_link):
    control(quick_link, "faults", {"timeout_before_commit": 1.0, "seed": 1})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{quick_link.url}/pay", auth=SIGNED, json=pay_message("20190829171520000014"),
                      timeout=CLIENT_TIMEOUT)
    assert quick_link.plan.status()["counters"] == {
        "forwarded": 0, "caller_gone": 0, "timeout_after_commit": 0, "timeout_before_commit": 1}
    reset = control(quick_link, "reset").json()
    assert reset == {"timeout_after_commit": 0.0, "timeout_before_commit": 0.0, "seed": None,
                     "counters": {"forwarded": 0, "caller_gone": 0, "timeout_after_commit": 0, "timeout_before_commit": 0}}


@pytest.mark.parametrize("body", [
    {"timeout_after_commit": 1.5}, {"timeout_before_commit": -0.1},
    {"timeout_after_commit": 0.6, "timeout_before_commit": 0.6}, {"timeout_after_commit": True},
    {"timeout_after_commit": "0.1"}, {"seed": 1.5}, {"drop": 0.1}, [0.1],
])
def test_bad_control_settings_are_refused_and_change_nothing(body):
    with PaymentLink(UNUSED_UPSTREAM, HOLD) as link:
        link.plan.configure({"timeout_after_commit": 0.25, "seed": 3})
        before = link.plan.status()
        refused = requests.post(f"{link.url}/_control/faults", data=json.dumps(body), timeout=5)
        assert refused.status_code == 400 and refused.json()["error"]
        assert link.plan.status() == before


def test_the_same_seed_gives_the_same_faults():
    def sequence(seed):
        plan = FaultPlan()
        plan.configure({"timeout_after_commit": 0.2, "timeout_before_commit": 0.1, "seed": seed})
        return [plan.draw() for _ in range(200)]

    first = sequence(7)
    assert first == sequence(7)
    assert first != sequence(8)
    assert 20 <= first.count("timeout_after_commit") <= 60
    assert 5 <= first.count("timeout_before_commit") <= 40


class _SlowUpstream(BaseHTTPRequestHandler):
    """An upstream that takes SLOW_ANSWER seconds to answer every call."""
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - the base class's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(SLOW_ANSWER)
        body = b'{"response_code": "SUCCESS"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


SLOW_ANSWER = 0.6


@pytest.fixture
def slow_link():
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _SlowUpstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        with PaymentLink(f"http://127.0.0.1:{upstream.server_address[1]}", HOLD) as running:
            yield running
    finally:
        upstream.shutdown()
        upstream.server_close()


def _counters_after_caller_gone(link, expected):
    """The link's counters once it has dropped `expected` answers (or after 5 s)."""
    deadline = time.monotonic() + 5
    while link.plan.status()["counters"]["caller_gone"] < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return link.plan.status()["counters"]


def test_an_answer_for_a_caller_that_hung_up_is_dropped_and_counted_without_a_traceback(
        slow_link, capfd):
    with captured_log_lines() as lines:
        for request_id in ("20190829171520000021", "20190829171520000022"):
            with pytest.raises(requests.exceptions.ReadTimeout):
                requests.post(f"{slow_link.url}/pay", json=pay_message(request_id),
                              timeout=CLIENT_TIMEOUT)
        counters = _counters_after_caller_gone(slow_link, 2)
        # The link counts a dropped answer just before it logs it: wait for the second line.
        deadline = time.monotonic() + 5
        while (sum(line["event"] == "payment_link.caller_gone" for line in lines) < 2
               and time.monotonic() < deadline):
            time.sleep(0.05)
    assert counters == {"forwarded": 2, "caller_gone": 2, "timeout_after_commit": 0,
                        "timeout_before_commit": 0}
    assert "Traceback" not in capfd.readouterr().err
    assert [line["status"] for line in lines if line["event"] == "payment_link.caller_gone"] == [200, 200]


def test_a_patient_caller_gets_a_slow_answer(slow_link):
    answer = requests.post(f"{slow_link.url}/pay", json=pay_message("20190829171520000023"), timeout=5)
    assert answer.status_code == 200 and answer.json() == {"response_code": "SUCCESS"}
    # The answer arrived, so the link is done with the call: nothing more will be counted.
    assert slow_link.plan.status()["counters"] == {
        "forwarded": 1, "caller_gone": 0, "timeout_after_commit": 0, "timeout_before_commit": 0}


@pytest.fixture
def over_a_thousand_files_open():
    """More than 1,024 descriptors open, so that the next socket is numbered above select's
    limit (a long test session or a busy stack reaches that)."""
    import os
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("the descriptor limit is too low")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        yield
    finally:
        for descriptor in held:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_with_sockets_numbered_above_1024_answers_are_relayed_and_hang_ups_counted(
        slow_link, over_a_thousand_files_open, capfd):
    answer = requests.post(f"{slow_link.url}/pay", json=pay_message("20190829171520000024"), timeout=5)
    assert answer.status_code == 200 and answer.json() == {"response_code": "SUCCESS"}
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{slow_link.url}/pay", json=pay_message("20190829171520000025"),
                      timeout=CLIENT_TIMEOUT)
    assert _counters_after_caller_gone(slow_link, 1)["caller_gone"] == 1
    assert "Traceback" not in capfd.readouterr().err
