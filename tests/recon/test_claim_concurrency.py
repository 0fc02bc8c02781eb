"""Concurrent duplicate events for one batch: exactly one run, on a linearizable endpoint.

moto is not linearizable (two conditional writes can both succeed), so the claims live in
AWS's DynamoDB Local, with moto's server for S3 and SQS: the pair `make serve` uses."""
import threading
import time
from contextlib import contextmanager

import boto3
import pytest

from chalicelib.recon import service
from infra.dynamodb_local import DynamoDBLocal
from infra.embedded_aws import EmbeddedAWS
from infra.provision import provision
from tests.recon.conftest import Stack
from tests.recon.support import worked_recon_files

THREADS = 8


pytestmark = pytest.mark.dynamodb_local


@pytest.fixture(scope="module")
def endpoint():
    with EmbeddedAWS() as aws, DynamoDBLocal() as tables:
        yield {"endpoint_url": aws.url, "dynamodb_endpoint_url": tables.url}


@contextmanager
def _stack(urls, prefix):
    """A fresh stack, its batch model bound to its table on DynamoDB Local inside the block."""
    clients = {name: boto3.session.Session().client(
        name, endpoint_url=urls["dynamodb_endpoint_url" if name == "dynamodb" else "endpoint_url"],
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
        for name in ("dynamodb", "sqs")}
    stack = Stack(provision(clients["dynamodb"], clients["sqs"], prefix), **urls)
    with stack.bound():
        yield stack


def _race(stack, tmp_path, event, runs):
    barrier = threading.Barrier(THREADS)
    outcomes, failures = [], []

    def on_run(batch, folder):
        runs.append(batch)
        time.sleep(0.3)  # others arrive while this run holds the claim

    def worker(n):
        own = Stack(stack.provisioned, endpoint_url=stack.kwargs["endpoint_url"],
                    dynamodb_endpoint_url=stack.dynamodb.meta.endpoint_url)
        ctx = own.context(tmp_path / f"w{n}", on_run=on_run)
        barrier.wait()
        try:
            outcomes.extend(service.handle_sqs_event(ctx, event))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes, failures


def test_concurrent_duplicate_events_run_the_batch_once(endpoint, tmp_path):
    with _stack(endpoint, "race1") as stack:
        stack.upload("demo/race", worked_recon_files())
        event = stack.drain()[-1]
        runs = []
        outcomes, failures = _race(stack, tmp_path, event, runs)
        assert failures == []
        assert runs == ["race"]
        kinds = sorted(o["outcome"] for o in outcomes)
        assert kinds.count("CLAIMED") == 1 and len(kinds) == THREADS
        assert set(kinds) <= {"CLAIMED", "IN_PROGRESS", "ALREADY"}
        winner = next(o for o in outcomes if o["outcome"] == "CLAIMED")
        assert {k.split("/")[4] for k in stack.keys("results/demo/race/runs/")} == {winner["run_id"]}
        store = stack.context(tmp_path).store
        assert store.get("demo/race")["run_id"] == winner["run_id"]
        assert store.get("demo/race")["status"] == "DONE"


def test_concurrent_events_after_a_new_manifest_rerun_once(endpoint, tmp_path):
    with _stack(endpoint, "race2") as stack:
        files = worked_recon_files()
        stack.upload("demo/again", files)
        service.handle_sqs_event(stack.context(tmp_path / "first"), stack.drain()[-1])
        files["merchant"]["pay.csv"] = files["payment"]["pay.csv"]
        stack.upload("demo/again", files, sides=("merchant",))
        event = stack.drain()[-1]
        runs = []
        outcomes, failures = _race(stack, tmp_path, event, runs)
        assert failures == [] and runs == ["again"]
        assert sorted(o["outcome"] for o in outcomes).count("CLAIMED") == 1
        assert len({k.split("/")[4] for k in stack.keys("results/demo/again/runs/")}) == 2
