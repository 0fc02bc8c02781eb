"""Malformed files: random bytes, NUL bytes, unterminated quotes, a quote inside an unquoted
field, a truncated last line, mixed line ends, GBK with and without its declaration. Every
batch ends DONE, or INVALID with a reason; nothing crashes or hangs, and nothing is written
outside the batch's own result folder."""
import hashlib
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.recon import batch
from chalicelib.recon.formats import RESULT_FILES
from tests.recon.support import batch_files, write_batch

HEADER = b"request_id,response_id,saler_id,total_fee,memo\n"
GOOD = [b"q1,r1,s1,10,ok\n", b"q2,r2,s1,20,\n", b'q3,r3,s2,3,"a, b"\n']
DAMAGE = [
    b"\x00\x00\x00", b"q4,r\x004,s1,4,x\n", b'"q5,r5,s1,5,never closed\n', b'q6,r"6,s1,6,x\n',
    b"q7,r7,s1,7", b"q8,r8,s1,8,x\r", b"q9,r9,s1,9,x\r\n", b'q10,"r10"x,s1,10,y\n',
    "q11,r11,商户,11,备注\n".encode("gbk"), "q12,r12,商户,12,备注\n".encode("utf-8"),
    b"\xff\xfe\xfd\n", b",,,,\n", b"q13,r13,s1\n", b"q14,r14,s1,14,a,b,c\n", b'"""\n', b"\n\n\r\n",
]
pieces = st.one_of(st.sampled_from(GOOD + DAMAGE), st.binary(max_size=40))
files = st.tuples(st.booleans(), st.lists(pieces, max_size=12), st.sampled_from([None, "gb18030", "utf-8"]))


def _manifest(data: dict, encodings: dict) -> bytes:
    entries = []
    for name, content in sorted(data.items()):
        if content is None or name == "_manifest":
            continue
        lines = content.count(b"\n") + (0 if content.endswith(b"\n") or not content else 1)
        entry = {"name": name, "rows": max(lines - 1, 0), "sha256": hashlib.sha256(content).hexdigest()}
        if name in encodings:
            entry["encoding"] = encodings[name]
        entries.append(entry)
    return json.dumps({"files": entries}).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@pytest.mark.parametrize("options", [None, 64], indirect=True, ids=["one_join", "buckets"])
@given(merchant=files, payment=files)
def test_every_malformed_file_ends_done_or_invalid_with_a_reason(tmp_path_factory, options, merchant, payment):
    root = tmp_path_factory.mktemp("fuzz")
    contents = []
    for with_header, body, _ in (merchant, payment):
        contents.append((HEADER if with_header else b"") + b"".join(body))
    files = batch_files(merchant_pay=contents[0], payment_pay=contents[1])
    declared = [{"pay.csv": enc} if enc else {} for _, _, enc in (merchant, payment)]
    folder = write_batch(root / "batch", files, {
        "merchant": _manifest(files["merchant"], declared[0]),
        "payment": _manifest(files["payment"], declared[1])})
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    started = time.monotonic()
    outcome = batch.reconcile_folder(folder, root / "out", options, batch="fuzz")
    assert time.monotonic() - started < 120
    assert outcome.status in ("DONE", "INVALID")
    written = {p.name for p in (root / "out").iterdir()}
    assert written <= set(RESULT_FILES)
    if outcome.status == "INVALID":
        assert written == {"error.json"}
        assert outcome.document["reason"] and outcome.document["problems"]
        assert len((root / "out" / "error.json").read_bytes()) <= 16 << 10
    else:
        assert "summary.json" in written and "pay_recon.csv" in written
    # Nothing else appeared: the inputs are untouched and the engine's scratch is gone.
    after = sorted(p.relative_to(root) for p in root.rglob("*") if not p.is_relative_to(root / "out"))
    assert after == before
    assert not any(options.work_dir.iterdir()) if options.work_dir.exists() else True
