"""Rule 5 under real contention: AWS's DynamoDB Local (transactions and conditional writes as
DynamoDB does them), the real simulator, 32 threads re-sending the same create and the same
return. The channel's call log shows one success each, and every answer agrees. Two tenants
using the very same ids from 32 interleaved threads each get their own subsidy and returns,
bounded by their own subsidy, never refused because of the other."""
import uuid
from collections import Counter

import pytest

from chalicelib.data import binding
from chalicelib.errors import ErrorCode
from chalicelib.subsidies import service, transactions
from chalicelib.subsidies.answers import SubsidyError
from chalicelib.subsidies.messages import TransactionNotification
from infra.channel import ChannelSimulator
from infra.provision import Provisioned, _create_table, load_template
# DynamoDB Local for the session: the fixtures of tests/dynamodb_local.
from tests.dynamodb_local.conftest import dynamodb, dynamodb_local_endpoint  # noqa: F401
from tests.subsidies.conftest import return_request, subsidy_request
from tests.subsidies.support import (MCH_ID, OTHER_SUB_MCHID, SUB_MCHID, Channel, Clock, context,
                                     next_id, return_body)
from tests.support.concurrency import THREADS, run_concurrently
from tests.support.signing import TENANT_A, TENANT_B

pytestmark = pytest.mark.dynamodb_local
RETRYABLE = (ErrorCode.REENTRY_IN_PROGRESS, ErrorCode.OUTCOME_UNKNOWN, ErrorCode.BUSY)


@pytest.fixture
def local_table(dynamodb):  # noqa: F811
    name = f"s{uuid.uuid4().hex[:10]}-SubsidiesTable"
    properties = load_template()["Resources"]["SubsidiesTable"]["Properties"]
    _create_table(dynamodb, name, properties, Provisioned(), "SubsidiesTable")
    yield name
    dynamodb.delete_table(TableName=name)


@pytest.fixture
def world(dynamodb, local_table, dynamodb_local_endpoint):  # noqa: F811
    # The models reach the per-test table on DynamoDB Local.
    with binding.override({"SUBSIDIES_TABLE": local_table}, host=dynamodb_local_endpoint), \
            ChannelSimulator() as simulator:
        ctx = context(simulator.url, Clock(), wait_seconds=2)
        yield ctx, Channel(simulator.url)


def paid_order(ctx, channel, payment_order_id=None, sub_mchid=SUB_MCHID) -> str:
    """A paid order of `ctx`'s tenant, on the channel and notified (filed under the tenant)."""
    payment_order_id = payment_order_id or next_id("13262164")
    answer = channel.order(payment_order_id, tenant=ctx.tenant, sub_mchid=sub_mchid)
    transactions.record(ctx, TransactionNotification(
        attach=ctx.tenant, payment_order_id=payment_order_id, biz_order_id="1774303629096779780_1",
        mch_id=MCH_ID, sub_mchid=sub_mchid, transaction_id=answer["transaction_id"],
        openid=answer["openid"], amount=10000, success_time="2026-11-22T14:00:00+08:00"))
    return payment_order_id, answer["transaction_id"]


def until_final(call):
    """What a business line does: re-send the same request while told to retry."""
    def run(request):
        for _ in range(50):
            try:
                return call(request)
            except SubsidyError as error:
                if error.code not in RETRYABLE:
                    return error.code
        raise AssertionError("never final")
    return run


@pytest.mark.parametrize("first_fault", [None, "timeout_after_commit"])
def test_32_threads_resending_one_create_and_one_return_make_one_success_each(world, first_fault):
    ctx, channel = world
    payment_order_id, transaction_id = paid_order(ctx, channel)
    request = subsidy_request(payment_order_id)
    if first_fault:
        channel.fault("subsidies.create", first_fault, delay_ms=900)
    answers = run_concurrently(until_final(lambda r: service.create(ctx, r)), [request] * THREADS)
    assert all(a == answers[0] for a in answers), Counter(map(str, answers))
    number = answers[0]["paymentSubsidiesId"]
    creates = channel.calls(number)
    assert [c["outcome"] for c in creates].count("APPLIED") == 1
    assert {c["operation"] for c in channel.calls()} == {"subsidies.create"}
    assert {c["outbound_no"] for c in channel.calls()} == {number}
    if not first_fault:
        assert len(creates) == 1                       # the others waited for the one call

    back = return_request(return_body(answers[0], amount=2000))
    if first_fault:
        channel.fault("subsidies.return", first_fault, delay_ms=900)
    returned = run_concurrently(until_final(lambda r: service.return_subsidy(ctx, r)), [back] * THREADS)
    assert all(a == returned[0] for a in returned)
    out_no = returned[0]["paymentReturnSubsidiesId"]
    assert [c["outcome"] for c in channel.calls(out_no)].count("APPLIED") == 1
    view = service.view(ctx, request.bizSubsidiesId)
    assert (view["returned_amount"], view["returning_amount"], view["returnable_amount"]) == (2000, 0, 332)
    assert channel.view(transaction_id)["returned_amount"] == 2000


