"""POST /pay: the order, the answer, idempotency on request_id, unique response ids."""
import itertools
from datetime import datetime, timezone

import pytest

from chalicelib import clock, fields
from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.payments import aggregator, service
from chalicelib.payments.messages import PayRequest, WithdrawRequest
from tests.unit.support import assert_reentry_refused, body_of, pay_body, withdraw_body

CONTRACT_FIELDS = {"response_time", "request_id", "response_id", "saler_id", "total_fee",
               "response_code", "response_msg"}


def order_records(stack):
    """Order items of the orders table (not the response-id guards)."""
    return [item for item in stack.scan(stack.orders_table) if "kind" in item]


def journal_items(stack):
    return [item for item in stack.scan(stack.ledger_table) if item["entry"]["S"] != "ACCOUNT"]


def test_pay_answers_the_contract_fields_and_records_the_order(stack, api):
    request = pay_body(saler_id="saler2", total_fee="100")
    before = datetime.now(clock.CHINA).replace(microsecond=0, tzinfo=None)
    response = api.post("/pay", request)
    after = datetime.now(clock.CHINA).replace(tzinfo=None)

    assert response.status_code == 200
    answer = body_of(response)
    assert set(answer) == CONTRACT_FIELDS
    assert "reponse_code" not in answer          # the table's spelling, not the contract example's
    assert answer["response_code"] == "SUCCESS"
    assert answer["response_msg"]
    assert answer["request_id"] == request["request_id"]
    assert answer["saler_id"] == "saler2"
    assert answer["total_fee"] == "100"

    response_id = answer["response_id"]
    assert len(response_id) == 20 and response_id.isascii() and response_id.isdigit()
    assert fields.request_id(response_id) == response_id     # first 14: a real timestamp
    stamped = datetime.strptime(response_id[:14], "%Y%m%d%H%M%S")
    assert before <= stamped <= after
    assert datetime.strptime(answer["response_time"], "%Y-%m-%d %H:%M:%S") == stamped

    shown = api.get(f"/orders/pay/{request['request_id']}")
    assert shown.status_code == 200
    assert body_of(shown) == answer


def test_pay_does_not_touch_the_balance_until_the_aggregator_runs(stack, api):
    api.post("/pay", pay_body(saler_id="saler3", total_fee="250"))
    api.post("/pay", pay_body(saler_id="saler3", total_fee=50))

    assert journal_items(stack) == []
    view = api.get("/accounts/saler3")
    assert view.status_code == 200
    assert body_of(view) == {"saler_id": "saler3", "balance": 0,
                             "pending_credit_count": 2, "pending_credit_amount": 300}

    report = api.invoke("aggregator")
    assert report["applied"] == 2 and report["applied_amount"] == 300
    assert body_of(api.get("/accounts/saler3")) == {
        "saler_id": "saler3", "balance": 300, "pending_credit_count": 0, "pending_credit_amount": 0}


def test_pay_replay_with_same_parameters_returns_the_original_answer(stack, api):
    request = pay_body(saler_id="saler4", total_fee="100")
    first = body_of(api.post("/pay", request))
    # Same parameters, the amount written as a JSON integer this time: the same request.
    replay = api.post("/pay", dict(request, total_fee=100))
    assert replay.status_code == 200
    assert body_of(replay) == first

    assert len(order_records(stack)) == 1
    assert body_of(api.get("/accounts/saler4"))["balance"] == 0

    api.invoke("aggregator")
    again = api.post("/pay", request)            # a replay after the credit was applied
    assert body_of(again) == first
    api.invoke("aggregator")
    api.invoke("aggregator")

    assert body_of(api.get("/accounts/saler4"))["balance"] == 100
    journal = body_of(api.get("/accounts/saler4/journal"))["entries"]
    assert [(e["request_id"], e["amount"]) for e in journal] == [(request["request_id"], 100)]
    assert stack.queue_depth() == 0


@pytest.mark.parametrize("change", [
    {"total_fee": "101"},
    {"saler_id": "someone_else"},
    {"request_time": "2019-08-29 17:15:21"},
    {"total_fee": "101", "saler_id": "someone_else"},
], ids=["amount", "saler", "request_time", "amount_and_saler"])
def test_pay_replay_with_other_parameters_is_refused_and_changes_nothing(stack, api, change):
    request = pay_body(saler_id="saler5", total_fee="100")
    first = body_of(api.post("/pay", request))
    api.invoke("aggregator")
    orders_before, ledger_before = stack.scan(stack.orders_table), stack.scan(stack.ledger_table)

    refused = api.post("/pay", dict(request, **change))

    named = ", ".join(name for name in ("request_time", "saler_id", "total_fee") if name in change)
    assert_reentry_refused(refused, request["request_id"], named)
    assert stack.scan(stack.orders_table) == orders_before
    assert stack.scan(stack.ledger_table) == ledger_before
    assert stack.queue_depth() == 0
    assert body_of(api.get(f"/orders/pay/{request['request_id']}")) == first


