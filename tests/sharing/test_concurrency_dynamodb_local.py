"""Duplicates and concurrency on AWS's DynamoDB Local (conditional writes and transactions as
DynamoDB does them, nothing serialized), the real simulator, 32 threads: re-sent sharing and
re-sent refunds move money once; different refunds racing for one sharing never take the same
fen twice and add up to the whole; a delayed sharing racing a refund is either cancelled (never
sent) or sent and then returned — never both, never neither. Two tenants using the same
paymentOrderId (tradeId) and refundIds from 32 interleaved threads each share and return their
own money, bounded by their own holdings."""
import time
import uuid
from collections import Counter

import pytest

from chalicelib.data import binding
from chalicelib.errors import ErrorCode
from chalicelib.sharing import orders, refunds, scheduler
from chalicelib.sharing.common import SharingError
from chalicelib.sharing.messages import RefundNotification, SharingRequest
from chalicelib.subsidies import transactions
from chalicelib.subsidies.messages import TransactionNotification
from infra.channel import ChannelSimulator
from infra.provision import Provisioned, _create_table, load_template
# DynamoDB Local for the session: the fixtures of tests/dynamodb_local.
from tests.dynamodb_local.conftest import dynamodb, dynamodb_local_endpoint  # noqa: F401
from tests.sharing.support import (MCH_ID, SUB_MCHID, Clock, SharingChannel, context, next_id,
                                   refund_notice, sharing_body)
from tests.subsidies.support import OTHER_SUB_MCHID
from tests.support.concurrency import THREADS, run_concurrently
from tests.support.signing import TENANT_A, TENANT_B

pytestmark = pytest.mark.dynamodb_local
RETRYABLE = (ErrorCode.REENTRY_IN_PROGRESS, ErrorCode.OUTCOME_UNKNOWN, ErrorCode.BUSY,
             ErrorCode.SHARING_IN_PROGRESS)


def _table(dynamodb, logical_id):  # noqa: F811
    name = f"s{uuid.uuid4().hex[:10]}-{logical_id}"
    properties = load_template()["Resources"][logical_id]["Properties"]
    _create_table(dynamodb, name, properties, Provisioned(), logical_id)
    return name


@pytest.fixture
def world(dynamodb, dynamodb_local_endpoint):  # noqa: F811
    sharing_table, txn_table = _table(dynamodb, "SharingTable"), _table(dynamodb, "SubsidiesTable")
    # The models reach the per-test tables on DynamoDB Local.
    with binding.override({"SHARING_TABLE": sharing_table, "SUBSIDIES_TABLE": txn_table},
                          host=dynamodb_local_endpoint), \
            ChannelSimulator() as simulator:         # no center: results are followed by queries
        clock = Clock()
        ctx = context(txn_table, simulator.url, clock, wait_seconds=2)
        yield ctx, SharingChannel(simulator.url), clock
    dynamodb.delete_table(TableName=sharing_table)
    dynamodb.delete_table(TableName=txn_table)


def _paid(ctx, channel, amount=10000, ratio=0.3, order=None, sub_mchid=SUB_MCHID):
    """A paid order of `ctx`'s tenant, on the channel and notified (filed under the tenant)."""
    order = order or next_id("13587585")
    answer = channel.paid(order, amount=amount, max_sharing_ratio=ratio, sub_mchid=sub_mchid,
                          tenant=ctx.tenant)
    transactions.record(ctx,
                        TransactionNotification(
                            attach=ctx.tenant, payment_order_id=order, biz_order_id="1835109860518134549_1",
                            mch_id=MCH_ID, sub_mchid=sub_mchid, transaction_id=answer["transaction_id"],
                            openid=answer["openid"], amount=amount,
                            success_time="2026-11-22T14:00:00+08:00"))
    return order, answer["transaction_id"]


def until_final(ctx, call):
    """What a business line (or the queue) does: send the same request again while told to
    retry; the scheduler runs meanwhile, as it would every minute."""
    def run(request):
        for _ in range(100):
            try:
                return call(request)
            except SharingError as error:
                if error.code not in RETRYABLE:
                    return error.code
                scheduler.run(ctx)
                time.sleep(0.02)
        raise AssertionError("never final")
    return run


def _settle(ctx, order):
    for _ in range(100):
        scheduler.run(ctx)
        if orders.view(ctx, order)["state"] == "FINISHED":
            return
        time.sleep(0.05)
    raise AssertionError(orders.view(ctx, order))


