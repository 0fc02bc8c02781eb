"""POST /withdraw: debit under a balance condition, the insufficient-balance answer, idempotency."""
import pytest

from chalicelib.payments import aggregator, service
from chalicelib.payments.messages import PayRequest
from tests.unit.support import assert_reentry_refused, body_of, pay_body, withdraw_body

INSUFFICIENT = "账户余额不足，提款失败"
CONTRACT_FIELDS = {"response_time", "request_id", "response_id", "saler_id", "withdraw_money",
               "response_code", "response_msg", "request_time"}


def fund(stack, saler_id: str, amount: int) -> None:
    ctx = stack.context()
    service.pay(ctx, PayRequest(**pay_body(saler_id=saler_id, total_fee=amount)))
    aggregator.run(ctx)


def balance(api, saler_id: str) -> int:
    return body_of(api.get(f"/accounts/{saler_id}"))["balance"]


def journal(api, saler_id: str):
    return body_of(api.get(f"/accounts/{saler_id}/journal"))["entries"]


def test_withdraw_debits_and_answers_the_contract_fields(stack, api):
    fund(stack, "w1", 100)
    request = withdraw_body(saler_id="w1", withdraw_money="30", request_time="2019-08-29 17:16:21")
    response = api.post("/withdraw", request)

    assert response.status_code == 200
    answer = body_of(response)
    assert set(answer) == CONTRACT_FIELDS
    assert answer["response_code"] == "SUCCESS"
    assert answer["request_time"] == "2019-08-29 17:16:21"      # withdraw echoes request_time
    assert answer["request_id"] == request["request_id"]
    assert answer["withdraw_money"] == "30"
    assert answer["saler_id"] == "w1"
    assert len(answer["response_id"]) == 20 and answer["response_id"].isdigit()

    assert balance(api, "w1") == 70
    assert sorted(e["amount"] for e in journal(api, "w1")) == [-30, 100]
    assert body_of(api.get(f"/orders/withdraw/{request['request_id']}")) == answer


def test_withdraw_replay_debits_once(stack, api):
    fund(stack, "w2", 100)
    request = withdraw_body(saler_id="w2", withdraw_money=30)
    first = body_of(api.post("/withdraw", request))
    replay = api.post("/withdraw", dict(request, withdraw_money="30"))
    assert replay.status_code == 200
    assert body_of(replay) == first
    assert balance(api, "w2") == 70
    assert len(journal(api, "w2")) == 2


def test_withdraw_of_the_whole_balance_then_one_more_fen(stack, api):
    fund(stack, "w3", 100)
    assert body_of(api.post("/withdraw", withdraw_body(saler_id="w3", withdraw_money=100)))[
        "response_code"] == "SUCCESS"
    assert balance(api, "w3") == 0
    answer = body_of(api.post("/withdraw", withdraw_body(saler_id="w3", withdraw_money=1)))
    assert answer["response_code"] == "FAIL"
    assert answer["response_msg"] == INSUFFICIENT
    assert balance(api, "w3") == 0


def test_insufficient_balance_fails_is_recorded_and_replays_the_same_answer(stack, api):
    fund(stack, "w4", 100)
    ledger_before = stack.scan(stack.ledger_table)
    request = withdraw_body(saler_id="w4", withdraw_money="300")

    response = api.post("/withdraw", request)
    assert response.status_code == 200
    answer = body_of(response)
    assert answer["response_code"] == "FAIL"
    assert answer["response_msg"] == INSUFFICIENT
    assert answer["request_time"] == request["request_time"]
    assert len(answer["response_id"]) == 20

    shown = api.get(f"/orders/withdraw/{request['request_id']}")
    assert shown.status_code == 200 and body_of(shown) == answer
    assert stack.scan(stack.ledger_table) == ledger_before       # no debit, no journal entry

    replay = api.post("/withdraw", request)                      # still too little money
    assert replay.status_code == 200 and body_of(replay) == answer
    assert stack.scan(stack.ledger_table) == ledger_before

    # Money arrives afterwards: the replay still gets the original FAIL (same response_id).
    fund(stack, "w4", 1000)
    replay = api.post("/withdraw", request)
    assert replay.status_code == 200 and body_of(replay) == answer
    assert balance(api, "w4") == 1100


