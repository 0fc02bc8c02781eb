"""Two tenants exported and reconciled in one window: each under its own folders
(incoming/<tenant>/<batch>/, results/<tenant>/<batch>/), each balanced on its own orders and
accounts only, though both use the same saler ids and the same request ids."""
import csv
import io
import json
import random

import pytest

from chalicelib.data import binding
from chalicelib.recon import engine
from chalicelib.recon import s3 as bucket_io
from chalicelib.recon import service as recon
from chalicelib.recon.store import BatchStore
from infra.local_stack import MERCHANT_TEMPLATE
from infra.provision import load_template, provision

START, END = "2026-11-02 00:00:00", "2026-11-03 00:00:00"
BATCH = "20261102"
TENANTS = ("alpha", "beta")
SALERS = ("saler0", "saler1", "saler2")


def _day(world, tenant, merchant_table, seed):
    """One tenant's day; request ids are made from the minute alone, so both tenants use the
    same ones (and the same salers), with other amounts."""
    rnd = random.Random(seed)
    for i, saler in enumerate(SALERS):
        world.pay(saler, 1000 * (seed + 1) + i, f"2026-11-01 1{i}:00:00", tenant=tenant,
                  rid=f"20261101100000{i:06d}", merchant_table=merchant_table)
    world.aggregate("2026-11-01 20:00:00")
    for minute in range(20):
        at = f"2026-11-02 {8 + minute // 10:02d}:{minute % 10 * 5:02d}:00"
        world.pay(rnd.choice(SALERS), rnd.randint(1, 500), at, tenant=tenant,
                  rid=f"20261102080000{minute:06d}", merchant_table=merchant_table)
        if minute % 5 == 4:
            world.aggregate(at)
            world.withdraw(rnd.choice(SALERS), rnd.randint(1, 1500), at, tenant=tenant,
                           rid=f"20261102090000{minute:06d}", merchant_table=merchant_table)
    world.aggregate("2026-11-02 23:00:00")


@pytest.fixture
def merchant_tables(world):
    """Each tenant's merchant system keeps its own orders: a second merchant table for beta (the
    merchant system is its own stack, with its own template)."""
    other = provision(world.dynamodb, world.sqs, "exports-beta", load_template(MERCHANT_TEMPLATE),
                      s3=world.s3, threads=1)
    return {"alpha": world.merchant_table, "beta": other.tables["MerchantOrdersTable"]}


def test_two_tenants_in_one_window_give_two_separate_correct_result_sets(world, merchant_tables,
                                                                          tmp_path):
    for seed, tenant in enumerate(TENANTS):
        _day(world, tenant, merchant_tables[tenant], seed)

    for tenant in TENANTS:
        # Each tenant's merchant system exports from its own stage, whose setting names its table.
        with binding.override({"MERCHANT_ORDERS_TABLE": merchant_tables[tenant]}):
            report = world.export(BATCH, START, END, tenant=tenant,
                                  merchant_orders_table=merchant_tables[tenant])
        assert report.exported and report.tenant == tenant
    keys = world.keys()
    assert {k.split("/")[1] for k in keys} == set(TENANTS)
    # The same request ids in both tenants, each tenant's file holding its own orders only.
    alpha, beta = (world.rows(BATCH, "payment", "pay.csv", tenant=t) for t in TENANTS)
    assert {r["request_id"] for r in alpha} == {r["request_id"] for r in beta}
    assert {r["response_id"] for r in alpha}.isdisjoint(r["response_id"] for r in beta)

    store = BatchStore()
    ctx = recon.Recon(s3=world.s3, sqs=world.sqs, store=store, bucket=world.bucket, queue_url="",
                      options=engine.EngineOptions(work_dir=tmp_path / "work",
                                                   memory_limit="256MB", threads=1))
    # The events the bucket sends name each tenant's batch by its manifest's key.
    batches = {bucket_io.manifest_batch(k) for k in keys if k.endswith("/_manifest.json")}
    assert batches == {bucket_io.BatchRef(t, BATCH) for t in TENANTS}
    for batch in sorted(batches, key=lambda b: b.tenant):
        outcome = recon.process_batch(ctx, batch)
        assert (outcome["tenant"], outcome["outcome"], outcome["status"]) == (
            batch.tenant, "CLAIMED", "DONE")

    expected_balances = {}
    for tenant in TENANTS:
        pointer = json.loads(world.get(f"results/{tenant}/{BATCH}/latest.json"))
        assert pointer["prefix"].startswith(f"results/{tenant}/{BATCH}/runs/")
        summary = json.loads(world.get(pointer["prefix"] + "summary.json"))
        assert summary["balanced"], summary
        for kind in ("pay", "withdraw"):
            exported = len(world.rows(BATCH, "payment", f"{kind}.csv", tenant=tenant))
            assert summary["recon"][kind]["F000"]["count"] == exported > 0
        assert summary["audit"]["SUCCESS"] == summary["audit"]["accounts"] == len(SALERS)
        audit = list(csv.DictReader(io.StringIO(world.get(pointer["prefix"] + "audit.csv").decode())))
        expected_balances[tenant] = {r["saler_id"]: r["balance"] for r in audit}
        assert store.get(f"{tenant}/{BATCH}")["status"] == "DONE"
        view = recon.batch_view(store, world.bucket, bucket_io.BatchRef(tenant, BATCH))
        assert (view["tenant"], view["batch"], view["status"]) == (tenant, BATCH, "DONE")
    # Same saler ids, each tenant's own balances (its opening pays differ by 1000 a saler).
    assert expected_balances["alpha"] != expected_balances["beta"]
    for tenant in TENANTS:
        balances = {r["saler_id"]: r["balance"]
                    for r in world.rows(BATCH, "payment", "balances.csv", tenant=tenant)}
        assert balances == expected_balances[tenant]
