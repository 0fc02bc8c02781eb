"""GET /accounts/{saler_id} and its journal: balance, pending credits, pagination, bad parameters."""
import base64
import json
from urllib.parse import quote

import pytest

from chalicelib.payments import aggregator, service
from chalicelib.payments.messages import PayRequest, WithdrawRequest
from tests.unit.support import aws_stack, body_of, pay_body, withdraw_body


def cursor_of(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def fund(ctx):
    """Saler `acct` with 5 credits and 2 withdraws (7 journal entries), and saler `other`."""
    for amount in (100, 200, 300, 400, 500):
        service.pay(ctx, PayRequest(**pay_body(saler_id="acct", total_fee=amount)))
    service.pay(ctx, PayRequest(**pay_body(saler_id="other", total_fee=1)))
    service.pay(ctx, PayRequest(**pay_body(saler_id="other", total_fee=2)))
    aggregator.run(ctx)
    service.withdraw(ctx, WithdrawRequest(**withdraw_body(saler_id="acct", withdraw_money=50)))
    service.withdraw(ctx, WithdrawRequest(**withdraw_body(saler_id="acct", withdraw_money=25)))
    service.withdraw(ctx, WithdrawRequest(**withdraw_body(saler_id="acct", withdraw_money=10**6)))
    return ctx


@pytest.fixture
def funded(stack):
    return fund(stack.context())


@pytest.fixture(scope="module")
def journal_stack():
    """One funded stack for the read-only journal tests (they only read)."""
    with aws_stack("journal") as created:
        fund(created.context())
        yield created


def test_unknown_account_is_404(stack, api):
    response = api.get("/accounts/stranger")
    assert response.status_code == 404
    answer = body_of(response)
    assert answer["response_code"] == "FAIL"
    assert answer["error_code"] == 4042
    assert answer["field"] == "saler_id"


def test_balance_and_pending_credits(stack, api, funded):
    service.pay(funded, PayRequest(**pay_body(saler_id="acct", total_fee=7)))
    assert body_of(api.get("/accounts/acct")) == {
        "saler_id": "acct", "balance": 1425, "pending_credit_count": 1, "pending_credit_amount": 7}
    aggregator.run(funded)
    assert body_of(api.get("/accounts/acct"))["balance"] == 1432


def walk(api, saler_id, limit):
    entries, cursor, pages = [], None, 0
    while True:
        path = f"/accounts/{saler_id}/journal?limit={limit}"
        if cursor:
            path += f"&cursor={quote(cursor)}"
        response = api.get(path)
        assert response.status_code == 200, response.body
        page = body_of(response)
        assert len(page["entries"]) <= limit
        entries += page["entries"]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            return entries, pages
        assert pages < 50


@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_journal_pagination_walks_every_entry_exactly_once(journal_stack, api, limit):
    everything = body_of(api.get("/accounts/acct/journal"))
    assert everything["next_cursor"] is None
    assert len(everything["entries"]) == 7

    entries, pages = walk(api, "acct", limit)

    keys = [e["entry"] for e in entries]
    assert len(keys) == len(set(keys)) == 7
    assert entries == everything["entries"]
    assert [e["posted_at"] for e in entries] == sorted(e["posted_at"] for e in entries)
    assert sum(e["amount"] for e in entries) == body_of(api.get("/accounts/acct"))["balance"]
    assert sorted(e["amount"] for e in entries) == [-50, -25, 100, 200, 300, 400, 500]
    if limit == 1:
        assert pages >= 7


@pytest.mark.parametrize("limit", ["0", "101", "abc", "1e2", "-1", "+1", " 1", "1.0", "", "１",
                                   "99999999999999999999", "%00"])
def test_bad_limit_is_400_naming_limit(journal_stack, api, limit):
    response = api.get(f"/accounts/acct/journal?limit={quote(limit, safe='%')}")
    assert response.status_code == 400
    answer = body_of(response)
    assert answer["response_code"] == "FAIL"
    assert answer["field"] == "limit"
    assert "limit" in answer["response_msg"]


def _bad_cursors():
    yield "abc"
    yield "!!!!"
    yield "é"
    yield cursor_of([])
    yield cursor_of("x")
    yield cursor_of({"account": "default#acct"})
    yield cursor_of({"account": "default#acct", "entry": 1, "posted": "x"})
    yield cursor_of({"account": "default#acct", "entry": "x", "posted": "y", "extra": "z"})
    yield base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode()


@pytest.mark.parametrize("cursor", list(_bad_cursors()))
def test_bad_cursor_is_400_naming_cursor(journal_stack, api, cursor):
    response = api.get(f"/accounts/acct/journal?limit=1&cursor={quote(cursor, safe='%')}")
    assert response.status_code == 400, response.body
    answer = body_of(response)
    assert answer["field"] == "cursor"
    assert "cursor" in answer["response_msg"]


def test_a_query_that_is_not_utf8_cannot_be_verified(journal_stack, api):
    """API Gateway hands the query over decoded, so the center rebuilds it to check the
    signature; bytes that are not UTF-8 do not survive that: refused 401, never a 500."""
    response = api.get("/accounts/acct/journal?limit=1&cursor=%FF%FE")
    assert response.status_code == 401
    assert body_of(response)["error_code"] == 4012


def test_a_cursor_of_another_account_is_refused(journal_stack, api):
    foreign = body_of(api.get("/accounts/other/journal?limit=1"))["next_cursor"]
    assert foreign
    response = api.get(f"/accounts/acct/journal?limit=1&cursor={quote(foreign)}")
    assert response.status_code == 400
    assert body_of(response)["field"] == "cursor"


@pytest.mark.parametrize("entry, posted", [("", ""), ("x" * 2000, "y" * 2000), ("", "p")])
def test_a_forged_cursor_of_this_account_is_refused(journal_stack, api, entry, posted):
    """Key values DynamoDB cannot take as a start key (empty, > 1 KB) are the caller's error."""
    forged = cursor_of({"account": "default#acct", "entry": entry, "posted": posted})
    response = api.get(f"/accounts/acct/journal?cursor={forged}")
    assert response.status_code == 400
    assert body_of(response)["field"] == "cursor"
