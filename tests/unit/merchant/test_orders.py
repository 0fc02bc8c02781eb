"""The merchant order's state machine and the naming of payment API answers (pure, no I/O)."""
from datetime import datetime, timedelta, timezone

import pytest

from merchantlib.orders import Answer, IllegalTransition, MerchantOrder, State
from merchantlib.payment_client import Conflict, Lost, Recorded, Refused, classify
from chalicelib.payments.orders import Kind

MOMENT = datetime(2019, 8, 29, 9, 15, 20, tzinfo=timezone.utc)   # 17:15:20 in China
SUCCESS = Answer("SUCCESS", "OK", "2019-08-29 17:15:25", "20190829171525654321")
FAIL = Answer("FAIL", "账户余额不足，提款失败", "2019-08-29 17:15:25", "20190829171525654322")


def new(kind=Kind.PAY):
    return MerchantOrder.new(kind, "20190829171520123456", "saler2", 100, MOMENT)


def test_a_new_order_is_init_with_the_contract_message():
    order = new()
    assert (order.state, order.attempts, order.request_time) == (State.INIT, 0, "2019-08-29 17:15:20")
    assert order.message() == {"request_time": "2019-08-29 17:15:20", "request_id": "20190829171520123456",
                               "saler_id": "saler2", "total_fee": "100"}
    assert new(Kind.WITHDRAW).message() == {"request_time": "2019-08-29 17:15:20",
                                            "request_id": "20190829171520123456",
                                            "withdraw_money": "100", "saler_id": "saler2"}
    assert order.unresolved_kind == "PAY" and order.success_day is None


@pytest.mark.parametrize("start", ["INIT", "UNKNOWN"])
def test_unresolved_orders_move_to_any_outcome(start):
    order = new() if start == "INIT" else new().lost("timeout", MOMENT)
    assert order.answered(SUCCESS, MOMENT).state is State.SUCCESS
    assert order.answered(FAIL, MOMENT).state is State.FAIL
    assert order.lost("timeout", MOMENT).state is State.UNKNOWN


@pytest.mark.parametrize("answer", [SUCCESS, FAIL])
def test_final_states_never_change(answer):
    final = new().answered(answer, MOMENT)
    for move in (lambda o: o.answered(SUCCESS, MOMENT), lambda o: o.answered(FAIL, MOMENT),
                 lambda o: o.lost("late", MOMENT)):
        with pytest.raises(IllegalTransition):
            move(final)


def test_the_message_is_identical_on_every_resend():
    order = new()
    lost = order.lost("timeout", MOMENT + timedelta(seconds=9)).lost("timeout", MOMENT + timedelta(minutes=5))
    assert lost.message() == order.message()
    assert lost.attempts == 2


def test_index_keys_follow_the_state():
    unknown = new(Kind.WITHDRAW).lost("timeout", MOMENT)
    assert (unknown.unresolved_kind, unknown.success_day) == ("WITHDRAW", None)
    succeeded = unknown.answered(SUCCESS, MOMENT)
    assert (succeeded.unresolved_kind, succeeded.success_day) == (None, "WITHDRAW#20190829")
    failed = unknown.answered(FAIL, MOMENT)
    assert (failed.unresolved_kind, failed.success_day) == (None, None)
    record = succeeded.to_record()
    assert record["success_day"] == "WITHDRAW#20190829" and record["unresolved_kind"] is None
    assert MerchantOrder.from_record({k: v for k, v in record.items() if v is not None}) == succeeded


def test_an_init_order_needs_resolution_only_once_its_sender_must_be_gone():
    order = new()
    assert not order.needs_resolution(MOMENT + timedelta(seconds=2), stranded_after_seconds=3)
    assert order.needs_resolution(MOMENT + timedelta(seconds=3), stranded_after_seconds=3)
    assert order.lost("timeout", MOMENT).needs_resolution(MOMENT, stranded_after_seconds=3)
    assert not order.answered(SUCCESS, MOMENT).needs_resolution(MOMENT + timedelta(days=1), 3)


RID = "20190829171520123456"


def answer(**fields):
    import json
    body = {"response_time": "2019-08-29 17:15:25", "request_id": RID,
            "response_id": "20190829171525654321", "saler_id": "saler2", "total_fee": "100",
            "response_code": "SUCCESS", "response_msg": "OK"}
    body.update(fields)
    return json.dumps({k: v for k, v in body.items() if v is not None}).encode()


@pytest.mark.parametrize("status,body,expected", [
    (200, answer(), Recorded),
    (200, answer(response_code="FAIL", response_msg="账户余额不足，提款失败"), Recorded),
    (400, b'{"response_code": "FAIL", "response_msg": "total_fee: must be greater than zero"}', Refused),
    (400, b"not json", Refused),
    (409, b'{"response_msg": "request_id: was already used"}', Conflict),
    (503, b'{"error_code": 5031}', Lost),
    (500, b"", Lost),
    (502, b"bad gateway", Lost),
    (404, b"{}", Lost),
    (200, b"<html>", Lost),
    (200, answer(request_id="20190829171520999999"), Lost),     # someone else's answer
    (200, answer(response_code="PROCESSING"), Lost),
    (200, answer(response_id=None), Lost),
    (200, b"[]", Lost),
], ids=lambda v: str(v)[:30])
def test_every_http_answer_is_named(status, body, expected):
    assert isinstance(classify(status, body, RID), expected)


def test_a_refusal_records_fail_with_the_reason_and_no_response_id():
    refused = classify(400, b'{"response_code": "FAIL", "response_msg": "saler_id: bad", '
                            b'"response_time": "2019-08-29 17:15:25"}', RID)
    order = new().answered(refused.answer, MOMENT)
    assert (order.state, order.response_msg, order.response_id) == (State.FAIL, "saler_id: bad", None)