@pytest.mark.parametrize("first_fault", [None, "timeout_after_commit"])
def test_32_threads_resending_one_sharing_and_one_refund_move_money_once(world, first_fault):
    ctx, channel, _ = world
    order, transaction_id = _paid(ctx, channel)
    request = SharingRequest.model_validate(sharing_body(order, [("1900000109", 1000), ("1900000110", 700)]))
    if first_fault:
        channel.fault("profitsharing.orders", first_fault, delay_ms=900)
    answers = run_concurrently(until_final(ctx, lambda r: orders.share(ctx, r)), [request] * THREADS)
    numbers = {a["sharingOrderId"] for a in answers}
    assert len(numbers) == 1, Counter(map(str, answers))
    assert [c["outcome"] for c in channel.calls_of("profitsharing.orders")].count("APPLIED") == 1
    _settle(ctx, order)

    notice = RefundNotification.model_validate(refund_notice(order, 5000, 10000))
    if first_fault:
        channel.fault("profitsharing.return-orders", first_fault, delay_ms=900)
    outcomes = run_concurrently(until_final(ctx, lambda n: refunds.handle(ctx, n)), [notice] * THREADS)
    assert all(isinstance(o, dict) for o in outcomes), Counter(map(str, outcomes))
    final = refunds.view(ctx, notice.refundId)
    assert final["state"] == 1 and final["actualBaseReturnAmount"] == 850
    calls = channel.calls_of("profitsharing.return-orders")
    assert [c["outcome"] for c in calls].count("APPLIED") == 2
    assert {c["outbound_no"] for c in calls} == {r["sharingReturnNo"] for r in final["returns"]}
    assert channel.view(transaction_id)["sharing_returned_amount"] == 850


def test_32_partial_refunds_racing_add_up_to_the_whole_and_never_exceed_holdings(world):
    ctx, channel, _ = world
    order, transaction_id = _paid(ctx, channel, amount=9600)
    receivers = [("1900000109", 1001), ("1900000110", 997), ("1900000111", 882)]     # 2880 = 30 %
    orders.share(ctx, SharingRequest.model_validate(sharing_body(order, receivers)))
    _settle(ctx, order)
    notices = [RefundNotification.model_validate(refund_notice(order, 300, 9600)) for _ in range(THREADS)]
    outcomes = run_concurrently(until_final(ctx, lambda n: refunds.handle(ctx, n)), notices)
    assert all(isinstance(o, dict) for o in outcomes), Counter(map(str, outcomes))
    for _ in range(20):
        scheduler.run(ctx)
    returned = Counter()
    for notice in notices:
        view = refunds.view(ctx, notice.refundId)
        assert view["state"] == 1, view
        for row in view["returns"]:
            returned[row["returnMchId"]] += row["amount"]
    assert dict(returned) == dict(receivers)                     # everything, to the fen
    sharing = orders.view(ctx, order)
    assert sharing["holdings"] == {a: 0 for a, _ in receivers} and sharing["refundedAmount"] == 9600
    assert channel.view(transaction_id)["sharing_returned_amount"] == 2880


@pytest.mark.parametrize("refund_amount", [10000, 4000])
def test_a_delayed_sharing_racing_a_refund_is_cancelled_or_returned_never_both(world, refund_amount):
    ctx, channel, clock = world
    seen = Counter()
    for _ in range(6):
        order, transaction_id = _paid(ctx, channel)
        plan = int(clock().timestamp()) + 60
        orders.share(ctx, SharingRequest.model_validate(
            sharing_body(order, [("1900000109", 1000), ("1900000110", 500)], sharingMode=2, planSharingTime=plan)))
        clock.advance(61)                                      # due: the scheduler may send it now
        notice = RefundNotification.model_validate(refund_notice(order, refund_amount, 10000))
        results = run_concurrently(
            lambda job: job(), [lambda: scheduler.run(ctx),
                                lambda: until_final(ctx, lambda n: refunds.handle(ctx, n))(notice)], threads=2)
        answer = results[1]
        assert isinstance(answer, dict), results
        for _ in range(40):
            scheduler.run(ctx)
            if refunds.view(ctx, notice.refundId)["state"] != 0:
                break
            time.sleep(0.05)
        relation = refunds.view(ctx, notice.refundId)
        sharing = orders.view(ctx, order)
        money = channel.view(transaction_id)
        expected_cut = 1500 * refund_amount // 10000
        if relation["planReduced"]:                            # the refund came first: plan reduced
            seen["reduced"] += 1
            assert relation["state"] == 3 and relation["returns"] == []
            assert sum(relation["planReduced"].values()) == expected_cut
            if refund_amount == 10000:
                assert sharing["state"] == "CANCELLED"
                assert money["shared_amount"] == 0             # never sent
                assert all(c["outbound_no"] != sharing["sharingOrderId"]
                           for c in channel.calls_of("profitsharing.orders"))
            else:
                _settle(ctx, order)
                assert channel.view(transaction_id)["shared_amount"] == 1500 - expected_cut
        else:                                                  # the scheduler came first: returned
            seen["returned"] += 1
            assert relation["state"] == 1, relation
            assert relation["actualBaseReturnAmount"] == expected_cut
            assert money["shared_amount"] == 1500 and money["sharing_returned_amount"] == expected_cut
    assert sum(seen.values()) == 6


