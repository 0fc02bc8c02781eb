"""Skewed and Zipf-like key distributions against the plain-Python reference: one id
repeated on most rows, a few ids covering most rows, heavy tails; both sides, in one join
and in buckets."""
import threading
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.recon.support import batch_files, orders, read_csv
from tests.recon.test_property import (_opt, _order_file, amounts, reference_audit, reference_balances,
                                       reference_duplicate_lines, reference_lines, reference_orders,
                                       reference_recon, _write)

SALERS = ["s0", "s1", "s2"]


def zipf_keys(exponent: float, count: int = 12):
    """Keys r0..r<count-1> sampled with weight 1 / rank**exponent (as a weighted list)."""
    weights = [max(1, int(60 / (rank + 1) ** exponent)) for rank in range(count)]
    return [f"r{rank}" for rank, weight in enumerate(weights) for _ in range(weight)]


distributions = st.sampled_from([
    ("one id", ["hot"] * 30 + ["r1", "r2"]),
    ("few ids", ["a"] * 20 + ["b"] * 15 + ["c"] * 10 + [f"r{i}" for i in range(6)]),
    ("zipf 1.1", zipf_keys(1.1)),
    ("zipf 2", zipf_keys(2.0)),
])


@st.composite
def skewed_rows(draw, keys):
    row = st.tuples(st.sampled_from(["q", "qq", ""]), st.sampled_from(keys),
                    st.sampled_from(SALERS * 5 + [""]), amounts, st.sampled_from(["ok"] * 15 + ["short"]))
    return draw(st.lists(row, max_size=40))


plain = {"order": [0, 1, 2, 3], "extra": False, "quote_all": False, "crlf": False, "bom": False,
         "blank_lines": False}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@pytest.mark.parametrize("options", [None, 150], indirect=True, ids=["one_join", "buckets"])
@given(distribution=distributions, data=st.data())
def test_skewed_keys_agree_with_the_reference(reconcile, options, distribution, data):
    _, keys = distribution
    mp, pp = data.draw(skewed_rows(keys)), data.draw(skewed_rows(keys))
    balances = [("s0", "5", "0", "ok"), ("s1", "-3", "0", "ok")]
    files = {"merchant": {"pay.csv": _order_file("total_fee", mp, plain),
                          "withdraw.csv": _order_file("withdraw_money", [], plain)},
             "payment": {"pay.csv": _order_file("total_fee", pp, plain),
                         "withdraw.csv": _order_file("withdraw_money", [], plain),
                         "balances.csv": _write(["saler_id", "balance"],
                                                [((s, b), shape) for s, b, _, shape in balances],
                                                dict(plain, order=[0, 1]))}}
    outcome, out = reconcile(files)
    assert outcome.status == "DONE"
    m_valid, _ = reference_orders("merchant/pay.csv", files["merchant"]["pay.csv"], "total_fee")
    p_valid, _ = reference_orders("payment/pay.csv", files["payment"]["pay.csv"], "total_fee")
    got = read_csv(out / "pay_recon.csv")
    lines = Counter((r["response_id"], r["diff_type"], r["merchant_total_fee"], r["payment_total_fee"],
                     r["saler_id"], r["request_id"], r["note"], r["rows"]) for r in got)
    assert lines == reference_lines("pay", m_valid, p_valid)
    # A duplicated id is one line per side, however many rows it has.
    dup_lines, duplicated = reference_duplicate_lines("pay", m_valid, p_valid)
    assert sum(1 for r in got if r["diff_type"] == "DUPLICATE") == len(dup_lines)
    sample = read_csv(out / "pay_duplicates.csv") if duplicated else []
    per_id = Counter((r["response_id"], r["side"]) for r in sample)
    assert all(n <= 5 for n in per_id.values())
    assert set(per_id) == {(line[0], "merchant" if line[2] else "payment") for line in dup_lines}
    records = reference_recon(m_valid, p_valid)
    balance_rows, _ = reference_balances(files["payment"]["balances.csv"])
    expected_audit = reference_audit(records, [], m_valid, [], balance_rows)
    got_audit = {r["saler_id"]: (r["balance"], r["opening_balance"], r["balance_change"],
                                 r["result"], r["audit_amount"], r["difference"],
                                 r["f113_amount"], r["f114_amount"], r["f115_amount"],
                                 r["duplicate_amount"], r["saler_mismatch_amount"], r["unexplained_amount"])
                 for r in read_csv(out / "audit.csv")}
    assert got_audit == expected_audit
    summary = outcome.document["recon"]["pay"]["DUPLICATE"]
    assert summary["response_ids"] == len(duplicated)
    assert summary["count"] == sum(int(line[7]) for line in dup_lines)
    assert _opt(summary["merchant_amount"] or None) == _opt(sum(r[3] for r in m_valid if r[0] in duplicated) or None)


@pytest.mark.parametrize("options", [None, 150_000], indirect=True, ids=["one_join", "buckets"])
def test_an_id_on_twenty_thousand_rows_of_each_side_is_one_line_per_side(reconcile, options):
    # Joined as rows, this id alone would make 400 million pairs: an engine that joins
    # before it counts never finishes here (the daemon thread lets the test fail instead).
    rows = [(f"q{i}", "hot", "s0", "1") for i in range(20_000)]
    files = batch_files(merchant_pay=orders("total_fee", rows), payment_pay=orders("total_fee", rows))
    done = {}
    worker = threading.Thread(target=lambda: done.update(result=reconcile(files)), daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert "result" in done, "the reconciliation did not finish in 120 s"
    outcome, out = done["result"]
    assert outcome.status == "DONE"
    lines = [(r["diff_type"], r["rows"], r["merchant_total_fee"], r["payment_total_fee"])
             for r in read_csv(out / "pay_recon.csv")]
    assert sorted(lines) == [("DUPLICATE", "20000", "", "20000"), ("DUPLICATE", "20000", "20000", "")]
    sample = read_csv(out / "pay_duplicates.csv")
    assert Counter(r["side"] for r in sample) == {"merchant": 5, "payment": 5}
