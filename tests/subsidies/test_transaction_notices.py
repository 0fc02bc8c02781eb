"""A paid order's channel notice is filed in ONE DynamoDB request, whether it is new, the same
notice again (replayed) or another transaction for a known order (conflict): the refused put
returns the notice already filed. Counted on the model's own client (moto in-process)."""
import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.subsidies import transactions
from chalicelib.subsidies.messages import TransactionNotification
from chalicelib.subsidies.models import ChannelTransaction
from tests.subsidies.support import MCH_ID, SUB_MCHID, next_id
from tests.support.model_faults import requests_sent


@pytest.fixture
def counted(stack):
    with requests_sent([ChannelTransaction]) as names:
        yield names


def _notice(order, transaction_id="4200000000000000000000000091", amount=10000):
    return TransactionNotification(attach="tenant-a", payment_order_id=order, biz_order_id="1774303629096779780_1",
                                   mch_id=MCH_ID, sub_mchid=SUB_MCHID, transaction_id=transaction_id,
                                   openid="ou8xcount", amount=amount, success_time="2026-11-22T14:00:00+08:00")


def test_new_replayed_and_conflicting_notices_each_take_one_request(counted):
    ctx = None       # the notice names its own tenant; no context is read
    order = next_id("13262164")
    assert transactions.record(ctx, _notice(order)) == "recorded"
    assert transactions.record(ctx, _notice(order)) == "replayed"
    with pytest.raises(PaySettleError) as conflict:
        transactions.record(ctx, _notice(order, transaction_id="4200000000000000000000000092"))
    assert conflict.value.code is ErrorCode.TRANSACTION_CONFLICT
    assert counted == ["PutItem", "PutItem", "PutItem"]
    stored = transactions.find_for(ctx, "tenant-a", order)
    assert (stored["transaction_id"], stored["amount"]) == ("4200000000000000000000000091", 10000)
