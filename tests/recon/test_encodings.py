"""GBK/GB18030 exports: declared, they reconcile exactly as their UTF-8 twins; undeclared
(or not valid in the declared encoding), the batch is INVALID naming the file, line and byte."""
import hashlib
import json

import pytest

from tests.recon.support import batch_files, csv_bytes, read_csv

pytestmark = pytest.mark.parametrize("options", [None, 64], indirect=True, ids=["one_join", "buckets"])

HEADER = ("request_time", "request_id", "response_time", "response_id", "saler_id", "total_fee", "备注")
ROWS = [("2019-08-29 17:15:20", "q1", "2019-08-29 17:15:25", "r1", "商户甲", "10", "首单"),
        ("2019-08-29 17:15:21", "q2", "2019-08-29 17:15:26", "r2", "商户乙", "20", "吉野家"),
        ("2019-08-29 17:15:22", "q3", "2019-08-29 17:15:27", "r3", "商户甲", "3", "退款，部分")]
PAYMENT = [("2019-08-29 17:15:20", "q1", "2019-08-29 17:15:25", "r1", "商户甲", "10", "首单"),
           ("2019-08-29 17:15:22", "q3", "2019-08-29 17:15:27", "r3", "商户甲", "4", "退款，部分"),
           ("2019-08-29 17:15:23", "q4", "2019-08-29 17:15:28", "r4", "商户乙", "40", "")]


def _text(rows, encoding):
    return csv_bytes(HEADER, rows).decode("utf-8").encode(encoding)


def _manifest(files, encodings=None):
    entries = []
    for name, data in sorted(files.items()):
        if name == "_manifest" or data is None:
            continue
        entry = {"name": name, "rows": data.count(b"\n") - 1, "sha256": hashlib.sha256(data).hexdigest()}
        if name in (encodings or {}):
            entry["encoding"] = encodings[name]
        entries.append(entry)
    return json.dumps({"files": entries}).encode()


def _batch(merchant_encoding, declare):
    files = batch_files(merchant_pay=_text(ROWS, merchant_encoding),
                        payment_pay=_text(PAYMENT, "utf-8"),
                        balances=csv_bytes(("saler_id", "balance"), [("商户甲", "14"), ("商户乙", "40")]))
    manifests = {"merchant": _manifest(files["merchant"], {"pay.csv": declare} if declare else None),
                 "payment": _manifest(files["payment"])}
    return files, manifests


@pytest.mark.parametrize("encoding,declared", [("gbk", "gb18030"), ("gb18030", "GB18030"),
                                               ("gb18030", "gb18030")])
def test_a_declared_gbk_file_reconciles_exactly_as_its_utf8_twin(reconcile, encoding, declared):
    # GB18030 also has what GBK lacks (𠮷, four bytes in GB18030).
    rows = ROWS if encoding == "gbk" else [r[:6] + ("𠮷野家",) if r[1] == "q2" else r for r in ROWS]
    files = batch_files(merchant_pay=csv_bytes(HEADER, rows).decode().encode(encoding),
                        payment_pay=_text(PAYMENT, "utf-8"),
                        balances=csv_bytes(("saler_id", "balance"), [("商户甲", "14"), ("商户乙", "40")]))
    twin = batch_files(merchant_pay=csv_bytes(HEADER, rows), payment_pay=_text(PAYMENT, "utf-8"),
                       balances=files["payment"]["balances.csv"])
    outcome, out = reconcile(files, {"merchant": _manifest(files["merchant"], {"pay.csv": declared}),
                                     "payment": _manifest(files["payment"])})
    twin_outcome, twin_out = reconcile(twin)
    assert outcome.status == twin_outcome.status == "DONE", outcome.document
    for name in ("pay_recon.csv", "withdraw_recon.csv", "audit.csv"):
        assert (out / name).read_bytes() == (twin_out / name).read_bytes(), name
    assert not (out / "errors.csv").exists()
    assert outcome.document["recon"] == twin_outcome.document["recon"]
    by_id = {r["response_id"]: r for r in read_csv(out / "pay_recon.csv")}
    assert by_id["r2"]["saler_id"] == "商户乙" and by_id["r2"]["diff_type"] == "F114"
    assert by_id["r3"]["备注"] == "退款，部分"


def test_an_undeclared_gbk_file_is_invalid_naming_its_line_and_byte(reconcile):
    files, manifests = _batch("gbk", declare=None)
    data = files["merchant"]["pay.csv"]
    outcome, out = reconcile(files, manifests)
    assert outcome.status == "INVALID"
    assert sorted(p.name for p in out.iterdir()) == ["error.json"]
    problem = json.loads((out / "error.json").read_text())["problems"][0]
    # The header's 备注 is the first byte that is not UTF-8.
    first_bad = data.index("备注".encode("gbk"))
    assert (problem["side"], problem["file"], problem["problem"]) == ("merchant", "pay.csv", "BAD_ENCODING")
    assert problem["found"] == {"line": 1, "offset": first_bad}
    assert f"line 1 (byte offset {first_bad})" in problem["detail"] and "gb18030" in problem["detail"]


def test_a_bad_byte_deep_in_an_undeclared_file_is_named_by_line(reconcile):
    header = ("request_id", "response_id", "saler_id", "total_fee")
    good = csv_bytes(header, [(f"q{i}", f"r{i}", "s1", "1") for i in range(50)])
    data = good + "q50,r50,商户,1\n".encode("gbk")
    files = batch_files(merchant_pay=data)
    outcome, out = reconcile(files)
    assert outcome.status == "INVALID"
    problem = outcome.document["problems"][0]
    assert problem["found"] == {"line": 52, "offset": len(good) + len("q50,r50,")}


def test_a_declared_file_that_is_not_gb18030_is_invalid(reconcile):
    files, _ = _batch("gbk", declare=None)
    files["merchant"]["pay.csv"] += b"q9,r9,s1,9,\xff\xff\n"
    manifests = {"merchant": _manifest(files["merchant"], {"pay.csv": "gb18030"}),
                 "payment": _manifest(files["payment"])}
    outcome, _ = reconcile(files, manifests)
    assert outcome.status == "INVALID"
    problem = outcome.document["problems"][0]
    assert problem["problem"] == "BAD_ENCODING" and problem["found"]["line"] == 5
    assert "GB18030" in problem["detail"]


def test_an_unknown_encoding_is_a_bad_manifest(reconcile):
    files, _ = _batch("utf-8", declare=None)
    manifests = {"merchant": _manifest(files["merchant"], {"pay.csv": "latin-1"}),
                 "payment": _manifest(files["payment"])}
    outcome, _ = reconcile(files, manifests)
    assert outcome.status == "INVALID"
    assert "encoding" in outcome.document["reason"]
