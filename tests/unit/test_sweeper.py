"""The sweeper: a pay whose credit never reached the queue is found and credited exactly once."""
from datetime import timedelta

import app as paysettle
from chalicelib import clock
from chalicelib.payments import accounts, aggregator, service, sweeper
from chalicelib.payments.messages import PayRequest
from tests.unit.support import FailingSend, body_of, pay_body


def test_a_pay_whose_send_failed_still_succeeds_and_the_sweeper_recovers_it(stack):
    broken = stack.context(sqs=FailingSend(stack.sqs))
    outcome = service.pay(broken, PayRequest(**pay_body(saler_id="swept", total_fee=120)))
    assert outcome.order.response_code == "SUCCESS" and not outcome.replayed
    assert broken.sqs.calls == ["send_message"]
    assert stack.queue_depth() == 0                            # the credit is stranded

    ctx = stack.context()
    assert aggregator.run(ctx).received == 0
    assert accounts.account_view(ctx, "swept") == {
        "saler_id": "swept", "balance": 0, "pending_credit_count": 1, "pending_credit_amount": 120}

    waiting = sweeper.run(ctx, grace_seconds=3600)             # still inside the grace period
    assert (waiting.examined, waiting.waiting, waiting.requeued, waiting.settled) == (1, 1, 0, 0)
    assert stack.queue_depth() == 0

    swept = sweeper.run(ctx, grace_seconds=0)
    assert (swept.examined, swept.requeued, swept.settled) == (1, 1, 0)
    assert stack.queue_depth() == 1

    report = aggregator.run(ctx)
    assert report.applied == 1 and report.applied_amount == 120
    assert accounts.account_view(ctx, "swept")["balance"] == 120

    settled = sweeper.run(ctx, grace_seconds=0)
    assert (settled.examined, settled.settled, settled.requeued) == (1, 1, 0)
    assert stack.queue_depth() == 0
    assert sweeper.run(ctx, grace_seconds=0).examined == 0     # no longer in the unsettled index
    assert accounts.account_view(ctx, "swept") == {
        "saler_id": "swept", "balance": 120, "pending_credit_count": 0, "pending_credit_amount": 0}
    assert accounts.journal(ctx, "swept", None, None)["entries"][0]["amount"] == 120


def test_the_grace_period_is_measured_from_the_order(stack):
    started = clock.utc_now()
    broken = stack.context(sqs=FailingSend(stack.sqs), now=lambda: started)
    service.pay(broken, PayRequest(**pay_body(saler_id="grace", total_fee=5)))

    def at(seconds):
        return stack.context(now=lambda: started + timedelta(seconds=seconds),
                             credit_grace_seconds=120)

    assert sweeper.run(at(119)).waiting == 1
    assert stack.queue_depth() == 0
    assert sweeper.run(at(120)).requeued == 1


def test_the_sweeper_racing_a_late_credit_still_credits_once(stack):
    broken = stack.context(sqs=FailingSend(stack.sqs))
    request = PayRequest(**pay_body(saler_id="race", total_fee=9))
    service.pay(broken, request)
    ctx = stack.context()
    sweeper.run(ctx, grace_seconds=0)
    sweeper.run(ctx, grace_seconds=0)                          # requeued twice
    service.pay(ctx, request)                                  # and the client replays the pay
    assert stack.queue_depth() == 3

    report = aggregator.run(ctx)
    assert report.applied == 1 and report.duplicates == 2
    assert accounts.account_view(ctx, "race")["balance"] == 9
    assert stack.queue_depth() == 0
    assert sweeper.run(ctx, grace_seconds=0).settled == 1


def test_a_pay_through_http_answers_success_when_the_send_fails(stack, api, monkeypatch):
    broken = stack.context(sqs=FailingSend(stack.sqs))
    monkeypatch.setattr(paysettle, "from_environment", lambda tenant=None: broken)
    request = pay_body(saler_id="httpswept", total_fee="77")
    response = api.post("/pay", request)
    assert response.status_code == 200
    assert body_of(response)["response_code"] == "SUCCESS"
    monkeypatch.undo()

    assert stack.queue_depth() == 0
    assert body_of(api.get("/accounts/httpswept"))["pending_credit_amount"] == 77
    ctx = stack.context()
    assert sweeper.run(ctx, grace_seconds=0).requeued == 1
    assert api.invoke("aggregator")["applied"] == 1
    assert body_of(api.get("/accounts/httpswept"))["balance"] == 77


def test_the_sweeper_schedule_waits_for_the_stage_grace_period(stack, api):
    ctx = stack.context(sqs=FailingSend(stack.sqs))
    service.pay(ctx, PayRequest(**pay_body(saler_id="sched2", total_fee=1)))
    report = api.invoke("sweeper")                             # stage `local`: 5 s of grace
    assert report["waiting"] == 1 and report["requeued"] == 0
