"""GET /accounts/{saler_id} reads the balance and the pending credits as of one moment, while
the aggregator moves credits from one to the other."""
import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.payments import accounts, aggregator, service
from chalicelib.payments.messages import PayRequest
from tests.support.proxy import ClientProxy
from tests.unit.support import pay_body


class AggregatorRunsAfterCall(ClientProxy):
    """The view's client: right after its `after`-th DynamoDB call answers (every call when
    `after` is None), the aggregator applies pending credits (on its own client), as it may at
    any moment in the cloud."""

    def __init__(self, client, after: int, aggregate):
        super().__init__(client)
        self.calls, self.after, self.aggregate = 0, after, aggregate

    def _call(self, operation, method, *args, **kwargs):
        answer = method(*args, **kwargs)
        self.calls += 1
        if self.after is None or self.calls == self.after:
            self.aggregate()
        return answer


def test_a_credit_applied_between_any_two_of_the_views_calls_is_counted_once(stack):
    """A credit the aggregator applies between any two of the view's calls is in the balance
    or pending, never in neither (an account with money answering 404) nor in both."""
    ctx = stack.context()
    service.pay(ctx, PayRequest(**pay_body(saler_id="probe", total_fee=1)))
    counting = AggregatorRunsAfterCall(stack.dynamodb, 0, None)
    accounts.account_view(stack.context(dynamodb=counting), "probe")
    assert counting.calls >= 2
    for after in range(1, counting.calls):
        saler = f"racing-{after}"
        service.pay(ctx, PayRequest(**pay_body(saler_id=saler, total_fee=1234)))
        reader = AggregatorRunsAfterCall(stack.dynamodb, after, lambda: aggregator.run(ctx))
        view = accounts.account_view(stack.context(dynamodb=reader), saler)
        assert reader.calls > after, "the aggregator ran inside the view"
        assert view["balance"] + view["pending_credit_amount"] == 1234, (after, view)
        assert view["pending_credit_count"] == (1 if view["pending_credit_amount"] else 0)


def test_more_pending_credits_than_one_batch_read_holds_are_all_counted(stack):
    ctx = stack.context()
    amounts = list(range(1, 131))                   # 130 credits: two BatchGetItem pages
    for amount in amounts:
        service.pay(ctx, PayRequest(**pay_body(saler_id="many", total_fee=amount)))
    view = accounts.account_view(ctx, "many")
    assert (view["balance"], view["pending_credit_count"]) == (0, 130)
    assert view["pending_credit_amount"] == sum(amounts)
    aggregator.run(ctx)
    view = accounts.account_view(ctx, "many")
    assert (view["balance"], view["pending_credit_count"], view["pending_credit_amount"]) == (
        sum(amounts), 0, 0)



def test_credits_applied_during_every_try_end_in_busy_and_a_later_view_is_exact(stack):
    """Five tries, each seeing the journal change under it: 503 BUSY (retry), never a guess."""
    ctx = stack.context(aggregator_max_credits=1)             # one credit a run
    for _ in range(20):
        service.pay(ctx, PayRequest(**pay_body(saler_id="hot", total_fee=5)))
    reader = AggregatorRunsAfterCall(stack.dynamodb, None, lambda: aggregator.run(ctx))
    with pytest.raises(PaySettleError) as busy:
        accounts.account_view(stack.context(dynamodb=reader), "hot")
    assert (busy.value.code, busy.value.field) == (ErrorCode.BUSY, "saler_id")
    view = accounts.account_view(ctx, "hot")
    assert view["balance"] + view["pending_credit_amount"] == 100 and view["balance"] > 0