def test_32_different_returns_racing_for_one_subsidy_never_exceed_it(world):
    ctx, channel = world
    payment_order_id, transaction_id = paid_order(ctx, channel)
    created = service.create(ctx, subsidy_request(payment_order_id))          # 2332
    requests = [return_request(return_body(created, amount=100)) for _ in range(THREADS)]
    outcomes = run_concurrently(until_final(lambda r: service.return_subsidy(ctx, r)), requests)
    succeeded = [o for o in outcomes if isinstance(o, dict)]
    assert len(succeeded) == 23
    assert Counter(o for o in outcomes if not isinstance(o, dict)) == {ErrorCode.RETURN_EXCEEDS_SUBSIDY: 9}
    view = service.view(ctx, created["bizSubsidiesId"])
    assert (view["returned_amount"], view["returning_amount"], view["returnable_amount"]) == (2300, 0, 32)
    assert channel.view(transaction_id)["returned_amount"] == 2300
    assert len(view["returns"]) == 23


def test_two_tenants_with_identical_ids_from_32_threads_each_move_their_own_money(world):
    """Tenants A and B use the same paymentOrderId, bizSubsidiesId, paymentRefundIds and
    bizReturnSubsidiesIds (their orders are two orders of two sub-merchants at the channel).
    Each tenant's 16 threads re-send its create, then race 16 different returns: each tenant
    has one subsidy and its own returns, bounded by its own subsidy, none refused because
    of the other; the outbound numbers never collide at the channel."""
    ctx, channel = world
    a, b = ctx.for_tenant(TENANT_A.merchant_id), ctx.for_tenant(TENANT_B.merchant_id)
    payment_order_id, biz_subsidies_id = next_id("13262164"), next_id()
    _, transaction_a = paid_order(a, channel, payment_order_id, SUB_MCHID)
    _, transaction_b = paid_order(b, channel, payment_order_id, OTHER_SUB_MCHID)
    request_a = subsidy_request(payment_order_id, biz_subsidies_id=biz_subsidies_id, amount=2332)
    request_b = subsidy_request(payment_order_id, biz_subsidies_id=biz_subsidies_id, amount=1000,
                                subMchId=OTHER_SUB_MCHID)
    jobs = [(a, request_a), (b, request_b)] * (THREADS // 2)
    answers = run_concurrently(until_final(lambda job: service.create(*job)), jobs)
    mine = {name: [x for (c, _), x in zip(jobs, answers) if c is tenant] for name, tenant in (("a", a), ("b", b))}
    for name, tenant_answers in mine.items():
        assert all(x == tenant_answers[0] for x in tenant_answers), Counter(map(str, tenant_answers))
        assert isinstance(tenant_answers[0], dict), tenant_answers[0]
    created_a, created_b = mine["a"][0], mine["b"][0]
    assert (created_a["amount"], created_b["amount"]) == (2332, 1000)
    assert created_a["paymentSubsidiesId"] != created_b["paymentSubsidiesId"]
    for created in (created_a, created_b):
        assert channel.applied(created["paymentSubsidiesId"]) == 1

    # The same 16 (paymentRefundId, bizReturnSubsidiesId) pairs for both tenants, 200 fen each.
    ids = [(next_id("13262164"), next_id()) for _ in range(THREADS // 2)]
    returns = []
    for refund_id, biz_return_id in ids:
        returns.append((a, return_request(return_body(created_a, amount=200, payment_refund_id=refund_id,
                                                      biz_return_subsidies_id=biz_return_id))))
        returns.append((b, return_request(return_body(created_b, amount=200, payment_refund_id=refund_id,
                                                      biz_return_subsidies_id=biz_return_id,
                                                      subMchId=OTHER_SUB_MCHID))))
    outcomes = run_concurrently(until_final(lambda job: service.return_subsidy(*job)), returns)
    for tenant, subsidy, transaction, accepted in ((a, created_a, transaction_a, 11), (b, created_b, transaction_b, 5)):
        theirs = [o for (c, _), o in zip(returns, outcomes) if c is tenant]
        assert sum(isinstance(o, dict) for o in theirs) == accepted, Counter(map(str, theirs))
        assert {o for o in theirs if not isinstance(o, dict)} == {ErrorCode.RETURN_EXCEEDS_SUBSIDY}
        view = service.view(tenant, biz_subsidies_id)
        assert (view["total_amount"], view["returned_amount"], view["returning_amount"],
                view["returnable_amount"]) == (subsidy["amount"], 200 * accepted, 0,
                                               subsidy["amount"] - 200 * accepted)
        assert len(view["returns"]) == accepted
        assert channel.view(transaction)["returned_amount"] == 200 * accepted
