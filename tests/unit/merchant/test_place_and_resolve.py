"""The merchant places orders with the payment API over real HTTP, and resolves the lost ones.

The payment API is PaySettle's own app served on a loopback port; the merchant reaches it
through the payment link (`infra/payment_link.py`), whose faults lose the answer after
the payment side committed, or lose the request before it got there.
"""
import socket
import threading
from dataclasses import replace

import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from merchantlib import service
from merchantlib.messages import MerchantPayRequest, MerchantWithdrawRequest
from merchantlib.orders import State
from chalicelib.payments import aggregator, ledger
from tests.unit.merchant.support import (committed_order, later, merchant_context, merchant_items,
                                         payment_orders, stored, stored_item)
from tests.unit.support import TENANT

AFTER = {"timeout_after_commit": 1.0, "seed": 1}
BEFORE = {"timeout_before_commit": 1.0, "seed": 1}


def pay(saler="saler1", amount=100):
    return MerchantPayRequest(saler_id=saler, total_fee=amount)


def withdraw(saler="saler1", amount=30):
    return MerchantWithdrawRequest(saler_id=saler, withdraw_money=amount)


def balance(stack, saler):
    return ledger.account_state(TENANT, saler).balance


def settle(stack):
    aggregator.run(stack.context())


def test_a_pay_is_stored_init_then_sent_and_its_answer_stored(stack, merchant, link):
    order = service.place(merchant, pay(amount=250))

    assert order.state is State.SUCCESS
    assert order.attempts == 1
    [recorded] = payment_orders(stack, order.request_id)
    assert (recorded["response_id"], recorded["amount"], recorded["saler_id"]) == \
        (order.response_id, 250, "saler1")
    assert recorded["request_time"] == order.request_time
    assert order.response_time == recorded["response_time"]
    assert (order.response_code, order.response_msg) == ("SUCCESS", "OK")
    item = stored_item(stack, order.request_id)
    assert item["state"] == "SUCCESS"
    assert "unresolved_kind" not in item
    assert item["success_day"] == "PAY#" + order.response_time[:10].replace("-", "")
    assert link.plan.status()["counters"]["forwarded"] == 1


def test_request_ids_are_20_digits_from_the_china_time_of_the_request(stack, merchant):
    order = service.place(merchant, pay())
    assert len(order.request_id) == 20 and order.request_id.isdigit()
    assert order.request_id[:14] == order.request_time.replace("-", "").replace(" ", "").replace(":", "")


def test_a_withdraw_over_the_balance_is_fail_with_the_payment_systems_reason(stack, merchant):
    order = service.place(merchant, withdraw(saler="poor", amount=10))
    assert order.state is State.FAIL
    assert order.response_msg == "账户余额不足，提款失败"
    assert order.response_id == payment_orders(stack, order.request_id)[0]["response_id"]
    assert "unresolved_kind" not in stored_item(stack, order.request_id)
    assert "success_day" not in stored_item(stack, order.request_id)


def test_a_used_request_id_is_never_reused_a_new_one_is_drawn(stack, merchant):
    first = service.place(merchant, pay())
    draws = iter([first.request_id, first.request_id, "20190829171520000001"])
    ctx = replace(merchant, new_request_id=lambda moment: next(draws))
    second = service.place(ctx, pay(amount=7))
    assert second.request_id == "20190829171520000001"
    assert stored(stack, first.request_id).amount == 100


def test_a_merchant_that_cannot_draw_an_unused_id_answers_busy_and_sends_nothing(stack, merchant, link):
    first = service.place(merchant, pay())
    stuck = replace(merchant, new_request_id=lambda moment: first.request_id)
    with pytest.raises(PaySettleError) as busy:
        service.place(stuck, pay(amount=7))
    assert busy.value.code is ErrorCode.BUSY
    assert len(merchant_items(stack)) == 1
    assert link.plan.status()["counters"]["forwarded"] == 1


# -- timeout after the payment side committed ------------------------------------------

