"""PynamoDB's traps, on DynamoDB Local: the order TransactWrite sends items in, and the fault
plan's power over PynamoDB's own client."""
import pytest
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.data.transactions import Cancelled, Transaction
from chalicelib.payments.models.ledger import Account, JournalEntry
from chalicelib.payments.orders import Kind
from tests.support.faults import AFTER, BEFORE, FaultPlan, FaultyClient, ProcessDied
from tests.support.model_faults import faults_on

pytestmark = pytest.mark.dynamodb_local

TENANT, SALER = "m1", "s1"
BALANCE, JOURNAL = "balance", "journal"      # owners: what each written item stands for


def _account(balance: int) -> Account:
    account = Account(*Account.key(TENANT, SALER), balance=balance, tenant=TENANT, saler_id=SALER)
    account.save()
    return account


def _withdraw_entry(request_id: str, amount: int) -> JournalEntry:
    account, entry = JournalEntry.key(TENANT, SALER, Kind.WITHDRAW, request_id)
    return JournalEntry(account, entry, posted=JournalEntry.posted_key("2026-01-01T00:00:00Z", entry),
                        amount=-amount, request_id=request_id, tenant=TENANT, saler_id=SALER,
                        response_time="2026-01-01 08:00:00")


def _withdraw(request_id: str, amount: int) -> Transaction:
    """A withdraw as the core writes it: the debit FIRST, then its journal guard."""
    transaction = Transaction(Account)
    debit = Account(*Account.key(TENANT, SALER))
    transaction.update(debit, [Account.balance.add(-amount)],
                       condition=Account.balance >= amount, owner=BALANCE)
    transaction.save(_withdraw_entry(request_id, amount),
                     condition=JournalEntry.entry.does_not_exist(), owner=JOURNAL)
    return transaction


def test_transactwrite_sends_puts_before_updates_whatever_order_they_were_written_in(models):
    _account(100)
    _withdraw_entry("w1", 10).save()                 # this withdraw was already journaled
    with pytest.raises(TransactWriteError) as caught:
        with TransactWrite(connection=Account._get_connection().connection) as write:
            write.update(Account(*Account.key(TENANT, SALER)), [Account.balance.add(-10)],
                         condition=Account.balance >= 10)                          # written 1st
            write.save(_withdraw_entry("w1", 10),
                       condition=JournalEntry.entry.does_not_exist())              # written 2nd
    reasons = [r.code if r else "None" for r in caught.value.cancellation_reasons]
    # Read by position, the first item written (the balance) would look refused.
    assert reasons == ["ConditionalCheckFailed", "None"]


def test_a_failed_journal_condition_inside_a_withdraw_is_never_read_as_insufficient_balance(models):
    _account(100)
    _withdraw_entry("w1", 10).save()
    with pytest.raises(Cancelled) as caught:
        _withdraw("w1", 10).commit()
    assert caught.value.condition_failed(JOURNAL)
    assert not caught.value.condition_failed(BALANCE)
    assert caught.value.failed_owners == [JOURNAL]
    assert Account.get(*Account.key(TENANT, SALER), consistent_read=True).balance == 100


def test_an_insufficient_balance_is_the_balance_items_reason(models):
    _account(5)
    with pytest.raises(Cancelled) as caught:
        _withdraw("w2", 10).commit()
    assert caught.value.failed_owners == [BALANCE]
    assert caught.value.code(JOURNAL) == "None"


def test_condition_checks_and_deletes_map_to_their_owners_too(models):
    _account(100)
    _withdraw_entry("old", 1).save()
    transaction = Transaction(Account)
    transaction.update(Account(*Account.key(TENANT, SALER)), [Account.balance.add(1)], owner="update")
    transaction.delete(_withdraw_entry("old", 1), condition=JournalEntry.amount == -999, owner="delete")
    transaction.condition_check(Account, *Account.key(TENANT, "nobody"),
                                condition=Account.account.exists(), owner="check")
    with pytest.raises(Cancelled) as caught:
        transaction.commit()
    assert [owner for owner, _, _ in caught.value.reasons] == ["check", "delete", "update"]
    assert sorted(caught.value.failed_owners) == ["check", "delete"]


def test_a_committed_withdraw_moves_balance_and_journal_together(models):
    _account(100)
    _withdraw("w3", 30).commit()
    assert Account.get(*Account.key(TENANT, SALER), consistent_read=True).balance == 70
    entry = JournalEntry.get(*JournalEntry.key(TENANT, SALER, Kind.WITHDRAW, "w3"), consistent_read=True)
    assert entry.amount == -30


@pytest.mark.parametrize("when", [BEFORE, AFTER])
def test_the_fault_plan_kills_between_pynamodb_calls_like_between_boto3_calls(models, world, when):
    _account(100)
    plan = FaultPlan(die_on=("TransactWriteItems", 1), when=when)
    raw = FaultyClient(world.dynamodb, plan)
    with faults_on(Account.low_level_client(), plan):
        raw.describe_table(TableName=models["LEDGER_TABLE"])       # a boto3 call counts too
        assert Account.get(*Account.key(TENANT, SALER), consistent_read=True).balance == 100
        with pytest.raises(ProcessDied):
            _withdraw("w4", 30).commit()
        with pytest.raises(ProcessDied, match="already dead"):
            Account.get(*Account.key(TENANT, SALER), consistent_read=True)
    # The call after death was never sent (nor counted).
    assert plan.calls == ["dynamodb.DescribeTable", "dynamodb.GetItem", "dynamodb.TransactWriteItems"]
    # Dead before: nothing was sent. Dead after: the transaction took effect, unseen.
    balance = Account.get(*Account.key(TENANT, SALER), consistent_read=True).balance
    assert balance == (100 if when == BEFORE else 70)