def test_pay_makes_at_most_two_aws_requests(stack):
    from tests.support.faults import FaultPlan, FaultyClient
    from tests.support.model_faults import faults_on_models

    # One plan counts the calls of the SQS client and of the models' clients, in order (the
    # context holds no DynamoDB client: every DynamoDB call is a model's).
    plan = FaultPlan()
    ctx = stack.context(sqs=FaultyClient(stack.sqs, plan))
    with faults_on_models(plan):
        service.pay(ctx, PayRequest(**pay_body(total_fee=7)))
    assert plan.calls == ["dynamodb.TransactWriteItems", "sqs.SendMessage"]


def test_unknown_orders_are_404(stack, api):
    for kind in ("pay", "withdraw"):
        response = api.get(f"/orders/{kind}/20190829171520000000")
        assert response.status_code == 404
        assert body_of(response)["response_code"] == "FAIL"
        assert body_of(response)["field"] == "request_id"


# --- response_id collisions ---------------------------------------------------------------

def _ids_then(*ids):
    pending = list(ids)

    def next_id(moment):
        return pending.pop(0) if pending else clock.new_response_id(moment)
    return next_id, pending


def _fresh_id(*avoid):
    while True:
        candidate = clock.new_response_id(clock.utc_now())
        if candidate not in avoid:
            return candidate


@pytest.mark.parametrize("second", ["pay", "withdraw_success", "withdraw_insufficient"])
def test_response_id_collision_is_detected_and_a_fresh_id_used(stack, second):
    ctx = stack.context()
    first = service.pay(ctx, PayRequest(**pay_body(saler_id="collide", total_fee=100))).order
    aggregator.run(ctx)
    used = first.response_id
    fresh = _fresh_id(used)
    next_id, pending = _ids_then(used, fresh)
    colliding = stack.context(new_response_id=next_id)

    if second == "pay":
        outcome = service.pay(colliding, PayRequest(**pay_body(saler_id="collide", total_fee=5)))
    else:
        amount = 10 if second == "withdraw_success" else 10_000
        outcome = service.withdraw(colliding, WithdrawRequest(
            **withdraw_body(saler_id="collide", withdraw_money=amount)))

    assert pending == []                        # the used id was offered first, then the fresh one
    assert outcome.order.response_id == fresh
    assert outcome.order.response_code == ("FAIL" if second == "withdraw_insufficient" else "SUCCESS")
    stored = service.find_order(ctx, outcome.order.kind, outcome.order.request_id)
    assert stored.response_id == fresh

    response_ids = [item["response_id"]["S"] for item in order_records(stack)]
    assert len(response_ids) == 2
    assert len(set(response_ids)) == len(response_ids)
    # The first order is untouched by the collision.
    assert service.find_order(ctx, first.kind, first.request_id) == first


def test_response_ids_always_colliding_ends_busy_and_writes_nothing_new(stack):
    ctx = stack.context()
    used = service.pay(ctx, PayRequest(**pay_body(total_fee=1))).order.response_id
    before = stack.footprint()
    stuck = stack.context(new_response_id=lambda moment: used)
    with pytest.raises(PaySettleError) as refused:
        service.pay(stuck, PayRequest(**pay_body(total_fee=2)))
    assert refused.value.code is ErrorCode.BUSY
    assert stack.footprint() == before


def test_many_pays_get_distinct_response_ids(stack):
    ctx = stack.context()
    ids = {service.pay(ctx, PayRequest(**pay_body(saler_id=f"s{i % 7}", total_fee=i + 1)))
           .order.response_id for i in range(60)}
    assert len(ids) == 60


def test_response_id_and_time_are_china_time(stack):
    moment = datetime(2019, 8, 29, 9, 15, 20, tzinfo=timezone.utc)   # 17:15:20 in Beijing
    ctx = stack.context(now=lambda: moment)
    order = service.pay(ctx, PayRequest(**pay_body(total_fee=3))).order
    assert order.response_id.startswith("20190829171520")
    assert order.response_time == "2019-08-29 17:15:20"


def test_a_tiny_response_id_space_is_used_up_without_a_duplicate(stack):
    """Ids handed out from a pool of 5, round and round: 5 pays get the 5 ids, each once."""
    pool = [f"20190829171520{n:06d}" for n in range(5)]
    cycle = itertools.cycle(pool)
    ctx = stack.context(new_response_id=lambda moment: next(cycle))
    ids = [service.pay(ctx, PayRequest(**pay_body(total_fee=n + 1))).order.response_id
           for n in range(5)]
    assert sorted(ids) == pool
    with pytest.raises(PaySettleError) as refused:           # the sixth finds no free id
        service.pay(ctx, PayRequest(**pay_body(total_fee=6)))
    assert refused.value.code is ErrorCode.BUSY
    assert len(order_records(stack)) == 5
