"""Rule 5 under real contention: AWS's DynamoDB Local (transactions and conditional writes as
DynamoDB does them), the real simulator, 32 threads re-sending the same create and the same
return. The channel's call log shows one success each, and every answer agrees."""
import uuid
from collections import Counter

import pytest

from chalicelib.errors import ErrorCode
from chalicelib.subsidies import service, transactions
from chalicelib.subsidies.answers import SubsidyError
from chalicelib.subsidies.messages import TransactionNotification
from infra.channel import ChannelSimulator
from infra.provision import Provisioned, _create_table, load_template
# DynamoDB Local for the session: the fixtures of tests/dynamodb_local.
from tests.dynamodb_local.conftest import dynamodb, dynamodb_local_endpoint  # noqa: F401
from tests.subsidies.conftest import return_request, subsidy_request
from tests.subsidies.support import MCH_ID, SUB_MCHID, Channel, Clock, context, next_id, return_body
from tests.support.concurrency import THREADS, run_concurrently

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
def world(dynamodb, local_table):  # noqa: F811
    with ChannelSimulator() as simulator:
        ctx = context(dynamodb, local_table, simulator.url, Clock(), wait_seconds=2)
        yield ctx, Channel(simulator.url)


def paid_order(ctx, channel) -> str:
    payment_order_id = next_id("13262164")
    answer = channel.order(payment_order_id)
    transactions.record(ctx, TransactionNotification(
        payment_order_id=payment_order_id, biz_order_id="1774303629096779780_1", mch_id=MCH_ID,
        sub_mchid=SUB_MCHID, transaction_id=answer["transaction_id"], openid=answer["openid"],
        amount=10000, success_time="2026-11-22T14:00:00+08:00"))
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
