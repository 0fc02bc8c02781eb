"""The paid-transaction notification to the center, against a real tiny HTTP receiver."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from chalicelib.auth import signature
from infra.channel import ChannelSimulator, notify
from infra.loopback import STOP_POLL_SECONDS

from .conftest import order_body


class Receiver:
    """A stand-in for the center's notification route: records bodies, answers as told."""

    def __init__(self, status: int = 200, delay: float = 0.0):
        self.status = status
        self.delay = delay
        self.received = []
        self.raw = []           # (path, headers, bytes): what a verifying center sees
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((self.path, self.headers["Content-Type"], json.loads(body)))
                receiver.raw.append((self.path, dict(self.headers), body))
                threading.Event().wait(receiver.delay)
                answer = json.dumps({"code": "SUCCESS" if receiver.status == 200 else "CONFLICT"}).encode()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
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


def _post_order(simulator, body) -> requests.Response:
    return requests.post(f"{simulator.url}/_control/orders", json=body, timeout=10)


def test_a_paid_order_is_notified_before_the_answer():
    with Receiver() as center, ChannelSimulator(center_url=center.url) as simulator:
        body = order_body(amount=8800)
        answer = _post_order(simulator, body)
        assert answer.status_code == 200
        path, content_type, notice = center.received[0]
        assert path == "/channel/notifications/transactions"
        assert content_type == "application/json"
        assert notice == {"payment_order_id": body["payment_order_id"],
                          "biz_order_id": body["biz_order_id"], "mch_id": body["mch_id"],
                          "sub_mchid": body["sub_mchid"],
                          "transaction_id": answer.json()["transaction_id"],
                          "openid": answer.json()["openid"], "amount": 8800,
                          "success_time": notice["success_time"]}
        assert notice["success_time"].endswith("+08:00")


def test_a_refusing_center_makes_the_control_call_502_with_the_reason():
    with Receiver(status=409) as center, ChannelSimulator(center_url=center.url) as simulator:
        answer = _post_order(simulator, order_body())
        assert answer.status_code == 502
        assert answer.json()["code"] == "NOTIFY_FAILED"
        assert "HTTP 409" in answer.json()["message"]
        assert len(center.received) == 1  # no retry


def test_reposting_the_same_order_renotifies_the_same_transaction():
    with Receiver(status=500) as center, ChannelSimulator(center_url=center.url) as simulator:
        body = order_body()
        first = _post_order(simulator, body)
        assert first.status_code == 502
        center.status = 200
        second = _post_order(simulator, body)
        assert second.status_code == 200
        assert second.json()["transaction_id"] == first.json()["transaction_id"]
        assert [n["transaction_id"] for _, _, n in center.received] == [first.json()["transaction_id"]] * 2


def test_an_unreachable_center_is_a_502():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with ChannelSimulator(center_url=f"http://127.0.0.1:{port}") as simulator:
        answer = _post_order(simulator, order_body())
        assert answer.status_code == 502 and "could not be reached" in answer.json()["message"]


def test_a_center_slower_than_the_timeout_is_a_502_without_retry():
    with Receiver(delay=1.5) as center, \
            ChannelSimulator(center_url=center.url, notify_timeout=0.3) as simulator:
        answer = _post_order(simulator, order_body())
        assert answer.status_code == 502
        assert len(center.received) == 1


def test_without_a_center_nobody_is_notified():
    with ChannelSimulator(center_url=None) as simulator:
        assert _post_order(simulator, order_body()).status_code == 200


CHANNEL_KEY = {"key_id": "channel-test", "secret": "channel-test-secret"}


def _verified(raw, secret=CHANNEL_KEY["secret"]) -> bool:
    path, headers, body = raw
    return signature.matches(secret, headers[signature.SIGNATURE], "POST", path,
                             headers[signature.TIMESTAMP], headers[signature.NONCE], body)


def test_a_notification_is_signed_with_the_channel_credential():
    with Receiver() as center, ChannelSimulator(center_url=center.url,
                                                credential=CHANNEL_KEY) as simulator:
        assert _post_order(simulator, order_body()).status_code == 200
    [raw] = center.raw
    assert raw[1][signature.KEY_ID] == "channel-test"
    assert _verified(raw) and not _verified(raw, secret="another")


def test_the_signed_path_carries_the_center_urls_prefix_and_each_send_a_fresh_nonce():
    with Receiver() as center:
        for _ in range(2):
            notify.send(center.url + "/api", notify.PROFITSHARING_PATH, {"out_order_no": "1"},
                        credential=CHANNEL_KEY)
    first, second = center.raw
    assert first[0] == "/api" + notify.PROFITSHARING_PATH and _verified(first) and _verified(second)
    assert first[1][signature.NONCE] != second[1][signature.NONCE]


def test_without_a_credential_nothing_is_signed():
    with Receiver() as center, ChannelSimulator(center_url=center.url) as simulator:
        _post_order(simulator, order_body())
    assert signature.SIGNATURE not in center.raw[0][1]
