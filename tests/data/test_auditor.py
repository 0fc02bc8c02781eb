"""The ledger auditor on moto: what it checks, what it reports, and that a credit landing while it
reads is never a difference. (Many writers at once: tests/dynamodb_local/test_ledger_auditor.py.)"""
import json
from contextlib import contextmanager

import pytest

from chalicelib.data.transactions import Transaction
from chalicelib.payments import auditor
from chalicelib.payments.models.ledger import Account, JournalEntry
from tests.support.logs import captured_log_lines
from tests.unit.support import aws_stack
from tools import cli

POSTED = "2026-01-01T00:00:00.000000Z"


def credit(partition: str, entry: str, amount: int, **attributes) -> None:
    """A balance change and its journal entry in one transaction, as the ledger writes them."""
    transaction = Transaction(Account)
    transaction.update(Account(partition), [Account.balance.add(amount)], owner="balance")
    transaction.save(JournalEntry(partition, entry, posted=JournalEntry.posted_key(POSTED, entry),
                                  amount=amount, request_id=entry.split("#")[1], **attributes),
                     condition=JournalEntry.entry.does_not_exist(), owner="journal")
    transaction.commit()


def trade_phase(tenant: str, trans_id: str, phase: str, legs) -> None:
    """One settlement phase: legs (account id, leg, amount) in one transaction."""
    transaction = Transaction(Account)
    for account_id, leg, amount in legs:
        partition = Account.key(tenant, account_id)[0]
        transaction.update(Account(partition), [Account.balance.add(amount)], owner=("b", leg))
        entry = f"TRADE#{trans_id}#{leg}"
        transaction.save(JournalEntry(partition, entry, posted=JournalEntry.posted_key(POSTED, entry),
                                      amount=amount, request_id=trans_id, trans_id=trans_id,
                                      leg=leg, phase=phase, account_id=account_id, sub_account=1),
                         owner=("j", leg))
    transaction.commit()


@pytest.fixture
def ledger():
    with aws_stack("audit") as stack:
        yield stack


@contextmanager
def after_call(operation: str, action, times: int = 1, model=Account, skip: int = 0):
    """Run `action` after `model`'s `operation` calls (each model has its own client): after the
    first `times` of them, once `skip` have passed."""
    client = model.low_level_client()
    left, skipped = [times], [skip]

    def hook(**_):
        if skipped[0]:
            skipped[0] -= 1
        elif left[0]:
            left[0] -= 1
            action()

    client.meta.events.register(f"after-call.dynamodb.{operation}", hook, unique_id="audit-test")
    try:
        yield
    finally:
        client.meta.events.unregister(f"after-call.dynamodb.{operation}", hook, unique_id="audit-test")


def _books():
    credit("m1#s1", "PAY#1", 500, tenant="m1", saler_id="s1")
    credit("m1#s1", "WITHDRAW#2", -200, tenant="m1", saler_id="s1")
    credit("m2#s1", "PAY#1", 700, tenant="m2", saler_id="s1")
    credit("m2#buyer", "PAY#9", 1000, tenant="m2", saler_id="buyer")
    # A channel's clearing account may go negative: it records what the channel owes.
    trade_phase("m2", "t1", "SYNC", [("buyer", "buyer", -300), ("seller", "seller", 290),
                                     ("@channel:wx", "channel", -10), ("fee", "fee", 20)])


def test_balanced_books_of_two_tenants_are_clean(ledger):
    _books()
    report = auditor.audit()
    assert report.clean and not report.busy, report.as_dict()
    summary = report.as_dict()
    assert summary["verdict"] == "CLEAN"
    assert summary["tenants"] == {"m1": {"accounts": 1, "entries": 2, "balance": 300},
                                  "m2": {"accounts": 5, "entries": 6, "balance": 1700}}
    assert report.trade_phases == 1


