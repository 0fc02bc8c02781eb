"""Retrying a merchant trigger with an idempotency key places one order, whatever happened to the
first request: answered, lost, still in flight, or sent by many callers at once.

The payment API is PaySettle's own app over real HTTP, behind the fault-injecting payment link.
"""
import threading

import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from merchantlib import service
from merchantlib.messages import MerchantPayRequest, MerchantWithdrawRequest
from merchantlib.orders import MerchantOrder, State
from merchantlib.repository import key_guard
from tests.unit.merchant.support import (committed_order, later, merchant_items, payment_orders,
                                         stored)

KEY = "3f0c5b8e-8d44-4c1e-9a55-1d6c0f2a7b10"
AFTER = {"timeout_after_commit": 1.0, "seed": 1}
BEFORE = {"timeout_before_commit": 1.0, "seed": 1}


def pay(saler="saler1", amount=100):
    return MerchantPayRequest(saler_id=saler, total_fee=amount)


def orders(stack):
    return [item for item in merchant_items(stack) if "kind" in item]


def guards(stack):
    return [item for item in merchant_items(stack) if "order_request_id" in item]


def test_the_same_key_and_request_again_answers_the_first_order_and_sends_nothing(stack, merchant, link):
    first = service.place(merchant, pay(), KEY)
    again = service.place(merchant, pay(), KEY)

    assert first.state is State.SUCCESS and first.idempotency_key == KEY
    assert again == first
    assert [o["request_id"] for o in orders(stack)] == [first.request_id]
    assert guards(stack) == [{"request_id": key_guard(KEY), "order_request_id": first.request_id,
                              "created_at": first.created_at}]
    assert len(payment_orders(stack)) == 1
    assert link.plan.status()["counters"]["forwarded"] == 1


def test_without_a_key_every_request_places_a_new_order(stack, merchant, link):
    first = service.place(merchant, pay())
    second = service.place(merchant, pay())

    assert first.request_id != second.request_id
    assert len(orders(stack)) == 2 and guards(stack) == []
    assert len(payment_orders(stack)) == 2


@pytest.mark.parametrize("other, different", [
    (pay(amount=101), "total_fee"), (pay(saler="saler2"), "saler_id"),
    (MerchantWithdrawRequest(saler_id="saler1", withdraw_money=100), "kind")],
    ids=["amount", "saler", "kind"])
def test_the_key_of_another_request_is_refused_and_places_nothing(stack, merchant, link, other,
                                                                 different):
    first = service.place(merchant, pay(), KEY)

    with pytest.raises(PaySettleError) as refused:
        service.place(merchant, other, KEY)

    assert (refused.value.code.number, refused.value.code.http_status) == (1030, 409)
    assert refused.value.code is ErrorCode.REENTRY_MISMATCH
    assert refused.value.field == "Idempotency-Key"
    assert refused.value.message == (f"请求重入参数校验失败: Idempotency-Key {KEY} was already used "
                                     f"with other parameters: {different}")
    assert [o["request_id"] for o in orders(stack)] == [first.request_id]
    assert link.plan.status()["counters"]["forwarded"] == 1


def test_a_retry_after_a_lost_answer_resolves_the_first_order(stack, merchant, link):
    link.plan.configure(AFTER)
    lost = service.place(merchant, pay(amount=70), KEY)
    assert lost.state is State.UNKNOWN
    committed = committed_order(stack, lost.request_id)
    link.plan.reset()

    retried = service.place(merchant, pay(amount=70), KEY)

    assert retried.request_id == lost.request_id
    assert (retried.state, retried.response_id, retried.attempts) == \
        (State.SUCCESS, committed["response_id"], 2)
    assert len(payment_orders(stack)) == 1
    assert len(orders(stack)) == 1


def test_a_retry_after_a_request_that_never_arrived_records_it_once(stack, merchant, link):
    link.plan.configure(BEFORE)
    lost = service.place(merchant, pay(amount=40), KEY)
    assert lost.state is State.UNKNOWN and payment_orders(stack) == []
    link.plan.reset()

    retried = service.place(merchant, pay(amount=40), KEY)

    assert (retried.request_id, retried.state) == (lost.request_id, State.SUCCESS)
    [recorded] = payment_orders(stack)
    assert recorded["request_id"] == lost.request_id


def _placed_but_not_sent(merchant, request, key) -> MerchantOrder:
    """What a placement leaves while its sender waits for the payment API (or after it died)."""
    moment = merchant.now()
    order = MerchantOrder.new(request.kind, merchant.new_request_id(moment), request.saler_id,
                              request.amount, moment, idempotency_key=key)
    merchant.orders.insert_keyed(order, key)
    return order


def test_a_retry_while_the_first_is_still_being_sent_is_in_progress_then_resolves(stack, merchant, link):
    waiting = _placed_but_not_sent(merchant, pay(amount=55), KEY)

    with pytest.raises(PaySettleError) as busy:
        service.place(merchant, pay(amount=55), KEY)
    assert busy.value.code is ErrorCode.REENTRY_IN_PROGRESS
    assert busy.value.field == "Idempotency-Key"
    assert link.plan.status()["counters"]["forwarded"] == 0
    assert stored(stack, waiting.request_id).state is State.INIT

    # Its sender died: once the call timeout has surely passed, the retry sends the stored message.
    resolved = service.place(later(merchant, merchant.stranded_after_seconds + 1), pay(amount=55), KEY)

    assert (resolved.request_id, resolved.state, resolved.attempts) == (waiting.request_id, State.SUCCESS, 1)
    assert resolved.request_time == waiting.request_time
    assert len(payment_orders(stack)) == 1


def test_many_concurrent_requests_with_one_key_place_one_order(stack, merchant, link, linearizable_moto):
    threads_count = 16
    start = threading.Barrier(threads_count)
    answers, refusals = [], []

    def caller():
        start.wait(10)
        try:
            answers.append(service.place(merchant, pay(amount=90), KEY))
        except PaySettleError as error:
            refusals.append(error.code)

    threads = [threading.Thread(target=caller) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    [order] = orders(stack)
    [recorded] = payment_orders(stack)
    assert len(answers) + len(refusals) == threads_count
    assert set(refusals) <= {ErrorCode.REENTRY_IN_PROGRESS}
    assert {a.request_id for a in answers} == {order["request_id"]} == {recorded["request_id"]}
    assert {a.state for a in answers} == {State.SUCCESS}
    assert link.plan.status()["counters"]["forwarded"] == 1
