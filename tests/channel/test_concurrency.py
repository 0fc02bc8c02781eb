"""32 concurrent identical calls: exactly one is applied, every answer is the same."""
from concurrent.futures import ThreadPoolExecutor

import requests

from .conftest import create_body, return_body

THREADS = 32


def _send_all(url: str, body: dict) -> list:
    def send(_):
        with requests.Session() as session:
            answer = session.post(url, json=body, timeout=30)
            return answer.status_code, answer.json()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(send, range(THREADS)))


def test_32_identical_creates_apply_once(client):
    transaction_id = client.order()
    body = create_body(transaction_id)
    answers = _send_all(f"{client.url}/v3/ecommerce/subsidies/create", body)
    assert {status for status, _ in answers} == {200}
    assert all(answer == answers[0][1] for _, answer in answers)
    outcomes = [c["outcome"] for c in client.calls()]
    assert outcomes.count("APPLIED") == 1 and outcomes.count("REPLAYED") == THREADS - 1


def test_32_identical_returns_apply_once(client):
    transaction_id = client.order()
    client.create(create_body(transaction_id, amount=2000))
    body = return_body(transaction_id, amount=700)
    answers = _send_all(f"{client.url}/v3/ecommerce/subsidies/return", body)
    assert all(answer == (200, answers[0][1]) for answer in answers)
    returns = [c for c in client.calls() if c["operation"] == "subsidies.return"]
    assert [c["outcome"] for c in returns].count("APPLIED") == 1
    assert client.view(transaction_id)["returned_amount"] == 700


def test_32_different_creates_for_one_transaction_give_one_subsidy(client):
    transaction_id = client.order(subsidy_limit=3000)
    url = f"{client.url}/v3/ecommerce/subsidies/create"

    def send(number):
        body = create_body(transaction_id, amount=100 + number, out_subsidy_no=f"race-{number}")
        with requests.Session() as session:
            return session.post(url, json=body, timeout=30).status_code

    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(send, range(THREADS)))
    assert statuses.count(200) == 1 and statuses.count(400) == THREADS - 1
    assert [c["outcome"] for c in client.calls()].count("APPLIED") == 1
