"""The contract's two worked examples (对账示例 and 稽核示例), exactly."""
import json

import pytest

from tests.recon.support import read_csv, worked_audit_files, worked_recon_files


# Each test twice: the pairs joined at once, and in buckets of 64 bytes (several per file).
pytestmark = pytest.mark.parametrize("options", [None, 64], indirect=True, ids=["one_join", "buckets"])


def test_reconciliation_example_comes_out_as_the_contract_prints_it(reconcile):
    outcome, out = reconcile(worked_recon_files())
    assert outcome.status == "DONE"
    rows = read_csv(out / "pay_recon.csv")
    # 以response_id为基准，比对后的数据 (request_id, response_id, total_fee, diff_type).
    expected = {("request_id_1", "response_id_1", "10", "F000"),
            ("request_id_3", "response_id_3", "4", "F115"),
            ("request_id_4", "response_id_4", "40", "F113"),
            ("request_id_2", "response_id_2", "20", "F114")}
    assert {(r["request_id"], r["response_id"], r["total_fee"], r["diff_type"]) for r in rows} == expected
    assert len(rows) == 4
    # Both sides' amounts are there for every record; discrepancies come first.
    by_id = {r["response_id"]: r for r in rows}
    assert (by_id["response_id_3"]["merchant_total_fee"], by_id["response_id_3"]["payment_total_fee"]) == ("3", "4")
    assert (by_id["response_id_4"]["merchant_total_fee"], by_id["response_id_4"]["payment_total_fee"]) == ("", "40")
    assert (by_id["response_id_2"]["merchant_total_fee"], by_id["response_id_2"]["payment_total_fee"]) == ("20", "")
    assert [r["diff_type"] for r in rows] == ["F113", "F114", "F115", "F000"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["recon"]["pay"]["F115"] == {"count": 1, "merchant_amount": 3, "payment_amount": 4}
    assert summary["recon"]["pay"]["F113"]["payment_amount"] == 40
    assert summary["recon"]["pay"]["F114"]["merchant_amount"] == 20
    assert summary["discrepancies"] == 3 and not summary["balanced"]
    assert not (out / "errors.csv").exists()


def test_audit_example_comes_out_as_the_contract_prints_it(reconcile):
    outcome, out = reconcile(worked_audit_files())
    assert outcome.status == "DONE"
    rows = read_csv(out / "audit.csv")
    # 稽核结果: saler_id, balance, 稽核结果, 稽核金额.
    assert [(r["saler_id"], r["balance"], r["result"], r["audit_amount"]) for r in rows] == [
        ("saler1", "60", "SUCCESS", "60"),
        ("saler2", "100", "FAIL", "80")]
    saler2 = rows[1]
    # The order files agree, so nothing in them explains saler2's 20 fen.
    assert saler2["difference"] == "20"
    assert (saler2["f113_amount"], saler2["f114_amount"], saler2["f115_amount"]) == ("0", "0", "0")
    assert saler2["unexplained_amount"] == "20"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["audit"]["SUCCESS"] == 1 and summary["audit"]["FAIL"] == 1
    assert summary["recon"]["pay"]["F000"]["count"] == 4
    assert summary["recon"]["withdraw"]["F000"]["count"] == 4


def test_each_fail_is_explained_by_the_accounts_discrepancies(reconcile):
    # The reconciliation example's orders against balances that match the payment side.
    files = worked_recon_files()
    files["payment"]["balances.csv"] = b"saler_id,balance\nsaler1,10\nsaler2,44\n"
    outcome, out = reconcile(files)
    rows = {r["saler_id"]: r for r in read_csv(out / "audit.csv")}
    # saler1: merchant says 10 + 20 = 30, balance 10: response_id_2 exists only at the merchant.
    assert rows["saler1"]["result"] == "FAIL"
    assert (rows["saler1"]["difference"], rows["saler1"]["f114_amount"],
            rows["saler1"]["unexplained_amount"]) == ("-20", "-20", "0")
    # saler2: merchant says 3, balance 44: +40 only at the payment side, +1 the F115 difference.
    assert (rows["saler2"]["difference"], rows["saler2"]["f113_amount"], rows["saler2"]["f115_amount"],
            rows["saler2"]["unexplained_amount"]) == ("41", "40", "1", "0")
    report = (out / "report.html").read_text()
    assert "<svg" in report and "saler2" in report and "F115" in report
