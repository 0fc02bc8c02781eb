"""The scheduled resolver: re-sends the identical message of old INIT and UNKNOWN orders."""
from merchantlib import resolver, service
from merchantlib.messages import MerchantPayRequest, MerchantWithdrawRequest
from merchantlib.orders import State
from tests.unit.merchant.support import committed_order, later, payment_orders, stored, stored_item

AFTER = {"timeout_after_commit": 1.0, "seed": 3}
BEFORE = {"timeout_before_commit": 1.0, "seed": 3}


def lost_orders(merchant, link, fault, count, kind=MerchantPayRequest):
    link.plan.configure(fault)
    if kind is MerchantPayRequest:
        orders = [service.place(merchant, kind(saler_id="r1", total_fee=10 + i)) for i in range(count)]
    else:
        orders = [service.place(merchant, kind(saler_id="r1", withdraw_money=10 + i)) for i in range(count)]
    link.plan.reset()
    assert all(order.state is State.UNKNOWN for order in orders)
    return orders


def test_orders_younger_than_the_wait_are_left_alone(stack, merchant, link):
    [order] = lost_orders(merchant, link, BEFORE, 1)
    report = resolver.run(merchant)                 # resolve_after_seconds = 60
    assert report.examined == 0
    assert stored(stack, order.request_id).state is State.UNKNOWN
    assert payment_orders(stack) == []


def test_the_job_resolves_both_fault_kinds_and_both_order_kinds(stack, merchant, link):
    committed = lost_orders(merchant, link, AFTER, 2)
    never_sent = lost_orders(merchant, link, BEFORE, 2)
    withdraws = lost_orders(merchant, link, BEFORE, 1, kind=MerchantWithdrawRequest)
    original = {o.request_id: committed_order(stack, o.request_id)["response_id"] for o in committed}

    report = resolver.run(later(merchant, 120))

    assert report.as_dict() == {"examined": 5, "succeeded": 4, "failed": 1, "still_unknown": 0,
                                "already_final": 0, "stopped": "done"}
    for order in committed:
        assert stored(stack, order.request_id).response_id == original[order.request_id]
    for order in committed + never_sent:
        [recorded] = payment_orders(stack, order.request_id)
        resolved = stored(stack, order.request_id)
        assert resolved.state is State.SUCCESS and resolved.response_id == recorded["response_id"]
        assert "unresolved_kind" not in stored_item(stack, order.request_id)
    [withdraw] = withdraws       # r1 had no credited balance yet: the payment system said FAIL
    assert stored(stack, withdraw.request_id).response_msg == "账户余额不足，提款失败"
    assert resolver.run(later(merchant, 120)).examined == 0    # nothing left in the index


def test_each_run_does_bounded_work(stack, merchant, link):
    lost_orders(merchant, link, BEFORE, 3)
    bounded = later(merchant, 120)
    bounded.resolver_max_orders = 2
    first = resolver.run(bounded)
    assert (first.examined, first.succeeded, first.stopped) == (2, 2, "max_orders")
    second = resolver.run(bounded)
    assert (second.examined, second.succeeded, second.stopped) == (1, 1, "done")


def test_a_run_starts_no_send_that_could_outlast_its_time_budget(stack, merchant, link):
    lost_orders(merchant, link, BEFORE, 2)
    bounded = later(merchant, 120)
    bounded.resolver_budget_seconds = merchant.payment.timeout_seconds * 1.5
    # The run's start, then each check: after one call's timeout, another could outlast the budget.
    clock = iter([0.0, 0.0, merchant.payment.timeout_seconds])
    bounded.monotonic = lambda: next(clock)
    report = resolver.run(bounded)
    assert (report.examined, report.stopped) == (1, "time_budget")


def test_orders_still_lost_stay_unknown_for_the_next_run(stack, merchant, link):
    [order] = lost_orders(merchant, link, BEFORE, 1)
    link.plan.configure(BEFORE)
    report = resolver.run(later(merchant, 120))
    assert (report.examined, report.still_unknown) == (1, 1)
    assert stored_item(stack, order.request_id)["unresolved_kind"] == "PAY"
    assert stored(stack, order.request_id).attempts == 2


def test_the_schedule_runs_the_resolver_through_the_app(stack, api, merchant, link, monkeypatch):
    """`merchant_resolver` as EventBridge invokes it, with the local stage's settings (it waits
    MERCHANT_RESOLVE_AFTER_SECONDS = 300: the orders were lost ten minutes ago)."""
    monkeypatch.setenv("PAYMENT_API_URL", link.url)
    ten_minutes_ago = later(merchant, -600)
    committed = lost_orders(ten_minutes_ago, link, AFTER, 1)
    never_sent = lost_orders(ten_minutes_ago, link, BEFORE, 1)
    recent = lost_orders(merchant, link, BEFORE, 1)

    report = api.invoke("merchant_resolver")

    assert (report["examined"], report["succeeded"]) == (2, 2)
    for order in committed + never_sent:
        [recorded] = payment_orders(stack, order.request_id)
        assert stored(stack, order.request_id).response_id == recorded["response_id"]
    assert stored(stack, recent[0].request_id).state is State.UNKNOWN