def test_a_balance_corrupted_on_purpose_is_caught_and_counted_on_the_alarms_metric(ledger):
    _books()
    # A balance changed without its journal entry (what no code path may do).
    ledger.dynamodb.update_item(TableName=ledger.ledger_table,
                                Key={"account": {"S": "m1#s1"}, "entry": {"S": "ACCOUNT"}},
                                UpdateExpression="ADD balance :one",
                                ExpressionAttributeValues={":one": {"N": "1"}})
    report = auditor.audit()
    assert [d.as_dict() for d in report.differences] == [
        {"check": "balance", "tenant": "m1", "where": "m1#s1", "balance": 301, "journal_sum": 300,
         "entries": 2}]
    with captured_log_lines() as lines:
        auditor.emit(report, now_ms=1_700_000_000_000)
    metric = [line for line in lines if line["event"] == "ledger_audit.difference"]
    assert len(metric) == 1 and metric[0][auditor.DIFFERENCE_METRIC] == 1
    directive = metric[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == auditor.METRIC_NAMESPACE
    assert [] in directive["Dimensions"]            # the series the alarm watches
    run = [line for line in lines if line["event"] == "ledger_audit.run"]
    assert run[0]["difference_count"] == 1 and run[0]["verdict"] == "DIFFERENCES"


def test_a_journal_entry_without_an_account_item_is_a_difference(ledger):
    ledger.dynamodb.put_item(TableName=ledger.ledger_table, Item={
        "account": {"S": "m1#ghost"}, "entry": {"S": "PAY#5"}, "posted": {"S": "x#PAY#5"},
        "amount": {"N": "40"}, "request_id": {"S": "5"}})
    [difference] = auditor.audit().differences
    assert difference.as_dict() == {"check": "balance", "tenant": "m1", "where": "m1#ghost",
                                    "balance": None, "journal_sum": 40, "entries": 1}


def test_a_negative_balance_is_a_difference_except_on_a_channels_clearing_account(ledger):
    credit("m1#s1", "WITHDRAW#1", -50, tenant="m1", saler_id="s1")
    credit("m1#@channel:wx", "TRADE#t9#channel", -50)
    [difference] = auditor.audit().differences
    assert (difference.check, difference.where, difference.detail) == ("negative", "m1#s1", {"balance": -50})


def test_a_trade_phase_whose_postings_do_not_sum_to_zero_is_caught(ledger):
    credit("m1#buyer", "PAY#1", 100, tenant="m1", saler_id="buyer")
    trade_phase("m1", "t2", "SYNC", [("buyer", "buyer", -100), ("seller", "seller", 100)])
    trade_phase("m1", "t3", "SYNC", [("buyer2", "buyer", 0), ("seller2", "seller", 5)])
    [difference] = auditor.audit().differences
    assert (difference.check, difference.tenant, difference.where) == ("trade", "m1", "t3/SYNC")
    assert difference.detail["postings_sum"] == 5


def test_a_credit_landing_between_the_balance_and_journal_reads_is_no_difference(ledger):
    credit("m1#s1", "PAY#1", 100, tenant="m1", saler_id="s1")
    landed = []

    def land():
        landed.append(1)
        credit("m1#s1", f"PAY#{10 + len(landed)}", 7, tenant="m1", saler_id="s1")

    # Right after the auditor read the balance, a credit commits (balance and journal together).
    with after_call("GetItem", land, times=2):
        report = auditor.audit()
    assert landed == [1, 1]
    assert report.clean and not report.busy, report.as_dict()
    assert report.snapshot_retries == 2
    assert report.tenants["m1"].balance == 114


def test_an_account_that_never_holds_still_is_busy_not_different(ledger):
    credit("m1#s1", "PAY#1", 100, tenant="m1", saler_id="s1")
    count = iter(range(1000))

    def land():
        credit("m1#s1", f"PAY#{100 + next(count)}", 1, tenant="m1", saler_id="s1")

    with after_call("GetItem", land, times=1000):
        report = auditor.audit(snapshot_tries=3, sleep=lambda _: None)
    assert report.clean and report.busy == ["m1#s1"]


def test_a_phase_committed_between_two_accounts_reads_is_read_again_not_reported(ledger, monkeypatch):
    reread = []
    original = auditor._reread_trades
    monkeypatch.setattr(auditor, "_reread_trades",
                        lambda ids, size: reread.append(ids) or original(ids, size))
    credit("m1#a", "PAY#1", 100, tenant="m1", saler_id="a")
    credit("m1#z", "PAY#1", 100, tenant="m1", saler_id="z")

    # After m1#a's journal was read (and before m1#z's), a phase moves money from a to z.
    def settle():
        trade_phase("m1", "t5", "SYNC", [("a", "a", -60), ("z", "z", 60)])

    # m1#a: a count, then the journal (Query 2); m1#z: a count, then the journal.
    with after_call("Query", settle, model=JournalEntry, skip=1):
        report = auditor.audit()
    assert report.clean, report.as_dict()
    assert report.trade_phases == 1 and report.snapshot_retries == 0 and reread == [["t5"]]
    # m1#a was read before the phase (100), m1#z after it (160, with its leg): one leg of the
    # phase was seen, the other was read again. (Each account is one moment; the tenant's
    # total is not.)
    assert (report.tenants["m1"].entries, report.tenants["m1"].balance) == (3, 260)


def test_the_command_line_prints_its_verdict_and_exits_by_it(ledger, capsys):
    _books()
    assert cli.main(["audit-ledger"]) == cli.EXIT_AUDIT_CLEAN
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["verdict"] == "CLEAN"
    assert cli.main(["audit-ledger", "--tenant", "m1"]) == cli.EXIT_AUDIT_CLEAN
    assert set(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["tenants"]) == {"m1"}
    ledger.dynamodb.update_item(TableName=ledger.ledger_table,
                                Key={"account": {"S": "m2#s1"}, "entry": {"S": "ACCOUNT"}},
                                UpdateExpression="ADD balance :minus",
                                ExpressionAttributeValues={":minus": {"N": "-1"}})
    assert cli.main(["audit-ledger"]) == cli.EXIT_AUDIT_DIFFERENCES
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["verdict"] == "DIFFERENCES" and line["differences"][0]["where"] == "m2#s1"


def test_a_torn_read_is_read_again_and_withdrawn_but_a_real_difference_stands(ledger):
    credit("m1#s1", "PAY#1", 100, tenant="m1", saler_id="s1")
    torn = []

    def tear(parsed, **_):
        # The first balance read answers as if a credit's balance update were not visible yet.
        if not torn and "Item" in parsed:
            torn.append(1)
            parsed["Item"]["balance"] = {"N": "93"}

    client = Account.low_level_client()
    client.meta.events.register("after-call.dynamodb.GetItem", tear, unique_id="tear")
    try:
        report = auditor.audit(sleep=lambda _: None)
    finally:
        client.meta.events.unregister("after-call.dynamodb.GetItem", tear, unique_id="tear")
    assert torn == [1]
    assert report.clean and (report.confirmations, report.withdrawn) == (1, 1), report.as_dict()

    ledger.dynamodb.update_item(TableName=ledger.ledger_table,
                                Key={"account": {"S": "m1#s1"}, "entry": {"S": "ACCOUNT"}},
                                UpdateExpression="ADD balance :one",
                                ExpressionAttributeValues={":one": {"N": "1"}})
    report = auditor.audit(snapshot_tries=3, sleep=lambda _: None)
    assert len(report.differences) == 1 and report.withdrawn == 0
    assert report.confirmations == 2            # every re-read showed it again
