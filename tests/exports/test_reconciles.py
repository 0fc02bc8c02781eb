"""An exported batch, downloaded from the bucket, reconciles with the recon engine: every record
F000 and every account audited SUCCESS, even with money on the accounts before the window."""
import csv
import random

from chalicelib.recon import batch as recon_batch
from chalicelib.recon import engine

START, END = "2026-11-02 00:00:00", "2026-11-03 00:00:00"


def _busy_day(world, seed=3):
    rnd = random.Random(seed)
    salers = [f"saler{i}" for i in range(6)]
    # The day before: money already on the accounts (opening balances).
    for i, saler in enumerate(salers):
        world.pay(saler, 1000 + i, f"2026-11-01 1{i}:00:00")
    world.aggregate("2026-11-01 20:00:00")
    world.withdraw("saler0", 300, "2026-11-01 21:00:00")
    # The window: pays, credits at several moments, withdraws (some refused).
    for minute in range(50):
        at = f"2026-11-02 {8 + minute // 10:02d}:{minute % 10 * 5:02d}:00"
        world.pay(rnd.choice(salers), rnd.randint(1, 500), at)
        if minute % 7 == 6:
            world.aggregate(at)
            world.withdraw(rnd.choice(salers), rnd.randint(1, 900), at)
    world.pay("saler1", 42, "2026-11-02 23:59:59")           # credited after the cutoff
    world.pay("saler2", 99, "2026-11-03 00:00:00")           # next batch
    world.aggregate("2026-11-03 00:05:00")
    world.withdraw("saler3", 5, "2026-11-03 00:06:00")       # next batch


def _reconcile(world, tmp_path, batch):
    folder = world.download(batch, tmp_path / "batch" / batch)
    options = engine.EngineOptions(work_dir=tmp_path / "work", memory_limit="256MB", threads=1)
    return recon_batch.reconcile_folder(folder, tmp_path / "out", options, batch=batch)


def test_an_exported_batch_reconciles_f000_and_audits_success(world, tmp_path):
    _busy_day(world)

    report = world.export("20261102", START, END)
    assert report.exported

    outcome = _reconcile(world, tmp_path, "20261102")
    assert outcome.status == "DONE", outcome.document
    summary = outcome.document
    assert summary["balanced"], summary
    for kind in ("pay", "withdraw"):
        counts = {d: summary["recon"][kind][d]["count"] for d in summary["recon"][kind]}
        assert counts["F000"] == next(f.rows for f in report.sides["payment"].files
                                      if f.name == f"{kind}.csv") > 0
        assert counts["F113"] == counts["F114"] == counts["F115"] == counts["DUPLICATE"] == 0
    audit = summary["audit"]
    assert audit["basis"] == "balance - opening_balance"
    assert audit["FAIL"] == 0 and audit["SUCCESS"] == audit["accounts"] == 6
    # The opening balances are not zero: without them the audit could not succeed.
    assert all(int(r["opening_balance"]) > 0 for r in world.rows("20261102", "payment", "balances.csv"))


def test_an_order_the_merchant_never_recorded_shows_as_f113_and_explains_the_audit(world, tmp_path):
    world.pay("a", 100, "2026-11-02 09:00:00")
    lost = world.pay("a", 30, "2026-11-02 10:00:00", mirror=False)   # the merchant timed out
    world.aggregate("2026-11-02 10:01:00")

    assert world.export("20261102", START, END).exported
    outcome = _reconcile(world, tmp_path, "20261102")

    pay = outcome.document["recon"]["pay"]
    assert (pay["F000"]["count"], pay["F113"]["count"], pay["F113"]["payment_amount"]) == (1, 1, lost.amount)
    assert outcome.document["audit"]["FAIL"] == 1
    with open(tmp_path / "out" / "audit.csv", encoding="utf-8") as stream:
        [row] = list(csv.DictReader(stream))
    assert (row["result"], row["difference"], row["f113_amount"], row["unexplained_amount"]) == (
        "FAIL", "30", "30", "0")
