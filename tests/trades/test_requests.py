"""AWS requests per trade operation, counted on the context's boto3 client and on the models'
clients together (the trade, the account registry's accounts, the postings, the journal): the
same requests whichever path a read or write takes."""
from collections import Counter

from chalicelib.payments.trades import applier, service
from chalicelib.payments.trades.messages import PayTradeRequest, TradeRequest
from tests.support.concurrency import ObservedClient
from tests.support.model_faults import observed_models, trade_models, transaction_sizes
from tests.trades.conftest import trades_context
from tests.trades.support import new_trans_id


class Requests:
    """Every DynamoDB request of trade settlement, through either path, counted per operation."""

    def __init__(self, stack):
        self.boto3 = ObservedClient(stack.dynamodb)
        self.ctx = trades_context(stack, dynamodb=self.boto3)

    def during(self, operation) -> Counter:
        self.boto3.calls.clear()
        models = ObservedClient(self.boto3._client)     # only its counters are used
        with observed_models(models, trade_models()):
            operation()
        return +(self.boto3.calls + models.calls)


def test_each_trade_operation_sends_the_requests_it_always_did(stack, book):
    requests = Requests(stack)
    trans_id = new_trans_id()
    trade = TradeRequest(trans_id=trans_id, buyer_id="buyer", seller_id="seller", cash_amount=10_000,
                         settlement_type="ASYNC", payment_mode="BALANCE", fee_amount=300,
                         fee_user_id="wallet")
    pay = PayTradeRequest(fee_type=2, fee_settlement_type="ASYNC", pay_mode="BALANCE")

    assert requests.during(lambda: service.record_trade(requests.ctx, trade)) == {"PutItem": 1}
    # A replayed record: the conditional put answers with the stored trade, nothing else is read.
    assert requests.during(lambda: service.record_trade(requests.ctx, trade)) == {"PutItem": 1}
    with transaction_sizes(trade_models()) as sizes:
        assert requests.during(lambda: service.pay_trade(requests.ctx, trans_id, pay)) == {
            "GetItem": 2, "BatchGetItem": 1, "TransactWriteItems": 1}
    # The guard and the settlement record, the buyer's balance and its journal entry, transit's.
    assert sizes == [5]
    assert requests.during(lambda: service.pay_trade(requests.ctx, trans_id, pay)) == {"GetItem": 1}
    assert requests.during(lambda: service.find_trade(requests.ctx, trans_id)) == {"GetItem": 1}
    with transaction_sizes(trade_models()) as sizes:
        assert requests.during(lambda: applier.run(requests.ctx)) == {
            "Scan": 1, "GetItem": 2, "TransactWriteItems": 2}
    # Each phase: the trade record, two balances and their two journal entries.
    assert sizes == [5, 5]
    assert requests.during(lambda: applier.run(requests.ctx)) == {"Scan": 1}
