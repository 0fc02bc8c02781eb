"""Worked examples: every account's movement in fen, with one and two up-merchants, realtime and async.

The accounts (conftest): buyer (B, 100000 fen), seller (B), wallet and buyerfees (C), agent1,
agent2, partner (B). Keys are (account, sub-account).
"""
from tests.trades.support import assert_journal_matches_balances, movements

TWO_UPS = {
    "up_merchants": [{"user_id": "agent1", "level": 1}, {"user_id": "agent2", "level": 2}],
    "billing_solution": [
        {"user_id": "agent1", "amount": 100, "fee_amount": 200, "fee_plus_amount": 0},
        {"user_id": "agent2", "amount": 0, "fee_amount": 120, "fee_plus_amount": 200}],
}
ONE_UP = {
    "up_merchants": [{"user_id": "agent1", "level": 1}],
    "billing_solution": [{"user_id": "agent1", "amount": 0, "fee_amount": 200, "fee_plus_amount": 0}],
}


def journal_sums_to_zero(book, trans_id):
    entries = book.read().trade_entries(trans_id)
    assert entries and sum(e["amount"] for e in entries) == 0
    by_phase = {}
    for entry in entries:
        by_phase[entry["phase"]] = by_phase.get(entry["phase"], 0) + entry["amount"]
    assert set(by_phase.values()) == {0}, by_phase


def test_two_up_merchants_realtime_fee_deducted_at_source(book):
    """cash 10000, fee 300, buyer fee 50; agent1 (up1) shares 100 and owes 200 of the fee up the
    chain, agent2 (up2) collects that 200 (fee_plus_amount) and owes 120 to the wallet."""
    trans_id = book.trade(cash=10_000, fee_amount=300, fee_user_id="wallet")
    before = book.read()
    answer = book.pay(trans_id, buyer_fee_amount=50, buyer_fee_user_id="buyerfees", **TWO_UPS)
    assert answer["state"] == "SETTLED" and answer["pending_phases"] == []
    assert answer["settlement"]["wallet_fee"] == 120
    assert movements(before, book.read()) == {
        ("buyer", 1): -10_050,              # cash + buyer fee
        ("seller", 1): 9_600,               # 10000 - share 100 - fee 300
        ("buyerfees", 3): 50,               # the buyer fee, default sub-account 3
        ("wallet", 1): 120,                 # the top up-merchant's fee_amount
        ("agent1", 1): 200,                 # share 100 + (fee 300 - its fee_amount 200)
        ("agent2", 1): 80,                  # fee_plus_amount 200 - its fee_amount 120
    }
    assert sum(p["amount"] for p in answer["postings"]) == 0
    journal_sums_to_zero(book, trans_id)
    assert_journal_matches_balances(book.read())
    assert book.apply().applied == 0


def test_one_up_merchant_async_trade_fee_collected_later(book):
    """An async trade: the buyer pays now into transit; the applier settles the trade to the
    seller's sub-account 3, then the fee (collected later) from it: wallet 200, agent1 100."""
    trans_id = book.trade(cash=10_000, settlement="ASYNC", fee_amount=300, fee_user_id="wallet")
    before = book.read()
    answer = book.pay(trans_id, fee_type=2, fee_settlement_type="ASYNC", pay_mode="BALANCE",
                      **ONE_UP)
    assert answer["state"] == "SETTLING"
    assert answer["pending_phases"] == ["ASYNC_TRADE", "ASYNC_FEE"]
    paid = book.read()
    assert movements(before, paid) == {("buyer", 1): -10_000, ("@transit", 1): 10_000}
    report = book.apply()
    assert (report.applied, report.duplicates) == (2, 0)
    assert movements(before, book.read()) == {
        ("buyer", 1): -10_000,
        ("seller", 3): 9_700,               # 10000 - fee 300
        ("wallet", 3): 200,                 # the one up-merchant's fee_amount
        ("agent1", 3): 100,                 # fee 300 - its fee_amount 200
    }                                       # transit back to 0
    journal_sums_to_zero(book, trans_id)
    assert_journal_matches_balances(book.read())
    from chalicelib.payments.trades.service import find_trade
    settled = find_trade(book.ctx, trans_id)
    assert (settled["state"], settled["pending_phases"]) == ("SETTLED", [])


def test_realtime_trade_fee_deducted_at_source_settled_async(book):
    """The fee is withheld from the seller now (held in transit) and paid out by the applier."""
    trans_id = book.trade(cash=5_000, fee_amount=250, fee_user_id="wallet")
    before = book.read()
    book.pay(trans_id, fee_type=1, fee_settlement_type="ASYNC", pay_mode="BALANCE", **ONE_UP)
    assert movements(before, book.read()) == {("buyer", 1): -5_000, ("seller", 1): 4_750,
                                              ("@transit", 1): 250}
    book.apply()
    assert movements(before, book.read()) == {("buyer", 1): -5_000, ("seller", 1): 4_750,
                                              ("wallet", 3): 200, ("agent1", 3): 50}
    journal_sums_to_zero(book, trans_id)


def test_realtime_trade_fee_collected_later(book):
    """Collected later: the seller gets the whole cash now; the applier takes the fee from it."""
    trans_id = book.trade(cash=5_000, fee_amount=250, fee_user_id="wallet")
    before = book.read()
    book.pay(trans_id, fee_type=2, fee_settlement_type="ASYNC", pay_mode="BALANCE")
    assert movements(before, book.read()) == {("buyer", 1): -5_000, ("seller", 1): 5_000}
    book.apply()
    assert movements(before, book.read()) == {("buyer", 1): -5_000, ("seller", 1): 4_750,
                                              ("wallet", 3): 250}
    journal_sums_to_zero(book, trans_id)


def test_channel_payment_books_against_the_channels_clearing_account(book):
    trans_id = book.trade(cash=2_000, mode="CHANNEL", channel_id="wx", fee_amount=20,
                          fee_user_id="wallet")
    before = book.read()
    book.pay(trans_id, buyer_fee_amount=5, buyer_fee_user_id="buyerfees")
    assert movements(before, book.read()) == {("@channel:wx", 1): -2_005, ("seller", 1): 1_980,
                                              ("wallet", 1): 20, ("buyerfees", 3): 5}
    assert_journal_matches_balances(book.read())


def test_the_journal_route_lists_trade_entries_per_sub_account(book):
    from chalicelib.payments import accounts
    trans_id = book.trade(cash=1_000, settlement="ASYNC")
    book.pay(trans_id)
    book.apply()
    entries = accounts.journal(book.payments, "seller", None, None, "3")["entries"]
    assert [(e["entry"], e["amount"], e["request_id"]) for e in entries] == [
        (f"TRADE#{trans_id}#TRADE", 1_000, trans_id)]
    view = accounts.account_view(book.payments, "seller")
    assert view["sub_accounts"] == [{"sub_account": 1, "balance": 0},
                                    {"sub_account": 3, "balance": 1_000}]


def test_an_unbalanced_phase_is_never_written():
    import pytest
    from chalicelib.payments.trades import ledger_items
    from chalicelib.payments.trades.postings import Posting
    lopsided = [Posting("buyer", 1, -100, "PAY", "REALTIME"), Posting("seller", 1, 99, "TRADE", "REALTIME")]
    with pytest.raises(ValueError, match="do not sum to zero"):
        ledger_items.add_phase(None, "default", "20240301101500000001", lopsided, "now")
