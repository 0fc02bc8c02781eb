"""Profit sharing over real HTTP: shapes, asynchronous settlement by the server's worker, the
per-receiver notification to a real tiny HTTP receiver, the controls, the order view."""
import time

import pytest
import requests

from infra.channel import ChannelSimulator

from .conftest import Client, order_body, receiver, share_body, sharing_return_body, unfreeze_body
from .test_notification import Receiver

RECEIVER_KEYS = {"type", "account", "amount", "description", "result", "fail_reason", "detail_id",
                 "create_time", "finish_time"}


def _eventually(check, seconds: float = 5.0):
    """Poll `check` until it returns something truthy (the settlement is asynchronous)."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def _finished(client, body):
    return lambda: (lambda a: a if a["state"] == "FINISHED" else None)(client.query_sharing(body).json())


def test_a_sharing_order_settles_by_itself_after_processing_ms(client):
    client.control("receivers", {"account": "1900000110", "fail_reason": "RECEIVER_REAL_NAME_NOT_VERIFIED"})
    transaction_id = client.order(amount=10000, processing_ms=200)
    body = share_body(transaction_id, [receiver("1900000109", 1200),
                                       receiver("1900000110", 300, "PERSONAL_OPENID")])
    started = time.monotonic()
    accepted = client.share(body)
    assert accepted.status_code == 200
    assert set(accepted.json()) == {"sub_mchid", "transaction_id", "out_order_no", "order_id",
                                    "state", "receivers"}
    assert accepted.json()["state"] == "PROCESSING"
    assert all(set(r) == RECEIVER_KEYS and r["result"] == "PENDING" for r in accepted.json()["receivers"])
    # (That the worker settles it with nobody asking: the notification tests below.)
    settled = _eventually(lambda: client.view(transaction_id)["sharing"][0]["state"] == "FINISHED")
    assert settled and time.monotonic() - started >= 0.2
    finished = client.query_sharing(body).json()
    assert finished["order_id"] == accepted.json()["order_id"]
    assert [(r["result"], r["fail_reason"]) for r in finished["receivers"]] == \
        [("SUCCESS", None), ("CLOSED", "RECEIVER_REAL_NAME_NOT_VERIFIED")]
    view = client.view(transaction_id)
    assert (view["shared_amount"], view["sharing_pending_amount"], view["sharing_limit"]) == (1200, 0, 3000)


def test_the_whole_walk_over_http(client):
    transaction_id = client.order(amount=5000, max_sharing_ratio=0.5, processing_ms=50)
    body = share_body(transaction_id, [receiver("A", 2000), receiver("B", 500)])
    assert client.share(body).status_code == 200
    assert _eventually(_finished(client, body))
    returned = client.return_sharing(sharing_return_body(body["out_order_no"], "A", 1500))
    assert returned.status_code == 200 and returned.json()["result"] == "SUCCESS"
    over = client.return_sharing(sharing_return_body(body["out_order_no"], "A", 501))
    assert (over.status_code, over.json()["code"], over.json()["message"]) == \
        (400, "INVALID_REQUEST", "回退金额超过分账金额")
    query = client.query_return(sharing_return_body(body["out_order_no"], "A", 1500,
                                                    out_return_no=returned.json()["out_return_no"]))
    assert (query.status_code, query.json()) == (200, returned.json())
    unfrozen = client.unfreeze(unfreeze_body(transaction_id))
    assert unfrozen.status_code == 200 and unfrozen.json()["state"] == "FINISHED"
    assert client.share(share_body(transaction_id, [receiver("C", 1)])).json()["code"] == "INVALID_REQUEST"
    view = client.view(transaction_id)
    assert (view["shared_amount"], view["sharing_returned_amount"], view["unfrozen"]) == (2500, 1500, True)
    assert [r["out_return_no"] for r in view["sharing_returns"]] == [returned.json()["out_return_no"]]


def test_a_processing_return_settles_by_itself(client):
    transaction_id = client.order(processing_ms=100)
    body = share_body(transaction_id, [receiver("A", 1000)])
    client.share(body)
    assert _eventually(_finished(client, body))
    client.control("returns", {"return_mchid": "A", "result": "PROCESSING", "then": "SUCCESS"})
    back = sharing_return_body(body["out_order_no"], "A", 1000)
    assert client.return_sharing(back).json()["result"] == "PROCESSING"
    assert _eventually(lambda: client.view(transaction_id)["sharing_returned_amount"] == 1000)
    assert client.query_return(back).json()["result"] == "SUCCESS"


@pytest.mark.parametrize("path", ["/v3/profitsharing/orders/never?sub_mchid=1&transaction_id=2",
                                  "/v3/profitsharing/return-orders/never?sub_mchid=1&out_order_no=2"])
def test_an_unknown_number_is_404_resource_not_exists(client, path):
    answer = client.http.get(f"{client.url}{path}", timeout=5)
    assert (answer.status_code, answer.json()["code"]) == (404, "RESOURCE_NOT_EXISTS")


def test_a_query_without_its_parameters_names_the_missing_one(client):
    answer = client.http.get(f"{client.url}/v3/profitsharing/orders/x?sub_mchid=1", timeout=5)
    assert (answer.status_code, answer.json()["field"]) == (400, "transaction_id")


def test_paths_below_a_number_are_not_routes(client):
    answer = client.http.get(f"{client.url}/v3/profitsharing/orders/a/b?sub_mchid=1&transaction_id=2")
    assert (answer.status_code, answer.json()["code"]) == (404, "NOT_FOUND")


def test_a_malformed_sharing_body_is_a_400_naming_the_field(client):
    answer = client.http.post(f"{client.url}/v3/profitsharing/orders", data=b"{oops",
                              headers={"Content-Type": "application/json"}, timeout=5)
    assert (answer.status_code, answer.json()["field"]) == (400, "body")
    assert [(c["operation"], c["outcome"]) for c in client.calls()] == [("profitsharing.orders", "REJECTED")]


@pytest.mark.parametrize("name, body, field", [
    ("receivers", {"account": "A", "fail_reason": "LATER"}, "fail_reason"),
    ("returns", {"return_mchid": "A", "result": "FAILED"}, "fail_reason"),
    ("orders", {"payment_order_id": "p", "biz_order_id": "b", "mch_id": "m", "sub_mchid": "s",
                "amount": 100, "subsidy_limit": 0, "max_sharing_ratio": 2}, "max_sharing_ratio")])
def test_a_bad_control_body_is_a_400_naming_the_field(client, name, body, field):
    answer = client.post(f"/_control/{name}", body)
    assert (answer.status_code, answer.json()["code"], answer.json()["field"]) == (400, "PARAM_ERROR", field)


def test_reset_forgets_sharing_orders_and_controls(client):
    client.control("receivers", {"account": "A", "fail_reason": "NO_AUTH"})
    transaction_id = client.order(processing_ms=0)
    body = share_body(transaction_id, [receiver("A", 10)])
    assert client.share(body).json()["receivers"][0]["result"] == "CLOSED"
    assert client.post("/_control/reset", {}).status_code == 200
    assert client.query_sharing(body).status_code == 404
    transaction_id = client.order(processing_ms=0)
    assert client.share(share_body(transaction_id, [receiver("A", 10)])).json()["receivers"][0]["result"] == "SUCCESS"


# -- notifications ------------------------------------------------------------------------

def _notices(center) -> list:
    return [body for path, _, body in center.received if path == "/channel/notifications/profitsharing"]


def test_each_settled_receiver_is_notified_once_to_the_center():
    with Receiver() as center, ChannelSimulator(center_url=center.url) as simulator:
        client = Client(simulator.url, requests.Session())
        client.control("receivers", {"account": "B", "fail_reason": "RECEIVER_RECEIPT_LIMIT"})
        transaction_id = client.order(processing_ms=100)
        body = share_body(transaction_id, [receiver("A", 100), receiver("B", 200, "PERSONAL_OPENID")])
        order_id = client.share(body).json()["order_id"]
        assert _eventually(lambda: len(_notices(center)) == 2)
        time.sleep(0.2)  # and no more come
        notices = sorted(_notices(center), key=lambda n: n["receiver"]["account"])
        assert len(_notices(center)) == 2
        finished = client.query_sharing(body).json()
        for notice, settled in zip(notices, finished["receivers"]):
            assert notice == {"sub_mchid": "1692608207", "transaction_id": transaction_id,
                              "order_id": order_id, "out_order_no": body["out_order_no"],
                              "receiver": {k: settled[k] for k in ("type", "account", "amount",
                                                                   "description", "result",
                                                                   "fail_reason", "detail_id")},
                              "success_time": settled["finish_time"]}
        assert [n["receiver"]["result"] for n in notices] == ["SUCCESS", "CLOSED"]
        logged = [c for c in client.calls() if c["operation"] == "profitsharing.notification"]
        assert sorted((c["account"], c["outcome"], c["http_status"]) for c in logged) == \
            [("A", "NOTIFIED", 200), ("B", "NOTIFIED", 200)]


def test_a_refused_notification_is_logged_and_not_retried():
    with Receiver(status=500) as center, ChannelSimulator(center_url=center.url) as simulator:
        client = Client(simulator.url, requests.Session())
        # Paid through the book: the paid-order notification would be refused too.
        transaction_id = simulator.book.create_transaction(order_body(processing_ms=0)).transaction_id
        body = share_body(transaction_id, [receiver("A", 100)])
        assert client.share(body).status_code == 200
        failed = _eventually(lambda: [c for c in client.calls()
                                      if c["operation"] == "profitsharing.notification"])
        assert [(c["outcome"], c["http_status"], c["code"]) for c in failed] == \
            [("NOTIFY_FAILED", 500, "NOTIFY_FAILED")]
        assert "HTTP 500" in failed[0]["reason"]
        time.sleep(0.2)
        assert len(_notices(center)) == 1
        assert client.query_sharing(body).json()["state"] == "FINISHED"  # the center may query


def test_an_unreachable_center_is_logged_without_a_status():
    import socket
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with ChannelSimulator(center_url=f"http://127.0.0.1:{port}") as simulator:
        client = Client(simulator.url, requests.Session())
        paid = simulator.book.create_transaction(order_body(processing_ms=0)).transaction_id
        assert client.share(share_body(paid, [receiver("A", 1)])).status_code == 200
        failed = _eventually(lambda: [c for c in client.calls()
                                      if c["operation"] == "profitsharing.notification"])
        assert (failed[0]["outcome"], failed[0]["http_status"]) == ("NOTIFY_FAILED", None)
        assert "could not be reached" in failed[0]["reason"]