def test_timeout_after_commit_is_unknown_and_resolution_finds_the_original_answer(stack, merchant, link):
    link.plan.configure(AFTER)
    order = service.place(merchant, pay(amount=100))

    assert order.state is State.UNKNOWN          # never FAIL
    assert order.response_id is None
    assert order.attempts == 1
    item = stored_item(stack, order.request_id)
    assert item["unresolved_kind"] == "PAY" and "success_day" not in item
    committed = committed_order(stack, order.request_id)   # the payment side did record it

    link.plan.configure({"timeout_after_commit": 0.0})
    resolved = service.find(merchant, order.request_id)

    assert resolved.state is State.SUCCESS
    assert resolved.response_id == committed["response_id"]  # the ORIGINAL answer
    assert resolved.response_time == committed["response_time"]
    assert resolved.attempts == 2
    assert len(payment_orders(stack, order.request_id)) == 1
    item = stored_item(stack, order.request_id)
    assert "unresolved_kind" not in item and item["success_day"].startswith("PAY#")
    settle(stack)
    assert balance(stack, "saler1") == 100


def test_a_withdraw_lost_after_commit_debits_once(stack, merchant, link):
    service.place(merchant, pay(saler="w1", amount=100))
    settle(stack)
    link.plan.configure(AFTER)
    order = service.place(merchant, withdraw(saler="w1", amount=30))
    assert order.state is State.UNKNOWN
    committed_order(stack, order.request_id)
    assert balance(stack, "w1") == 70

    link.plan.reset()
    resolved = service.find(merchant, order.request_id)
    assert resolved.state is State.SUCCESS
    assert resolved.response_id == payment_orders(stack, order.request_id)[0]["response_id"]
    assert balance(stack, "w1") == 70


# -- timeout before the request reached the payment side ---------------------------------

def test_timeout_before_commit_is_unknown_and_resolution_records_it_once(stack, merchant, link):
    link.plan.configure(BEFORE)
    order = service.place(merchant, pay(amount=40))
    assert order.state is State.UNKNOWN
    assert payment_orders(stack, order.request_id) == []

    link.plan.reset()
    resolved = service.find(merchant, order.request_id)
    assert resolved.state is State.SUCCESS
    [recorded] = payment_orders(stack, order.request_id)
    assert recorded["response_id"] == resolved.response_id
    # The identical message: the time and amount the merchant stored first.
    assert (recorded["request_time"], recorded["amount"]) == (order.request_time, 40)

    again = service.find(merchant, order.request_id)  # final: no more sends
    assert again == resolved
    assert link.plan.status()["counters"]["forwarded"] == 1
    settle(stack)
    assert balance(stack, "saler1") == 40


def test_a_resend_lost_again_stays_unknown_and_counts_the_attempt(stack, merchant, link):
    link.plan.configure(BEFORE)
    order = service.place(merchant, pay())
    again = service.find(merchant, order.request_id)
    assert again.state is State.UNKNOWN
    assert again.attempts == 2
    assert stored_item(stack, order.request_id)["unresolved_kind"] == "PAY"
    assert payment_orders(stack) == []


def test_an_unreachable_payment_api_is_unknown(stack):
    with socket.socket() as probe:       # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = merchant_context(stack, f"http://127.0.0.1:{port}")
    order = service.place(ctx, pay())
    assert order.state is State.UNKNOWN
    assert stored_item(stack, order.request_id)["last_error"].startswith("connection")


# -- the sender died ---------------------------------------------------------------------

class Died(BaseException):
    """The process stopped here (not an Exception: nothing may catch it)."""


class DiesBeforeSending:
    def __init__(self, payment):
        self.timeout_seconds = payment.timeout_seconds

    def send(self, kind, message):
        raise Died()


class DiesAfterTheAnswer:
    """Sends, gets the answer, and dies before storing it."""

    def __init__(self, payment):
        self.payment = payment
        self.timeout_seconds = payment.timeout_seconds

    def send(self, kind, message):
        self.payment.send(kind, message)
        raise Died()


@pytest.mark.parametrize("death", [DiesBeforeSending, DiesAfterTheAnswer])
def test_an_init_order_stranded_by_a_crash_is_resolved_once_its_sender_must_be_gone(
        stack, merchant, death):
    dying = replace(merchant, payment=death(merchant.payment))
    with pytest.raises(Died):
        service.place(dying, pay(amount=55))
    [item] = merchant_items(stack)
    assert item["state"] == "INIT" and item["unresolved_kind"] == "PAY"
    committed = payment_orders(stack, item["request_id"])

    # Younger than the call timeout: the sender may still be waiting; nothing is sent.
    assert service.find(merchant, item["request_id"]).state is State.INIT
    assert payment_orders(stack, item["request_id"]) == committed

    resolved = service.find(later(merchant, merchant.stranded_after_seconds + 1), item["request_id"])
    assert resolved.state is State.SUCCESS
    [recorded] = payment_orders(stack, item["request_id"])
    assert recorded["response_id"] == resolved.response_id
    if committed:
        assert committed[0]["response_id"] == resolved.response_id


