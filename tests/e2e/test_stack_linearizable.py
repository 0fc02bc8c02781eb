"""The stack's DynamoDB is linearizable: concurrent withdraws through the API never overdraw."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from .support import new_saler

pytestmark = pytest.mark.e2e

THREADS = 16
ATTEMPTS = 48
FUNDS = 200
EACH = 10


def test_concurrent_withdraws_never_overdraw(stack):
    saler = new_saler()
    assert stack.pay(saler, FUNDS).json()["response_code"] == "SUCCESS"
    stack.wait_for_balance(saler, FUNDS)
    sessions = [stack.session("mch-demo") for _ in range(THREADS)]

    def withdraw(n):
        answer = stack.withdraw_with(sessions[n % THREADS], saler, EACH)
        assert answer.status_code == 200, answer.text
        return answer.json()["response_code"]

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(withdraw, range(ATTEMPTS)))

    assert outcomes.count("SUCCESS") == FUNDS // EACH
    assert outcomes.count("FAIL") == ATTEMPTS - FUNDS // EACH
    stack.wait_for_balance(saler, 0)
    assert sum(e["amount"] for e in stack.journal(saler)) == 0
