"""The batch claim on AWS's DynamoDB Local: real conditional-write semantics, real concurrency."""
import threading

import pytest

from chalicelib.data import binding
from chalicelib.recon.store import (ALREADY, BUSY, CLAIMED, DONE, FAILED, IN_PROGRESS, INVALID,
                                    BatchStore)
from infra.dynamodb_local import DynamoDBLocal, DynamoDBLocalMissing
from infra.provision import load_template

pytestmark = pytest.mark.dynamodb_local


@pytest.fixture(scope="module")
def store():
    try:
        local = DynamoDBLocal().start()
    except DynamoDBLocalMissing as missing:
        pytest.skip(str(missing))
    try:
        client = local.client()
        table = load_template()["Resources"]["ReconBatchesTable"]["Properties"]
        client.create_table(TableName="batches", AttributeDefinitions=table["AttributeDefinitions"],
                            KeySchema=table["KeySchema"], BillingMode=table["BillingMode"])
        with binding.override({"RECON_BATCHES_TABLE": "batches"}, host=local.url):
            yield BatchStore()
    finally:
        local.stop()


def _claim(store, batch, fingerprint, run_id, epoch=1000, lease=960):
    return store.claim(batch, fingerprint, run_id, f"t{epoch}", epoch, lease)


def test_claim_lifecycle(store):
    assert store.mark_pending("life", "payment", "t0")
    assert not store.mark_pending("life", "payment", "t0")
    assert _claim(store, "life", "fp1", "run1").outcome == CLAIMED
    assert _claim(store, "life", "fp1", "run2").outcome == IN_PROGRESS
    assert _claim(store, "life", "fp2", "run2").outcome == BUSY
    assert store.finish("life", "run1", DONE, "t1", "results/life/runs/run1/", summary={"n": 1})
    assert not store.finish("life", "run1", DONE, "t1", "results/life/runs/run1/")
    item = store.get("life")
    assert (item["status"], item["summary"], item["run_id"]) == (DONE, {"n": 1}, "run1")
    assert "lease_until" not in item and "waiting_for" not in item
    assert _claim(store, "life", "fp1", "run3").outcome == ALREADY
    assert _claim(store, "life", "fp2", "run4").outcome == CLAIMED
    assert store.finish("life", "run4", INVALID, "t2", "results/life/runs/run4/", error={"reason": "x"})
    item = store.get("life")
    assert item["status"] == INVALID and item["error"] == {"reason": "x"} and "summary" not in item
    assert _claim(store, "life", "fp2", "run5").outcome == ALREADY


def test_failed_runs_and_expired_leases_are_taken_over(store):
    assert _claim(store, "retry", "fp", "run1").outcome == CLAIMED
    assert store.finish("retry", "run1", FAILED, "t", "p/", error={"error": "OSError"})
    assert _claim(store, "retry", "fp", "run2", epoch=1001).outcome == CLAIMED
    # run2 dies; within its lease nobody else runs, after it the batch is taken over.
    assert _claim(store, "retry", "fp", "run3", epoch=1001 + 959).outcome == IN_PROGRESS
    assert _claim(store, "retry", "fp", "run3", epoch=1001 + 961).outcome == CLAIMED
    assert not store.finish("retry", "run2", DONE, "t", "p/")
    assert store.finish("retry", "run3", DONE, "t", "p/")


def test_exactly_one_of_many_concurrent_claims_wins(store):
    for round_ in range(5):
        barrier = threading.Barrier(16)
        outcomes = []

        def claim(n):
            barrier.wait()
            outcomes.append(_claim(store, f"race{round_}", "fp", f"run{n}").outcome)

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(outcomes) == [CLAIMED] + [IN_PROGRESS] * 15
