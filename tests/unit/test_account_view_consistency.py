"""GET /accounts/{saler_id} reads the balance and the pending credits as of one moment, while
the aggregator moves credits from one to the other."""
from collections import Counter
from contextlib import contextmanager

import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.payments import accounts, aggregator, service
from chalicelib.payments.messages import PayRequest
from tests.support.model_faults import after_each_call
from tests.unit.support import pay_body


class AggregatorRunsAfterCall:
    """The view's DynamoDB calls, on the clients of the models it reads through: right after its
    `after`-th call answers (every call when `after` is None), the aggregator applies pending
    credits, as it may at any moment in the cloud. The aggregator writes through the same models'
    clients: its own calls are not the view's, so they are neither counted nor interleaved."""

    def __init__(self, after, aggregate):
        self.calls, self.after, self.aggregate = 0, after, aggregate
        self._aggregating = False

    def _answered(self, operation):
        if self._aggregating:
            return
        self.calls += 1
        if self.after is None or self.calls == self.after:
            self._aggregating = True
            try:
                self.aggregate()
            finally:
                self._aggregating = False

    @contextmanager
    def around_the_view(self):
        with after_each_call(self._answered):
            yield self


def test_a_credit_applied_between_any_two_of_the_views_calls_is_counted_once(stack):
    """A credit the aggregator applies between any two of the view's calls is in the balance
    or pending, never in neither (an account with money answering 404) nor in both."""
    ctx = stack.context()
    service.pay(ctx, PayRequest(**pay_body(saler_id="probe", total_fee=1)))
    with AggregatorRunsAfterCall(0, None).around_the_view() as counting:
        accounts.account_view(ctx, "probe")
    assert counting.calls >= 2
    for after in range(1, counting.calls):
        saler = f"racing-{after}"
        service.pay(ctx, PayRequest(**pay_body(saler_id=saler, total_fee=1234)))
        with AggregatorRunsAfterCall(after, lambda: aggregator.run(ctx)).around_the_view() as reader:
            view = accounts.account_view(ctx, saler)
        assert reader.calls > after, "the aggregator ran inside the view"
        assert view["balance"] + view["pending_credit_amount"] == 1234, (after, view)
        assert view["pending_credit_count"] == (1 if view["pending_credit_amount"] else 0)


def test_the_view_sends_the_requests_it_always_did(stack):
    """One Query of the unsettled pays, the journal keys read before and after the account
    (sub-account 1 with its declared fields, then sub-account 3) when nothing moved."""
    ctx = stack.context()
    service.pay(ctx, PayRequest(**pay_body(saler_id="counted", total_fee=7)))
    requests = Counter()
    with after_each_call(lambda operation: requests.update([operation])):
        view = accounts.account_view(ctx, "counted")
    assert view["pending_credit_count"] == 1
    assert requests == {"Query": 1, "BatchGetItem": 3, "GetItem": 1}


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
    reader = AggregatorRunsAfterCall(None, lambda: aggregator.run(ctx))
    with reader.around_the_view(), pytest.raises(PaySettleError) as busy:
        accounts.account_view(ctx, "hot")
    assert (busy.value.code, busy.value.field) == (ErrorCode.BUSY, "saler_id")
    view = accounts.account_view(ctx, "hot")
    assert view["balance"] + view["pending_credit_amount"] == 100 and view["balance"] > 0
