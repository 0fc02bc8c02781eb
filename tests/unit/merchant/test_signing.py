"""The merchant system signs every call to the payment API with its key from Secrets Manager.

The payment API here is a recorder on a loopback port mounted under a path prefix (as API
Gateway's stage prefix is): it keeps what it received, so each test checks the signature the
way the center does, over the bytes and the path that arrived.
"""
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.auth import signature
from infra.loopback import STOP_POLL_SECONDS
from merchantlib import service
from merchantlib.messages import MerchantPayRequest, MerchantWithdrawRequest
from merchantlib.orders import State
from merchantlib.payment_client import Lost, PaymentApi, Refused
from merchantlib.signing_key import SecretsManagerKey, SigningKey
from chalicelib.payments.orders import Kind
from tests.support.logs import captured_log_lines
from tests.unit.merchant.support import merchant_context, stored
from tests.unit.support import MERCHANT_KEY

PREFIX = "/api"


class Recorder(ThreadingHTTPServer):
    """Answers each request with the next of `statuses` (then 200 for good) and keeps it."""
    daemon_threads = True

    def __init__(self, statuses=()):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.statuses = list(statuses)
        self.received = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{PREFIX}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, dict(self.headers), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        message = json.loads(body)
        answer = {"request_id": message["request_id"], "response_code": "SUCCESS",
                  "response_msg": "OK", "response_time": "2019-08-29 17:15:25",
                  "response_id": "R" + message["request_id"]} if status == 200 else \
            {"response_code": "FAIL", "response_msg": f"HTTP {status}"}
        raw = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def recorder():
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True,
                              kwargs={"poll_interval": STOP_POLL_SECONDS})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def verified(received, secret=MERCHANT_KEY["secret"]) -> bool:
    path, headers, body = received
    return signature.matches(secret, headers[signature.SIGNATURE], "POST", path,
                             headers[signature.TIMESTAMP], headers[signature.NONCE], body)


@pytest.mark.parametrize("request_, path", [
    (MerchantPayRequest(saler_id="saler1", total_fee=250), "/api/pay"),
    (MerchantWithdrawRequest(saler_id="saler1", withdraw_money=30), "/api/withdraw"),
])
def test_every_call_is_signed_over_the_bytes_sent_and_the_full_path(stack, recorder, request_, path):
    order = service.place(merchant_context(stack, recorder.url), request_)

    assert order.state is State.SUCCESS
    [received] = recorder.received
    assert received[0] == path                          # the URL's prefix is part of the target
    assert received[1][signature.KEY_ID] == MERCHANT_KEY["key_id"]
    assert verified(received)
    assert not verified(received, secret="another secret")


def test_a_resend_of_an_unknown_order_sends_the_same_bytes_under_a_fresh_nonce(stack, recorder):
    recorder.statuses = [503]
    merchant = merchant_context(stack, recorder.url)
    lost = service.place(merchant, MerchantPayRequest(saler_id="saler1", total_fee=100))
    assert lost.state is State.UNKNOWN

    resolved = service.resolve(merchant, stored(stack, lost.request_id))

    assert resolved.state is State.SUCCESS
    first, again = recorder.received
    assert again[2] == first[2]                                     # the identical message
    assert again[1][signature.NONCE] != first[1][signature.NONCE]   # not a replay to the center
    assert verified(first) and verified(again)


class CountingSecrets:
    def __init__(self, value):
        self.value = value
        self.reads = 0

    def get_secret_value(self, SecretId):
        self.reads += 1
        return {"SecretString": self.value}


def test_the_key_is_read_once_and_again_after_a_401(recorder):
    secrets = CountingSecrets(json.dumps(MERCHANT_KEY))
    key = SecretsManagerKey("MerchantSigningKey", client=lambda: secrets)
    api = PaymentApi(recorder.url, 5, key)
    message = {"request_id": "20190829171520000001", "saler_id": "s", "total_fee": "1",
               "request_time": "2019-08-29 17:15:20"}
    api.send(Kind.PAY, message)
    api.send(Kind.PAY, message)
    assert secrets.reads == 1

    recorder.statuses = [401]
    assert isinstance(api.send(Kind.PAY, message), Lost)    # nothing recorded; re-sent later
    api.send(Kind.PAY, message)
    assert secrets.reads == 2


def test_a_403_is_a_refusal_nothing_was_recorded(recorder):
    recorder.statuses = [403]
    key = SecretsManagerKey("k", client=lambda: CountingSecrets(json.dumps(MERCHANT_KEY)))
    outcome = PaymentApi(recorder.url, 5, key).send(Kind.PAY, {"request_id": "20190829171520000002"})
    assert isinstance(outcome, Refused) and outcome.answer.response_msg == "HTTP 403"


@pytest.mark.parametrize("stored_value", ['{"key_id": "mch"}', "not json", '{"key_id": "", "secret": "x"}'])
def test_an_unreadable_key_sends_nothing_and_leaves_the_order_unknown(recorder, stored_value):
    key = SecretsManagerKey("k", client=lambda: CountingSecrets(stored_value))
    outcome = PaymentApi(recorder.url, 5, key).send(Kind.PAY, {"request_id": "20190829171520000003"})
    assert isinstance(outcome, Lost) and "MerchantSigningKey" not in outcome.reason
    assert recorder.received == []


def test_the_secret_and_the_signature_never_reach_a_log_or_a_repr(stack, recorder, caplog):
    caplog.set_level(logging.DEBUG, logger="paysettle")   # our logs (botocore debugs bodies)
    recorder.statuses = [503]
    merchant = merchant_context(stack, recorder.url)
    # Our events' fields are only in their JSON lines (a record's message is the event's name).
    with captured_log_lines() as lines:
        lost = service.place(merchant, MerchantPayRequest(saler_id="saler1", total_fee=100))
        service.resolve(merchant, stored(stack, lost.request_id))
    ours = "\n".join(json.dumps(line) for line in lines)
    assert "merchant.order_success" in ours                 # the merchant's lines were seen
    signatures = [headers[signature.SIGNATURE] for _, headers, _ in recorder.received]
    for secret in [MERCHANT_KEY["secret"], *signatures]:
        assert secret not in caplog.text and secret not in ours
    assert MERCHANT_KEY["secret"] not in repr(SigningKey(**MERCHANT_KEY))
    assert MERCHANT_KEY["secret"] not in repr(merchant.payment.signing_key)
