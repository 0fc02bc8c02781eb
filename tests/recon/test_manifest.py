"""Incomplete and corrupt uploads: the batch is INVALID, error.json says why, nothing else is written."""
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.recon import manifest
from tests.recon.support import manifest_for, worked_recon_files, write_batch

ROOT = Path(__file__).resolve().parents[2]


def _problems(out):
    assert sorted(p.name for p in out.iterdir()) == ["error.json"]
    document = json.loads((out / "error.json").read_text())
    assert document["status"] == "INVALID"
    return [(p["side"], p.get("file"), p["problem"]) for p in document["problems"]]


def test_a_missing_manifest(reconcile):
    files = worked_recon_files()
    outcome, out = reconcile(files, manifests={"payment": None})
    assert outcome.status == "INVALID"
    assert _problems(out) == [("payment", "_manifest.json", "NO_MANIFEST")]


def test_a_listed_file_that_was_not_uploaded(reconcile):
    files = worked_recon_files()
    listed = manifest_for({n: b for n, b in files["merchant"].items() if n != "_manifest"})
    files["merchant"]["withdraw.csv"] = None
    outcome, out = reconcile(files, manifests={"merchant": listed})
    assert _problems(out) == [("merchant", "withdraw.csv", "FILE_MISSING")]


def test_a_truncated_upload_fails_its_checksum(reconcile):
    files = worked_recon_files()
    listed = manifest_for({n: b for n, b in files["payment"].items() if n != "_manifest"})
    files["payment"]["pay.csv"] = files["payment"]["pay.csv"][:-7]
    outcome, out = reconcile(files, manifests={"payment": listed})
    document = json.loads((out / "error.json").read_text())
    [problem] = document["problems"]
    assert (problem["side"], problem["file"], problem["problem"]) == ("payment", "pay.csv", "CHECKSUM_MISMATCH")
    assert problem["expected"] == json.loads(listed)["files"][1]["sha256"]


def test_a_corrupt_upload_is_reported_for_its_checksum_not_for_what_the_engine_made_of_it(reconcile):
    # The checksums are checked beside the engine: a file that fails its checksum and has lost
    # a column on the way is INVALID for the checksum, with nothing else written.
    files = worked_recon_files()
    listed = manifest_for({n: b for n, b in files["merchant"].items() if n != "_manifest"})
    files["merchant"]["pay.csv"] = files["merchant"]["pay.csv"].replace(b"saler_id", b"saler", 1)
    outcome, out = reconcile(files, manifests={"merchant": listed})
    assert outcome.status == "INVALID"
    assert _problems(out) == [("merchant", "pay.csv", "CHECKSUM_MISMATCH")]


def test_a_wrong_row_count(reconcile):
    files = worked_recon_files()
    data = {n: b for n, b in files["merchant"].items() if n != "_manifest"}
    document = json.loads(manifest_for(data))
    document["files"][0]["rows"] += 1
    outcome, out = reconcile(files, manifests={"merchant": json.dumps(document).encode()})
    assert _problems(out) == [("merchant", "pay.csv", "ROW_COUNT_MISMATCH")]


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"files": [{"name": "pay.csv"}]}',
                                 b'{"files": [{"name": "../pay.csv", "rows": 1, "sha256": "' + b"0" * 64 + b'"}]}'])
def test_a_malformed_manifest(reconcile, raw):
    outcome, out = reconcile(worked_recon_files(), manifests={"merchant": raw})
    assert _problems(out) == [("merchant", "_manifest.json", "BAD_MANIFEST")]


def test_a_manifest_that_omits_a_required_file(reconcile):
    files = worked_recon_files()
    only_pay = manifest_for({"pay.csv": files["merchant"]["pay.csv"]})
    outcome, out = reconcile(files, manifests={"merchant": only_pay})
    assert _problems(out) == [("merchant", "_manifest.json", "FILE_NOT_LISTED")]


def test_every_problem_is_reported_at_once(reconcile):
    files = worked_recon_files()
    listed = manifest_for({n: b for n, b in files["payment"].items() if n != "_manifest"})
    files["payment"]["pay.csv"] = b"tampered\n"
    outcome, out = reconcile(files, manifests={"payment": listed, "merchant": b"{}"})
    assert _problems(out) == [("merchant", "_manifest.json", "BAD_MANIFEST"),
                              ("payment", "pay.csv", "CHECKSUM_MISMATCH")]


def test_rows_count_lines_after_the_header_as_wc_does(tmp_path):
    path = tmp_path / "f.csv"
    for content, rows in ((b"h\n", 0), (b"h\na\n", 1), (b"h\na\nb", 2), (b"", 0), (b"h", 0)):
        path.write_bytes(content)
        facts = manifest.file_facts(path)
        assert facts["rows"] == rows, content
        assert facts["sha256"] == hashlib.sha256(content).hexdigest()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=64), chunk=st.integers(min_value=1, max_value=9))
def test_facts_do_not_depend_on_where_the_reads_split_the_file(tmp_path, monkeypatch, content, chunk):
    monkeypatch.setattr(manifest, "CHUNK", chunk)
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    lines = content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)
    assert manifest.file_facts(path) == {"rows": max(lines - 1, 0), "bytes": len(content),
                                         "sha256": hashlib.sha256(content).hexdigest()}


def test_a_manifest_made_with_sha256sum_and_wc_is_accepted(tmp_path, options):
    """The recipe of the reconciliation page (docs/recon-files.md), run as written."""
    folder = write_batch(tmp_path / "b", worked_recon_files())
    for side in ("merchant", "payment"):
        (folder / side / "_manifest.json").unlink()
    page = (ROOT / "docs" / "recon-files.md").read_text(encoding="utf-8")
    script = page.split("<!-- manifest-recipe -->")[1].split("```")[1]
    script = script.split("\n", 1)[1]  # drop the fence's language tag
    for side in ("merchant", "payment"):
        subprocess.run(["bash", "-c", script], cwd=folder / side, check=True)
    from chalicelib.recon import batch
    outcome = batch.reconcile_folder(folder, tmp_path / "out", options)
    assert outcome.status == "DONE", outcome.document


def test_cli_exit_status_and_files(tmp_path):
    folder = write_batch(tmp_path / "seed", worked_recon_files())
    run = subprocess.run([sys.executable, "-m", "tools.cli", "recon", str(folder), str(tmp_path / "out"),
                          "--memory-limit", "128MB"], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1, run.stderr  # reconciled, with discrepancies
    line = json.loads(run.stdout)
    assert line["discrepancies"] == 3 and line["status"] == "DONE"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "audit.csv", "pay_recon.csv", "report.html", "summary.json", "withdraw_recon.csv"]
    (folder / "payment" / "pay.csv").write_bytes(b"changed\n")
    run = subprocess.run([sys.executable, "-m", "tools.cli", "recon", str(folder), str(tmp_path / "out")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2 and "CHECKSUM_MISMATCH" in (tmp_path / "out" / "error.json").read_text()
    # The out folder holds the new outcome only: no stale results beside error.json.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["error.json"]
