"""The channel port's HTTP adapter: what each kind of answer means (pure), and real sockets."""
import socket

import pytest

from chalicelib.channel.http_adapter import HttpChannel, classify
from chalicelib.channel.port import Accepted, Rejected, Unknown

CREATED = b'{"subsidy_id": "4000", "result": "SUCCESS", "transaction_id": "42", "amount": 5}'


@pytest.mark.parametrize("status, body, expected", [
    (200, CREATED, Accepted),
    (200, b'{"subsidy_id": "4000", "result": "FAIL", "transaction_id": "42", "amount": 5}', Accepted),
    (200, b"not json", Unknown),
    (200, b'{"result": "SUCCESS"}', Unknown),                                   # no subsidy_id
    (200, b'{"subsidy_id": "4000", "result": "MAYBE"}', Unknown),
    (200, b'{"subsidy_id": "4000", "result": "SUCCESS", "transaction_id": "43"}', Unknown),  # not ours
    (400, b'{"code": "INVALID_REQUEST", "message": "\xe5\xaf\xb9"}', Rejected),
    (400, b'{"code": "PARAM_ERROR", "message": "x"}', Rejected),
    (404, b'{"code": "ORDER_NOT_EXIST", "message": "x"}', Rejected),
    (400, b'{"code": "SOMETHING_NEW", "message": "x"}', Unknown),              # not known definitive
    (400, b"<html>", Unknown),
    (429, b'{"code": "FREQUENCY_LIMITED", "message": "x"}', Unknown),
    (500, b'{"code": "SYSTEM_ERROR", "message": "x"}', Unknown),
    (500, b"Internal Server Error", Unknown),
    (502, b"", Unknown),
    (503, b'{"code": "INVALID_REQUEST", "message": "x"}', Unknown),            # 5xx is never definitive
])
def test_answers_are_classified(status, body, expected):
    outcome = classify(status, body, ("subsidy_id", "result"), {"transaction_id": "42", "amount": 5})
    assert isinstance(outcome, expected), outcome
    if isinstance(outcome, Rejected):
        assert outcome.code and outcome.status == status


def test_a_refused_connection_is_unknown():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]          # bound, never listening: nothing answers there
    outcome = HttpChannel(f"http://127.0.0.1:{port}", 0.3, 0.3).create_subsidy(
        {"sub_mchid": "1", "transaction_id": "42", "amount": 5, "description": "d",
         "out_subsidy_no": "1"})
    assert isinstance(outcome, Unknown)


def test_a_silent_server_is_a_timeout_not_a_failure():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)                      # accepts, never answers
        outcome = HttpChannel(f"http://127.0.0.1:{server.getsockname()[1]}", 0.3, 0.3).return_subsidy(
            {"sub_mchid": "1", "out_order_no": "1", "transaction_id": "42", "refund_id": "r",
             "amount": 5, "description": "d"})
    assert outcome == Unknown("timeout")


def test_the_query_answers_the_creates_original_answer(simulator, channel, paid):
    adapter = HttpChannel(simulator.url, 0.5, 2)
    number = "1795328040587665533"
    created = adapter.create_subsidy({"sub_mchid": "1692608207", "transaction_id": paid["transaction_id"],
                                      "amount": 100, "description": "d", "out_subsidy_no": number})
    assert isinstance(created, Accepted)
    queried = adapter.query_subsidy("1692608207", number)
    assert isinstance(queried, Accepted) and queried.body["subsidy_id"] == created.body["subsidy_id"]
    missing = adapter.query_subsidy("1692608207", "1795328040587665534")
    assert isinstance(missing, Rejected) and missing.code == "RESOURCE_NOT_EXISTS"
