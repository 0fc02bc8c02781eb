"""AWS requests per trade operation, counted on the models' clients (the trade, the account
registry's accounts, the postings, the journal). The context holds no DynamoDB client of its own
(tests/unit/test_contexts.py), so these are every DynamoDB request trade settlement sends."""
from collections import Counter

from chalicelib.payments.trades import applier, service
from chalicelib.payments.trades.messages import PayTradeRequest, TradeRequest
from tests.support.model_faults import requests_sent, trade_models, transaction_sizes
from tests.trades.conftest import trades_context
from tests.trades.support import new_trans_id


def during(operation) -> Counter:
    """The requests the trade models' clients send while `operation` runs, per operation."""
    with requests_sent(trade_models()) as names:
        operation()
    return Counter(names)


def test_each_trade_operation_sends_the_requests_it_always_did(stack, book):
    ctx = trades_context()
    trans_id = new_trans_id()
    trade = TradeRequest(trans_id=trans_id, buyer_id="buyer", seller_id="seller", cash_amount=10_000,
                         settlement_type="ASYNC", payment_mode="BALANCE", fee_amount=300,
                         fee_user_id="wallet")
    pay = PayTradeRequest(fee_type=2, fee_settlement_type="ASYNC", pay_mode="BALANCE")

    assert during(lambda: service.record_trade(ctx, trade)) == {"PutItem": 1}
    # A replayed record: the conditional put answers with the stored trade, nothing else is read.
    assert during(lambda: service.record_trade(ctx, trade)) == {"PutItem": 1}
    with transaction_sizes(trade_models()) as sizes:
        assert during(lambda: service.pay_trade(ctx, trans_id, pay)) == {
            "GetItem": 2, "BatchGetItem": 1, "TransactWriteItems": 1}
    # The guard and the settlement record, the buyer's balance and its journal entry, transit's.
    assert sizes == [5]
    assert during(lambda: service.pay_trade(ctx, trans_id, pay)) == {"GetItem": 1}
    assert during(lambda: service.find_trade(ctx, trans_id)) == {"GetItem": 1}
    with transaction_sizes(trade_models()) as sizes:
        assert during(lambda: applier.run(ctx)) == {"Scan": 1, "GetItem": 2, "TransactWriteItems": 2}
    # Each phase: the trade record, two balances and their two journal entries.
    assert sizes == [5, 5]
    assert during(lambda: applier.run(ctx)) == {"Scan": 1}
