"""Async phases are applied exactly once, trade before fee: run twice, duplicate attempts, crashes."""
import pytest

from chalicelib.payments import service as core
from chalicelib.payments.messages import WithdrawRequest
from chalicelib.payments.trades import applier
from chalicelib.payments.trades.service import find_trade
from tests.support.faults import AFTER, BEFORE, FaultPlan, ProcessDied
from tests.support.model_faults import ModelAnswersLost, ModelConflicts, faults_on_models, trade_models
from tests.trades.support import assert_journal_matches_balances, movements, new_trans_id

SETTLED = {("buyer", 1): -10_000, ("seller", 3): 9_700, ("wallet", 3): 300}


@pytest.fixture
def async_trade(book):
    """An async trade with a fee collected later, paid (both phases pending)."""
    trans_id = book.trade(cash=10_000, settlement="ASYNC", fee_amount=300, fee_user_id="wallet")
    before = book.read()
    book.pay(trans_id, fee_type=2, fee_settlement_type="ASYNC", pay_mode="BALANCE")
    return trans_id, before


def record_of(book, trans_id):
    return applier._read(book.ctx, f"{book.ctx.tenant}#TRADE#{trans_id}")


def test_running_the_applier_twice_applies_each_phase_once(book, async_trade):
    trans_id, before = async_trade
    first, second = book.apply(), book.apply()
    assert (first.trades, first.applied) == (1, 2)
    assert (second.trades, second.applied) == (0, 0)
    assert movements(before, book.read()) == SETTLED
    assert sorted((e["account"].split("#", 1)[1], e["leg"], e["amount"])
                  for e in book.read().trade_entries(trans_id)) == [
        ("@transit", "PAY", 10_000), ("@transit", "TRADE", -10_000), ("buyer", "PAY", -10_000),
        ("seller#3", "FEE", -300), ("seller#3", "TRADE", 10_000), ("wallet#3", "FEE", 300)]
    assert_journal_matches_balances(book.read())


def test_a_duplicate_attempt_from_the_same_read_is_refused_by_the_guards(book, async_trade):
    """Two appliers that read the same pending record (a duplicate delivery) both try."""
    trans_id, before = async_trade
    stale = record_of(book, trans_id)
    report = applier.ApplierReport()
    assert applier.apply_phase(book.ctx, stale, "ASYNC_TRADE", report) == "applied"
    assert applier.apply_phase(book.ctx, stale, "ASYNC_TRADE", report) == "duplicate"
    fresh = record_of(book, trans_id)
    assert applier.apply_phase(book.ctx, fresh, "ASYNC_FEE", report) == "applied"
    assert applier.apply_phase(book.ctx, fresh, "ASYNC_FEE", report) == "duplicate"
    assert applier.apply_phase(book.ctx, stale, "ASYNC_FEE", report) == "duplicate"
    assert (report.applied, report.duplicates) == (2, 2)
    assert movements(before, book.read()) == SETTLED


def test_the_journal_entries_guard_even_when_the_record_is_forged(book, async_trade):
    """A record whose `pending_phases` claims the trade phase is still pending after it was
    applied cannot post it again: the record condition and the journal keys both refuse."""
    trans_id, before = async_trade
    book.apply()
    forged = dict(record_of(book, trans_id), pending_phases=["ASYNC_TRADE", "ASYNC_FEE"],
                  state="SETTLING")
    report = applier.ApplierReport()
    assert applier.apply_phase(book.ctx, forged, "ASYNC_TRADE", report) == "duplicate"
    assert movements(before, book.read()) == SETTLED


def test_the_fee_phase_never_goes_before_the_trade_phase(book, async_trade):
    trans_id, before = async_trade
    record = record_of(book, trans_id)
    report = applier.ApplierReport()
    assert applier.apply_phase(book.ctx, record, "ASYNC_FEE", report) == "duplicate"
    # Even a record read as if the trade phase were done is refused by the stored condition.
    skipping = dict(record, pending_phases=["ASYNC_FEE"])
    assert applier.apply_phase(book.ctx, skipping, "ASYNC_FEE", report) == "duplicate"
    assert report.applied == 0
    assert movements(before, book.read()) == {("buyer", 1): -10_000, ("@transit", 1): 10_000}


@pytest.mark.parametrize("when", [BEFORE, AFTER])
@pytest.mark.parametrize("transaction", [1, 2])
def test_a_crash_around_a_phase_transaction_loses_and_repeats_nothing(stack, book, async_trade,
                                                                      when, transaction):
    trans_id, before = async_trade
    plan = FaultPlan(die_on=("TransactWriteItems", transaction), when=when)
    with faults_on_models(plan, trade_models()), pytest.raises(ProcessDied):
        applier.run(book.ctx)
    assert plan.dead
    book.apply()
    book.apply()
    assert movements(before, book.read()) == SETTLED
    assert find_trade(book.ctx, trans_id)["state"] == "SETTLED"
    assert_journal_matches_balances(book.read())


def test_a_lost_answer_resent_is_applied_once(stack, book, async_trade):
    trans_id, before = async_trade
    with ModelAnswersLost({"TransactWriteItems"}).on(trade_models()):
        report = applier.run(book.ctx)
    assert report.applied + report.duplicates >= 1
    book.apply()
    assert movements(before, book.read()) == SETTLED


def test_a_fee_collected_later_waits_while_the_seller_is_short(book):
    """Realtime trade, fee collected later: the seller withdraws everything first; the fee
    phase stays pending (never overdraws), and is applied once the seller has the money."""
    trans_id = book.trade(cash=1_000, fee_amount=100, fee_user_id="wallet")
    book.pay(trans_id, fee_type=2, fee_settlement_type="ASYNC", pay_mode="BALANCE")
    core.withdraw(book.payments, WithdrawRequest(request_time="2024-03-01 10:15:00",
                                                 request_id=new_trans_id(), saler_id="seller",
                                                 withdraw_money=1_000))
    report = book.apply()
    assert (report.applied, report.short) == (0, 1)
    assert find_trade(book.ctx, trans_id)["pending_phases"] == ["ASYNC_FEE"]
    assert book.read().balance("seller") == 0
    book.fund("seller", 100)
    assert book.apply().applied == 1
    ledger = book.read()
    assert (ledger.balance("seller"), ledger.balance("wallet", 3)) == (0, 100)
    assert_journal_matches_balances(ledger)


def test_the_scheduled_function_runs_the_applier(stack, api, book, async_trade):
    trans_id, before = async_trade
    assert api.invoke("trade_applier")["applied"] == 2
    assert api.invoke("trade_applier")["applied"] == 0
    assert movements(before, book.read()) == SETTLED


def test_transaction_conflicts_are_retried_and_post_once(stack, book):
    """DynamoDB cancels a transaction that collides with another (TransactionConflict): the pay
    and the applier retry the same items; nothing is posted twice."""
    conflicting = ModelConflicts(rate=0.6, seed=7)
    trans_id = book.trade(cash=10_000, settlement="ASYNC", fee_amount=300, fee_user_id="wallet")
    before = book.read()
    with conflicting.on(trade_models()):
        book.pay(trans_id, fee_type=2, fee_settlement_type="ASYNC", pay_mode="BALANCE")
        while find_trade(book.ctx, trans_id)["state"] != "SETTLED":
            applier.run(book.ctx)
    assert conflicting.injected > 0
    assert movements(before, book.read()) == SETTLED
