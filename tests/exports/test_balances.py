"""balances.csv: balances as of the window's end and start, from the journal, by response_time;
and the refusal while a pay answered before the end is not yet credited."""
import pytest

from chalicelib.dynamo import from_item
from chalicelib.exports import balances
from chalicelib.exports import service as exports
from chalicelib.exports.window import Window
from chalicelib.payments import accounts, sweeper

START, END = "2026-11-02 00:00:00", "2026-11-03 00:00:00"


def balance_rows(world, batch):
    return {r["saler_id"]: (int(r["balance"]), int(r["opening_balance"]))
            for r in world.rows(batch, "payment", "balances.csv")}


def test_balance_as_of_the_end_and_opening_balance_as_of_the_start(world):
    world.pay("a", 1000, "2026-11-01 10:00:00")                   # before the window: opening
    world.aggregate("2026-11-01 10:01:00")
    world.withdraw("a", 100, "2026-11-01 11:00:00")
    world.pay("a", 500, "2026-11-02 09:00:00")                    # inside
    world.pay("b", 70, "2026-11-02 23:59:59")                     # inside, at end - 1 s
    world.aggregate("2026-11-02 23:59:59")
    world.withdraw("a", 200, "2026-11-02 10:00:00")               # inside
    world.pay("a", 9000, "2026-11-03 00:00:00")                   # at the end: out
    world.pay("c", 9000, "2026-11-03 08:00:00")                   # after: no row at all
    world.aggregate("2026-11-03 08:01:00")
    world.withdraw("a", 300, "2026-11-03 09:00:00")               # after: out

    assert world.export("day2", START, END).exported

    assert balance_rows(world, "day2") == {"a": (900 + 500 - 200, 900), "b": (70, 0)}
    # The journal today holds everything; the file is as of the cutoff.
    assert accounts.account_view(world.payments(), "a")["balance"] == 900 + 500 - 200 + 9000 - 300


def test_a_credit_posted_after_the_cutoff_for_a_pay_answered_before_it_is_in_the_balance(world):
    world.pay("late", 40, "2026-11-02 23:59:58")
    world.aggregate("2026-11-03 00:10:00")          # credited 10 minutes after the cutoff

    assert world.export("day2", START, END).exported

    assert balance_rows(world, "day2") == {"late": (40, 0)}
    [entry] = [from_item(i) for i in world.dynamodb.scan(
        TableName=world.provisioned.tables["LedgerTable"])["Items"] if from_item(i)["entry"] != "ACCOUNT"]
    assert entry["response_time"] == "2026-11-02 23:59:58"
    assert entry["posted"].startswith("2026-11-02T16:10:00")        # posted after the cutoff (UTC)


def test_the_payment_side_refuses_while_a_pay_before_the_end_is_not_credited(world):
    world.pay("p", 10, "2026-11-02 08:00:00")
    world.aggregate("2026-11-02 08:01:00")
    pending = world.pay("p", 25, "2026-11-02 22:00:00")              # its credit still queued
    world.pay("p", 99, "2026-11-03 01:00:00")                        # after the end: irrelevant

    report = world.export("day2", START, END)

    payment = report.sides["payment"]
    assert payment.outcome == exports.PENDING_CREDITS
    assert payment.pending_credits == {"count": 1, "amount": 25, "request_ids": [pending.request_id]}
    assert "not yet credited" in payment.detail
    assert report.sides["merchant"].outcome == exports.EXPORTED      # the sides are independent
    assert not [k for k in world.keys() if "/payment/" in k]          # nothing uploaded for it
    assert not report.exported

    world.aggregate("2026-11-03 01:05:00")
    again = world.export("day2", START, END)
    assert again.exported
    assert balance_rows(world, "day2") == {"p": (35, 0)}


