"""Fixtures of the channel simulator's tests: a book with a clock, a running simulator."""
import itertools
from datetime import datetime, timedelta, timezone

import pytest
import requests

from infra.channel import ChannelBook, ChannelSimulator


class Clock:
    """A clock that moves only when told (so "the original time" is checkable)."""

    def __init__(self):
        self.moment = datetime(2026, 1, 15, 1, 59, 34, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float = 1) -> None:
        self.moment += timedelta(seconds=seconds)


_numbers = itertools.count(1)


def order_body(**overrides) -> dict:
    number = next(_numbers)
    body = {"payment_order_id": f"13262164749095{number:05d}", "biz_order_id": f"biz-{number}",
            "mch_id": "1800007135", "sub_mchid": "1692608207", "amount": 10000,
            "subsidy_limit": 3000}
    body.update(overrides)
    return body


def create_body(transaction_id: str, **overrides) -> dict:
    body = {"sub_mchid": "1692608207", "transaction_id": transaction_id, "amount": 2332,
            "description": "补差描述1", "out_subsidy_no": f"13262164749095{next(_numbers):05d}"}
    body.update(overrides)
    return body


def return_body(transaction_id: str, **overrides) -> dict:
    number = next(_numbers)
    body = {"sub_mchid": "1692608207", "out_order_no": f"out-{number}",
            "transaction_id": transaction_id, "refund_id": f"refund-{number}", "amount": 1000,
            "description": "补差回退"}
    body.update(overrides)
    return body


def receiver(account: str, amount: int = 1000, type_: str = "MERCHANT_ID") -> dict:
    return {"type": type_, "account": account, "amount": amount, "description": "分给商户"}


def share_body(transaction_id: str, receivers=None, **overrides) -> dict:
    """A profit-sharing order (`POST /v3/profitsharing/orders`) with a fresh out_order_no."""
    body = {"sub_mchid": "1692608207", "transaction_id": transaction_id,
            "out_order_no": f"P{next(_numbers):018d}",
            "receivers": receivers if receivers is not None else [receiver("1900000109")],
            "unfreeze_unsplit": False}
    body.update(overrides)
    return body


def unfreeze_body(transaction_id: str, **overrides) -> dict:
    body = {"sub_mchid": "1692608207", "transaction_id": transaction_id,
            "out_order_no": f"U{next(_numbers):018d}", "description": "解冻全部剩余资金"}
    body.update(overrides)
    return body


def sharing_return_body(out_order_no: str, return_mchid: str = "1900000109", amount: int = 100,
                        **overrides) -> dict:
    body = {"sub_mchid": "1692608207", "out_order_no": out_order_no,
            "out_return_no": f"R{next(_numbers):018d}", "return_mchid": return_mchid,
            "amount": amount, "description": "用户退款"}
    body.update(overrides)
    return body


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def book(clock):
    return ChannelBook(now=clock)


@pytest.fixture
def simulator():
    with ChannelSimulator() as running:
        yield running


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


class Client:
    """Plain HTTP calls to a running simulator."""

    def __init__(self, url: str, session: requests.Session):
        self.url = url
        self.http = session

    def order(self, **overrides) -> str:
        answer = self.http.post(f"{self.url}/_control/orders", json=order_body(**overrides), timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()["transaction_id"]

    def post(self, path: str, body, timeout: float = 5) -> requests.Response:
        return self.http.post(f"{self.url}{path}", json=body, timeout=timeout)

    def create(self, body, timeout: float = 5) -> requests.Response:
        return self.post("/v3/ecommerce/subsidies/create", body, timeout)

    def return_(self, body, timeout: float = 5) -> requests.Response:
        return self.post("/v3/ecommerce/subsidies/return", body, timeout)

    def cancel(self, body, timeout: float = 5) -> requests.Response:
        return self.post("/v3/ecommerce/subsidies/cancel", body, timeout)

    def share(self, body, timeout: float = 5) -> requests.Response:
        return self.post("/v3/profitsharing/orders", body, timeout)

    def query_sharing(self, body: dict, timeout: float = 5) -> requests.Response:
        return self.http.get(f"{self.url}/v3/profitsharing/orders/{body['out_order_no']}",
                             params={"sub_mchid": body["sub_mchid"],
                                     "transaction_id": body["transaction_id"]}, timeout=timeout)

    def unfreeze(self, body, timeout: float = 5) -> requests.Response:
        return self.post("/v3/profitsharing/orders/unfreeze", body, timeout)

    def return_sharing(self, body, timeout: float = 5) -> requests.Response:
        return self.post("/v3/profitsharing/return-orders", body, timeout)

    def query_return(self, body: dict, timeout: float = 5) -> requests.Response:
        return self.http.get(f"{self.url}/v3/profitsharing/return-orders/{body['out_return_no']}",
                             params={"sub_mchid": body["sub_mchid"],
                                     "out_order_no": body["out_order_no"]}, timeout=timeout)

    def control(self, name: str, body) -> dict:
        answer = self.post(f"/_control/{name}", body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def fault(self, operation: str, fault: str, count: int = 1, delay_ms: int = None) -> dict:
        body = {"operation": operation, "fault": fault, "count": count}
        if delay_ms is not None:
            body["delay_ms"] = delay_ms
        answer = self.post("/_control/faults", body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def calls(self) -> list:
        return self.http.get(f"{self.url}/_control/calls", timeout=5).json()["calls"]

    def view(self, transaction_id: str) -> dict:
        return self.http.get(f"{self.url}/_control/orders/{transaction_id}", timeout=5).json()


@pytest.fixture
def client(simulator, http):
    return Client(simulator.url, http)
