"""How large a file pair is joined at once: half the memory limit, unless told."""
from pathlib import Path

import pytest

from chalicelib.recon import engine, pairing
from chalicelib.recon.formats import MERCHANT, PAYMENT, FileSpec


@pytest.mark.parametrize("limit, expected", [
    ("640MB", 320_000_000), ("1GiB", 2**29), ("1.5GB", 750_000_000), (" 512 mib ", 2**28),
    (None, None), ("", None), ("80%", None)])
def test_a_pair_may_take_half_the_memory_limit(limit, expected):
    assert engine.EngineOptions(work_dir=Path("."), memory_limit=limit).pair_bytes() == expected


def test_an_explicit_bucket_size_wins_over_the_memory_limit():
    options = engine.EngineOptions(work_dir=Path("."), memory_limit="640MB", bucket_bytes=1000)
    assert options.pair_bytes() == 1000


def _spec(path: Path, side: str, size: int) -> FileSpec:
    path.write_bytes(b"x" * size)
    return FileSpec(side=side, name="pay.csv", path=path, width=4, positions={})


@pytest.mark.parametrize("sizes, bucket_bytes, buckets", [
    ((10, 10), None, 1), ((10, 10), 20, 1), ((10, 11), 20, 2), ((300, 100), 100, 4),
    ((0, 0), 100, 1)])
def test_buckets_keep_each_join_under_the_pair_size(tmp_path, sizes, bucket_bytes, buckets):
    merchant = _spec(tmp_path / "m.csv", MERCHANT, sizes[0])
    payment = _spec(tmp_path / "p.csv", PAYMENT, sizes[1])
    assert pairing.bucket_count(merchant, payment, bucket_bytes) == buckets


@pytest.mark.parametrize("options", [64], indirect=True)
@pytest.mark.parametrize("sendfile", ["works", "refused"])
def test_the_result_file_has_every_record_of_every_bucket(reconcile, monkeypatch, sendfile):
    from tests.recon.support import worked_recon_files
    if sendfile == "refused":
        def refuse(*args):
            raise OSError(22, "sendfile between these files is not supported")
        monkeypatch.setattr("os.sendfile", refuse)
    outcome, out = reconcile(worked_recon_files())
    assert outcome.status == "DONE" and outcome.document["buckets"]["pay"] > 1
    assert sorted(p.name for p in out.iterdir()) == [
        "audit.csv", "pay_recon.csv", "report.html", "summary.json", "withdraw_recon.csv"]
    rows = (out / "pay_recon.csv").read_text().splitlines()
    assert rows[0].startswith("request_id,response_id,total_fee,diff_type,")
    assert sorted(row.split(",")[1] + " " + row.split(",")[3] for row in rows[1:]) == [
        "response_id_1 F000", "response_id_2 F114", "response_id_3 F115", "response_id_4 F113"]


@pytest.mark.parametrize("options", [64], indirect=True)
def test_a_run_that_fails_midway_leaves_no_file_in_the_out_folder(reconcile, monkeypatch, tmp_path):
    from tests.recon.support import worked_recon_files

    def fail(*args):
        raise RuntimeError("disk full")
    monkeypatch.setattr(pairing, "_append_file", fail)
    with pytest.raises(RuntimeError):
        reconcile(worked_recon_files())
    left = [p.name for p in tmp_path.glob("out*/*")] + [p.name for p in tmp_path.glob("out*/.*")]
    assert left == []
