"""balances.csv with an opening_balance column: the audit compares the merchant's net of the
batch with the account's movement in the window, balance - opening_balance."""
import json

from tests.recon.support import csv_bytes, orders, read_csv, worked_audit_files


def _with_balances(header, rows):
    files = worked_audit_files()          # saler1 net 60, saler2 net 80
    files["payment"]["balances.csv"] = csv_bytes(header, rows)
    return files


def test_the_movement_in_the_window_is_audited(reconcile):
    # saler1: 1000 before the window, 1060 at its end: moved 60 = its net. saler2: 500 -> 580.
    outcome, out = reconcile(_with_balances(("saler_id", "balance", "opening_balance"),
                                            [("saler1", "1060", "1000"), ("saler2", "580", "500")]))

    rows = {r["saler_id"]: r for r in read_csv(out / "audit.csv")}
    assert [(r["saler_id"], r["balance"], r["result"], r["audit_amount"], r["opening_balance"],
             r["balance_change"], r["difference"]) for r in rows.values()] == [
        ("saler1", "1060", "SUCCESS", "60", "1000", "60", "0"),
        ("saler2", "580", "SUCCESS", "80", "500", "80", "0")]
    assert outcome.document["audit"]["basis"] == "balance - opening_balance"
    assert outcome.document["balanced"]
    html = (out / "report.html").read_text()
    assert "balance − opening balance" in html


def test_a_movement_that_differs_fails_with_the_difference_explained(reconcile):
    files = _with_balances(("opening_balance", "saler_id", "balance", "memo"),      # any order
                           [("1000", "saler1", "1060", "x"), ("500", "saler2", "600", "y")])
    # The payment side also has a pay of 20 for saler2 that the merchant does not (F113).
    files["payment"]["pay.csv"] = orders("total_fee", [
        ("20190829171520000001", "20190829171525000001", "saler1", "10"),
        ("20190829171520000002", "20190829171525000002", "saler2", "100"),
        ("20190829171520000003", "20190829171525000003", "saler1", "40"),
        ("20190829171520000004", "20190829171525000004", "saler1", "20"),
        ("20190829171520000005", "20190829171525000005", "saler2", "20")])

    outcome, out = reconcile(files)

    saler2 = {r["saler_id"]: r for r in read_csv(out / "audit.csv")}["saler2"]
    assert (saler2["result"], saler2["balance_change"], saler2["audit_amount"], saler2["difference"],
            saler2["f113_amount"], saler2["unexplained_amount"]) == ("FAIL", "100", "80", "20", "20", "0")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["audit"]["FAIL"] == 1 and summary["audit"]["SUCCESS"] == 1


def test_without_the_column_opening_balances_are_zero_and_the_worked_example_is_unchanged(reconcile):
    outcome, out = reconcile(worked_audit_files())

    rows = read_csv(out / "audit.csv")
    assert [(r["saler_id"], r["balance"], r["result"], r["audit_amount"]) for r in rows] == [
        ("saler1", "60", "SUCCESS", "60"), ("saler2", "100", "FAIL", "80")]
    assert [(r["opening_balance"], r["balance_change"]) for r in rows] == [("0", "60"), ("0", "100")]
    assert outcome.document["audit"]["basis"] == "balance"


def test_an_unusable_opening_balance_is_a_row_error(reconcile):
    outcome, out = reconcile(_with_balances(("saler_id", "balance", "opening_balance"),
                                            [("saler1", "1060", "1e3"), ("saler2", "580", "500")]))

    assert outcome.status == "DONE"
    [error] = read_csv(out / "errors.csv")
    assert (error["file"], error["line"], error["error"], error["column"], error["value"]) == (
        "payment/balances.csv", "2", "INVALID_AMOUNT", "opening_balance", "1e3")
    saler1 = {r["saler_id"]: r for r in read_csv(out / "audit.csv")}["saler1"]
    assert saler1["result"] == "FAIL" and "no row in payment/balances.csv" in saler1["note"]


def test_opening_balance_named_twice_makes_the_batch_invalid(reconcile):
    outcome, _ = reconcile(_with_balances(("saler_id", "balance", "opening_balance", "opening_balance"),
                                          [("saler1", "60", "0", "0")]))

    assert outcome.status == "INVALID"
    assert [p["problem"] for p in outcome.document["problems"]] == ["DUPLICATE_COLUMN"]