def test_two_tenants_with_identical_trade_and_refund_ids_from_32_threads_return_their_own(world):
    """Tenants A and B pay, share and refund the same paymentOrderId with the same refundIds
    (two orders of two sub-merchants at the channel). 16 threads per tenant re-send its
    sharing, then race 16 partial refunds adding up to the order: each tenant has one
    sharing number applied once, and gets back exactly what its own receivers got."""
    ctx, channel, _ = world
    a, b = ctx.for_tenant(TENANT_A.merchant_id), ctx.for_tenant(TENANT_B.merchant_id)
    order = next_id("13587585")
    _, transaction_a = _paid(a, channel, order=order, sub_mchid=SUB_MCHID)
    _, transaction_b = _paid(b, channel, order=order, sub_mchid=OTHER_SUB_MCHID)
    receivers = {a.tenant: [("1900000109", 1000), ("1900000110", 700)], b.tenant: [("1900000109", 2000)]}
    requests = {name: SharingRequest.model_validate(sharing_body(order, r)) for name, r in receivers.items()}
    jobs = [(a, requests[a.tenant]), (b, requests[b.tenant])] * (THREADS // 2)
    answers = run_concurrently(until_final(ctx, lambda job: orders.share(*job)), jobs)
    numbers = {}
    for tenant in (a, b):
        theirs = [x for (c, _), x in zip(jobs, answers) if c is tenant]
        assert all(isinstance(x, dict) for x in theirs), Counter(map(str, theirs))
        assert len({x["sharingOrderId"] for x in theirs}) == 1
        numbers[tenant.tenant] = theirs[0]["sharingOrderId"]
    assert numbers[a.tenant] != numbers[b.tenant]
    applied = Counter(c["outbound_no"] for c in channel.calls_of("profitsharing.orders") if c["outcome"] == "APPLIED")
    assert applied == {numbers[a.tenant]: 1, numbers[b.tenant]: 1}
    for tenant in (a, b):
        _settle(tenant, order)

    refund_ids = [next_id("13588488") for _ in range(THREADS // 2)]       # 16 x 625 = the whole 10000
    notices = []
    for refund_id in refund_ids:
        notices.append((a, RefundNotification.model_validate(refund_notice(order, 625, 10000, refund_id=refund_id))))
        notices.append((b, RefundNotification.model_validate(refund_notice(order, 625, 10000, refund_id=refund_id,
                                                                           subMchId=OTHER_SUB_MCHID))))
    outcomes = run_concurrently(until_final(ctx, lambda job: refunds.handle(*job)), notices)
    assert all(isinstance(o, dict) for o in outcomes), Counter(map(str, outcomes))
    for _ in range(20):
        scheduler.run(ctx)
    for tenant, transaction_id in ((a, transaction_a), (b, transaction_b)):
        returned = Counter()
        for refund_id in refund_ids:
            view = refunds.view(tenant, refund_id)
            assert view["state"] == 1, view
            for row in view["returns"]:
                returned[row["returnMchId"]] += row["amount"]
        mine = receivers[tenant.tenant]
        assert dict(returned) == dict(mine)                        # its own receivers, to the fen
        sharing = orders.view(tenant, order)
        assert sharing["sharingOrderId"] == numbers[tenant.tenant] and sharing["refundedAmount"] == 10000
        assert sharing["holdings"] == {account: 0 for account, _ in mine}
        assert channel.view(transaction_id)["sharing_returned_amount"] == sum(x for _, x in mine)