# -- late answers ------------------------------------------------------------------------

class LateAndLost:
    """Sends, then is held until released, then reports the answer lost (a sender that
    timed out long ago and only now records UNKNOWN)."""

    def __init__(self, payment):
        self.payment = payment
        self.timeout_seconds = payment.timeout_seconds
        self.sent = threading.Event()
        self.release = threading.Event()

    def send(self, kind, message):
        from merchantlib.payment_client import Lost
        self.payment.send(kind, message)
        self.sent.set()
        self.release.wait(10)
        return Lost("timeout")


def test_a_late_answer_never_overwrites_a_final_state(stack, merchant):
    slow = LateAndLost(merchant.payment)
    sender = replace(merchant, payment=slow)
    result = {}
    thread = threading.Thread(target=lambda: result.update(order=service.place(sender, pay(amount=9))))
    thread.start()
    assert slow.sent.wait(10)
    [item] = merchant_items(stack)
    resolved = service.find(later(merchant, merchant.stranded_after_seconds + 1), item["request_id"])   # a resolver got there first
    assert resolved.state is State.SUCCESS

    slow.release.set()
    thread.join(10)
    assert result["order"].state is State.SUCCESS     # the sender returns what is stored
    assert result["order"].response_id == resolved.response_id
    final = stored_item(stack, item["request_id"])
    assert final["state"] == "SUCCESS" and final["response_id"] == resolved.response_id
    assert "unresolved_kind" not in final and "last_error" not in final


# -- many readers of one UNKNOWN order -----------------------------------------------------

def test_many_concurrent_gets_of_one_unknown_order_give_one_final_state_and_one_payment_order(
        stack, merchant, link, linearizable_moto):
    link.plan.configure(BEFORE)
    order = service.place(merchant, pay(amount=70))
    link.plan.reset()
    start = threading.Barrier(16)
    answers = []

    def reader():
        start.wait(10)
        answers.append(service.find(merchant, order.request_id))

    threads = [threading.Thread(target=reader) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(answers) == 16
    [recorded] = payment_orders(stack, order.request_id)
    final = stored(stack, order.request_id)
    assert final.state is State.SUCCESS and final.response_id == recorded["response_id"]
    assert {a.response_id for a in answers if a.state is State.SUCCESS} == {recorded["response_id"]}
    assert all(a.state in (State.SUCCESS, State.UNKNOWN) for a in answers)
    settle(stack)
    assert balance(stack, "saler1") == 70


# -- lookups -------------------------------------------------------------------------------

def test_finding_an_absent_or_malformed_request_id_is_refused(stack, merchant):
    with pytest.raises(PaySettleError) as absent:
        service.find(merchant, "20190829171520999999")
    assert absent.value.code is ErrorCode.MERCHANT_ORDER_NOT_FOUND
    with pytest.raises(PaySettleError) as malformed:
        service.find(merchant, "12345")
    assert (malformed.value.code, malformed.value.field) == (ErrorCode.INVALID_FIELD, "request_id")


def test_a_409_keeps_the_order_unknown_and_is_logged_as_an_error(stack, merchant, link, payment_api,
                                                                 caplog):
    """The merchant never re-sends other parameters, so a 409 means someone else used its
    request id: the order stays UNKNOWN (never FAIL, never a new id) and an error is logged."""
    import requests

    from tests.support.signing import PLATFORM
    from tools.signing import SignedAuth
    link.plan.configure(BEFORE)
    order = service.place(merchant, pay(amount=12))
    link.plan.reset()
    intruder = dict(order.message(), total_fee="13")
    assert requests.post(f"{payment_api.url}/pay", json=intruder, timeout=5,
                         auth=SignedAuth(PLATFORM.key_id, PLATFORM.secret)).status_code == 200

    again = service.find(merchant, order.request_id)

    assert again.state is State.UNKNOWN and again.attempts == 2
    assert "HTTP 409" in stored_item(stack, order.request_id)["last_error"]
    errors = [r for r in caplog.records if r.getMessage() == "merchant.reentry_conflict"]
    assert [r.levelname for r in errors] == ["ERROR"]
