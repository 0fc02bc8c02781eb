"""32 concurrent sharing calls: one movement per outbound number, and the ratio holds under a race."""
from concurrent.futures import ThreadPoolExecutor

import requests

from .conftest import receiver, share_body, sharing_return_body

THREADS = 32


def _send_all(url: str, bodies: list) -> list:
    def send(body):
        with requests.Session() as session:
            answer = session.post(url, json=body, timeout=30)
            return answer.status_code, answer.json()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(send, bodies))


def test_32_identical_sharing_orders_move_once(client):
    transaction_id = client.order(amount=10000, processing_ms=60_000)  # stays PENDING throughout
    body = share_body(transaction_id, [receiver("A", 1000), receiver("B", 2000)])
    answers = _send_all(f"{client.url}/v3/profitsharing/orders", [body] * THREADS)
    assert all(answer == (200, answers[0][1]) for answer in answers)
    outcomes = [c["outcome"] for c in client.calls()]
    assert outcomes.count("APPLIED") == 1 and outcomes.count("REPLAYED") == THREADS - 1
    view = client.view(transaction_id)
    assert len(view["sharing"]) == 1 and view["sharing_pending_amount"] == 3000


def test_32_different_sharing_orders_never_pass_the_ratio(client):
    transaction_id = client.order(amount=10000, max_sharing_ratio=0.3, processing_ms=0)
    bodies = [share_body(transaction_id, [receiver(f"R{n}", 400)]) for n in range(THREADS)]
    answers = _send_all(f"{client.url}/v3/profitsharing/orders", bodies)
    statuses = [status for status, _ in answers]
    assert statuses.count(200) == 7 and statuses.count(400) == THREADS - 7  # 7 × 400 ≤ 3000 < 8 × 400
    assert client.view(transaction_id)["shared_amount"] == 2800


def test_32_returns_racing_for_one_receiver_never_return_more_than_it_got(client):
    transaction_id = client.order(processing_ms=0)
    order = share_body(transaction_id, [receiver("A", 1000)])
    client.share(order)
    bodies = [sharing_return_body(order["out_order_no"], "A", 300) for _ in range(THREADS)]
    answers = _send_all(f"{client.url}/v3/profitsharing/return-orders", bodies)
    assert [status for status, _ in answers].count(200) == 3
    assert client.view(transaction_id)["sharing_returned_amount"] == 900