def test_withdraw_on_a_never_credited_saler_fails_with_the_same_message(stack, api):
    request = withdraw_body(saler_id="nobody", withdraw_money="1")
    answer = body_of(api.post("/withdraw", request))
    assert answer["response_code"] == "FAIL"
    assert answer["response_msg"] == INSUFFICIENT
    assert body_of(api.get(f"/orders/withdraw/{request['request_id']}")) == answer
    assert stack.scan(stack.ledger_table) == []                 # no account was created
    assert api.get("/accounts/nobody").status_code == 404


@pytest.mark.parametrize("change", [
    {"withdraw_money": "31"},
    {"saler_id": "other"},
    {"request_time": "2019-08-29 17:16:22"},
], ids=["amount", "saler", "request_time"])
@pytest.mark.parametrize("first_amount", [30, 3000], ids=["after_success", "after_fail"])
def test_withdraw_replay_with_other_parameters_is_refused(stack, api, change, first_amount):
    fund(stack, "w5", 100)
    request = withdraw_body(saler_id="w5", withdraw_money=first_amount)
    first = body_of(api.post("/withdraw", request))
    before = (stack.scan(stack.orders_table), stack.scan(stack.ledger_table))

    refused = api.post("/withdraw", dict(request, **change))

    assert_reentry_refused(refused, request["request_id"], next(iter(change)))
    assert (stack.scan(stack.orders_table), stack.scan(stack.ledger_table)) == before
    assert body_of(api.get(f"/orders/withdraw/{request['request_id']}")) == first


def test_balance_equals_the_journal_after_mixed_traffic(stack, api):
    fund(stack, "w6", 500)
    for amount in (100, 1000, 250, 150, 1, 60):
        api.post("/withdraw", withdraw_body(saler_id="w6", withdraw_money=amount))
    entries = journal(api, "w6")
    assert balance(api, "w6") == sum(e["amount"] for e in entries) == 0
    assert sorted(e["amount"] for e in entries) == [-250, -150, -100, 500]


def test_a_failed_journal_guard_is_never_read_as_insufficient_balance(stack):
    """The withdraw's transaction is sent condition check first, then puts, then the balance
    update (PynamoDB's order, not the order written): a reason read by position would take the
    journal guard's failure for the balance's. A journal entry already there (and a balance that
    covers the withdraw) must not be answered "insufficient balance", nor recorded at all."""
    from chalicelib.data.transactions import Cancelled
    from chalicelib.errors import ErrorCode, PaySettleError
    from chalicelib.payments.messages import WithdrawRequest
    from chalicelib.payments.models.ledger import JournalEntry
    from chalicelib.payments.orders import Kind

    fund(stack, "guarded", 500)
    request = WithdrawRequest(**withdraw_body(saler_id="guarded", withdraw_money=40))
    account, entry = JournalEntry.key("default", "guarded", Kind.WITHDRAW, request.request_id)
    JournalEntry(account, entry, posted="2019-08-29T09:16:21Z#" + entry, amount=-40,
                 request_id=request.request_id, tenant="default", saler_id="guarded",
                 response_time="2019-08-29 17:16:21").save()
    before = stack.footprint()
    with pytest.raises(Cancelled) as refused:
        service.withdraw(stack.context(), request)
    assert refused.value.failed_owners == [service.JOURNAL]
    assert stack.footprint() == before                   # no FAIL order, no debit
    with pytest.raises(PaySettleError) as missing:
        service.find_order(stack.context(), Kind.WITHDRAW, request.request_id)
    assert missing.value.code is ErrorCode.ORDER_NOT_FOUND


@pytest.mark.parametrize("amount", [1.5, 30.0, "30", True])
def test_an_amount_that_is_not_whole_fen_is_refused_before_any_write(stack, amount):
    from chalicelib.errors import InvalidField
    from chalicelib.payments.messages import WithdrawRequest

    fund(stack, "whole", 100)
    request = WithdrawRequest.model_construct(**withdraw_body(saler_id="whole", withdraw_money=amount))
    before = stack.footprint()
    with pytest.raises(InvalidField) as refused:
        service.withdraw(stack.context(), request)
    assert refused.value.field == "withdraw_money"
    assert stack.footprint() == before
