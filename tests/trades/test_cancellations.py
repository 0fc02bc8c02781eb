"""A cancelled settlement is read item by item, by key: PynamoDB sends the journal puts before the
balance updates, whatever order they were added in, so a position never names the cause."""
import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.payments.models.ledger import JournalEntry
from chalicelib.payments.trades.service import find_trade
from tests.trades.support import movements


def _plant_leg(book, account_id, trans_id, leg):
    """A journal entry of this trade's leg, as if edited in by hand before the trade settled."""
    partition, entry = JournalEntry.trade_key(book.ctx.tenant, account_id, 1, trans_id, leg)
    JournalEntry(partition, entry, posted=JournalEntry.posted_key("2024-03-01T00:00:00Z", entry),
                 amount=0, request_id=trans_id, trans_id=trans_id, leg=leg, phase="REALTIME",
                 account_id=account_id, sub_account=1).save()


def test_a_journal_guard_that_fails_is_never_read_as_a_short_balance(book):
    trans_id = book.trade(cash=10_000)
    _plant_leg(book, "seller", trans_id, "TRADE")
    before = book.read()
    with pytest.raises(PaySettleError) as refused:
        book.pay(trans_id)
    assert refused.value.code is ErrorCode.INTERNAL
    assert movements(before, book.read()) == {}
    assert find_trade(book.ctx, trans_id)["state"] == "RECORDED"


def test_a_short_balance_is_named_whatever_position_its_item_was_sent_in(book):
    trans_id = book.trade(cash=100_001)
    before = book.read()
    with pytest.raises(PaySettleError) as refused:
        book.pay(trans_id)
    assert refused.value.code is ErrorCode.TRADE_BALANCE_SHORT
    assert "buyer" in refused.value.detail
    assert movements(before, book.read()) == {}