def test_the_unsettled_marker_lagging_the_credit_does_not_block(world):
    # The credit is journaled but the sweeper has not yet cleared the order's marker.
    world.pay("m", 15, "2026-11-02 08:00:00")
    world.aggregate("2026-11-02 08:01:00")
    orders = world.provisioned.tables["OrdersTable"]
    assert world.dynamodb.scan(TableName=orders, IndexName="unsettled")["Count"] == 1

    assert world.export("day2", START, END).exported
    assert balance_rows(world, "day2") == {"m": (15, 0)}

    sweeper.run(world.payments(), grace_seconds=0)                   # clears it
    assert world.dynamodb.scan(TableName=orders, IndexName="unsettled")["Count"] == 0


def test_other_tenants_accounts_are_not_exported(world):
    world.pay("mine", 10, "2026-11-02 08:00:00")
    world.clock.set("2026-11-02 08:00:00")
    from chalicelib.payments import service
    from chalicelib.payments.messages import PayRequest
    other = world.payments(tenant="other")
    service.pay(other, PayRequest(request_time="2026-11-02 08:00:00", request_id="20261102080000999999",
                                  saler_id="theirs", total_fee=5))
    world.aggregate("2026-11-02 08:01:00")
    pending_elsewhere = world.payments(tenant="other")
    world.clock.set("2026-11-02 09:00:00")
    service.pay(pending_elsewhere, PayRequest(request_time="2026-11-02 09:00:00",
                                              request_id="20261102090000999999", saler_id="theirs",
                                              total_fee=7))            # other tenant, not credited

    report = world.export("day2", START, END)

    assert report.exported                                           # not blocked by the other tenant
    assert balance_rows(world, "day2") == {"mine": (10, 0)}
    assert [r["saler_id"] for r in world.rows("day2", "payment", "pay.csv")] == ["mine"]


@pytest.mark.parametrize("segments", [1, 3])
def test_a_parallel_scan_sums_the_same(world, segments):
    for i in range(40):
        world.pay(f"s{i % 5}", 10 + i, f"2026-11-0{1 + i % 3} 10:{i:02d}:00")
    world.aggregate("2026-11-03 12:00:00")
    for i in range(5):
        world.withdraw(f"s{i}", 5, f"2026-11-02 11:0{i}:00")

    found = balances.balances_as_of("default", Window.parse(START, END), page_size=7,
                                    segments=segments)

    expected = {}
    for i in range(40):
        day = 1 + i % 3
        saler = f"s{i % 5}"
        balance, opening = expected.get(saler, (0, 0))
        expected[saler] = (balance + (10 + i if day <= 2 else 0), opening + (10 + i if day == 1 else 0))
    for i in range(5):
        balance, opening = expected[f"s{i}"]
        expected[f"s{i}"] = (balance - 5, opening)
    assert {a.saler_id: (a.balance, a.opening_balance) for a in found} == expected
    assert [a.saler_id for a in found] == sorted(expected)


def test_journal_entries_without_response_time_are_placed_by_their_posting_time(world):
    ledger = world.provisioned.tables["LedgerTable"]
    from chalicelib.dynamo import to_item
    # Written before entries carried response_time: posted 2026-11-02 01:00 UTC = 09:00 China time.
    world.dynamodb.put_item(TableName=ledger, Item=to_item({
        "account": "default#old", "entry": "PAY#20261102085959000001", "amount": 60,
        "posted": "2026-11-02T01:00:00.000000Z#PAY#20261102085959000001", "tenant": "default",
        "saler_id": "old", "request_id": "20261102085959000001"}))
    world.dynamodb.put_item(TableName=ledger, Item=to_item({
        "account": "default#old", "entry": "PAY#20261103085959000001", "amount": 9,
        "posted": "2026-11-03T01:00:00.000000Z#PAY#20261103085959000001", "tenant": "default",
        "saler_id": "old", "request_id": "20261103085959000001"}))

    found = balances.balances_as_of("default", Window.parse(START, END), 10)

    assert [(a.saler_id, a.balance, a.opening_balance) for a in found] == [("old", 60, 0)]
