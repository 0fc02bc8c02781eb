"""The models on moto: whole fen only, lazy binding to the stage's tables, keys from keys.py."""
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from chalicelib.config import MissingSetting
from chalicelib.data import binding
from chalicelib.data.attributes import NotWholeFen
from chalicelib.payments import keys
from chalicelib.payments.models.ledger import Account, JournalEntry
from chalicelib.payments.models.orders import PaymentOrder, ResponseGuard
from chalicelib.payments.orders import Kind
from tests.unit.support import aws_stack


@pytest.mark.parametrize("amount", [1.5, 2.0, Decimal("3"), True, "100", None])
def test_an_amount_that_is_not_an_int_never_reaches_dynamodb(amount):
    entry = JournalEntry("t#s", "PAY#1", posted="p", amount=amount, request_id="1")
    with pytest.raises((NotWholeFen, ValueError)):
        entry.serialize()


def test_whole_fen_round_trip_as_int_and_a_stored_fraction_is_refused():
    with aws_stack("fen") as stack:
        Account("default#s1", balance=12345).save()
        read = Account.get(*Account.key("default", "s1"), consistent_read=True)
        assert read.balance == 12345 and type(read.balance) is int
        # Written around the models (as an old or foreign writer could): 0.5 fen.
        stack.dynamodb.put_item(TableName=stack.ledger_table, Item={
            "account": {"S": "default#s2"}, "entry": {"S": "ACCOUNT"}, "balance": {"N": "0.5"}})
        with pytest.raises(NotWholeFen, match="balance"):
            Account.get(*Account.key("default", "s2"), consistent_read=True)


def test_importing_binds_nothing_and_first_use_names_the_missing_setting(monkeypatch):
    monkeypatch.delenv("LEDGER_TABLE", raising=False)
    with pytest.raises(MissingSetting, match="LEDGER_TABLE"):
        Account.get("x#y", "ACCOUNT")


def test_a_pinned_block_resolves_each_table_once_and_only_inside_it(monkeypatch):
    monkeypatch.setenv("LEDGER_TABLE", "ledger-1")
    with binding.pinned():
        assert binding.resolve("LEDGER_TABLE").table == "ledger-1"
        monkeypatch.setenv("LEDGER_TABLE", "ledger-2")
        with binding.pinned():                      # nested: the outer block's moment
            assert binding.resolve("LEDGER_TABLE").table == "ledger-1"
        seen_by_another_thread = []
        worker = threading.Thread(target=lambda: seen_by_another_thread.append(
            binding.resolve("LEDGER_TABLE").table))
        worker.start()
        worker.join()
        assert seen_by_another_thread == ["ledger-2"]      # pinned per thread
    assert binding.resolve("LEDGER_TABLE").table == "ledger-2"


def test_each_stack_gets_its_own_table_and_one_binding_serves_many_threads():
    with aws_stack("first") as first:
        Account("default#a", balance=1).save()
        assert Account._get_connection().table_name == first.ledger_table
    with aws_stack("second") as second:
        assert second.ledger_table != first.ledger_table
        barrier = threading.Barrier(16)

        def first_use(_):
            barrier.wait()
            return Account._get_connection(), Account.count(consistent_read=True)

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(first_use, range(16)))
        assert {id(connection) for connection, _ in results} == {id(results[0][0])}
        assert results[0][0].table_name == second.ledger_table
        assert {count for _, count in results} == {0}     # the first stack's item is not here


def test_override_binds_chosen_tables_for_a_block_only():
    with aws_stack("over") as stack:
        with binding.override({"LEDGER_TABLE": stack.tables["TradesTable"]}):
            assert Account._get_connection().table_name == stack.tables["TradesTable"]
        assert Account._get_connection().table_name == stack.ledger_table


def test_key_methods_are_the_key_functions_of_keys_py():
    assert PaymentOrder.key("m1", Kind.PAY, "r1") == keys.order_key("m1", Kind.PAY, "r1")
    assert ResponseGuard.key("x") == keys.response_guard_key("x")
    assert Account.key("m1", "s1") == (keys.account_key("m1", "s1"), keys.ACCOUNT_ENTRY)
    assert Account.key("m1", "s1", 3) == (keys.sub_account_key("m1", "s1", 3), keys.ACCOUNT_ENTRY)
    assert JournalEntry.key("m1", "s1", Kind.WITHDRAW, "r2") == (
        keys.account_key("m1", "s1"), keys.journal_entry(Kind.WITHDRAW, "r2"))
    assert JournalEntry.trade_key("m1", "a", 3, "t1", "fee") == (
        keys.sub_account_key("m1", "a", 3), keys.trade_entry("t1", "fee"))
    assert Account.parse_partition("m1#s1") == ("m1", "s1", 1)
    assert Account.parse_partition("m1#@channel:wx#3") == ("m1", "@channel:wx", 3)
