"""Fixtures of the reconciliation tests: batch folders, the engine's options, moto with the
template's bucket, queue and table."""
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib.data import binding
from chalicelib.recon import batch, engine, service
from chalicelib.recon.store import BatchStore
from infra.provision import provision


@pytest.fixture
def options(tmp_path, request):
    """The engine's options; a test parametrized indirectly on `options` with a number of
    bytes joins its file pairs in buckets of that size (several buckets even for tiny files)."""
    return engine.EngineOptions(work_dir=tmp_path / "work", memory_limit="256MB", threads=2,
                                bucket_bytes=getattr(request, "param", None))


@pytest.fixture
def reconcile(tmp_path, options):
    """reconcile(files) -> (Outcome, out folder): writes the batch and runs the engine on it."""
    from tests.recon.support import write_batch
    counter = iter(range(1_000_000))

    def run(files, manifests=None):
        n = next(counter)
        folder = write_batch(tmp_path / f"batch{n}", files, manifests)
        out = tmp_path / f"out{n}"
        return batch.reconcile_folder(folder, out, options, batch=f"batch{n}"), out
    return run


class Stack:
    def __init__(self, provisioned, region="us-east-1", endpoint_url=None,
                 dynamodb_endpoint_url=None):
        """`dynamodb_endpoint_url`: DynamoDB elsewhere than `endpoint_url` (DynamoDB Local)."""
        self.provisioned = provisioned
        kwargs = {"region_name": region}
        if endpoint_url:
            kwargs.update(endpoint_url=endpoint_url, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        self.kwargs = kwargs
        self.dynamodb_endpoint_url = dynamodb_endpoint_url
        self.s3 = boto3.client("s3", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        self.dynamodb = boto3.client("dynamodb", **dict(
            kwargs, **({"endpoint_url": dynamodb_endpoint_url} if dynamodb_endpoint_url else {})))
        self.bucket = provisioned.buckets["ReconBucket"]
        self.queue_url = provisioned.queues["ReconQueue"]
        self.table = provisioned.tables["ReconBatchesTable"]

    def bound(self):
        """The batch model bound to this stack's table (and DynamoDB endpoint) inside the block."""
        return binding.override({"RECON_BATCHES_TABLE": self.table}, host=self.dynamodb_endpoint_url)

    def context(self, work_dir: Path, **overrides) -> service.Recon:
        return service.Recon(
            s3=overrides.pop("s3", self.s3), sqs=self.sqs, store=BatchStore(),
            bucket=self.bucket, queue_url=self.queue_url,
            options=engine.EngineOptions(work_dir=work_dir, memory_limit="256MB", threads=1),
            **overrides)

    def upload(self, batch_name: str, files, manifests=True, sides=("merchant", "payment")):
        """Upload a batch the way a side does: its files, then its manifest. `batch_name` is
        the batch's folder under incoming/: `<tenant>/<batch>`."""
        from tests.recon.support import manifest_for
        for side in sides:
            data = {n: b for n, b in files[side].items() if n != "_manifest" and b is not None}
            for name, content in data.items():
                self.s3.put_object(Bucket=self.bucket, Key=f"incoming/{batch_name}/{side}/{name}",
                                   Body=content)
            if manifests:
                manifest = manifests.get(side) if isinstance(manifests, dict) else None
                self.s3.put_object(Bucket=self.bucket, Key=f"incoming/{batch_name}/{side}/_manifest.json",
                                   Body=manifest if manifest is not None else manifest_for(data))

    def drain(self, max_messages=10) -> list:
        """The queue's messages as Lambda SQS events (one record each), deleted from the queue."""
        events = []
        while True:
            answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=max_messages,
                                              WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append({"Records": [{
                    "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"], "eventSource": "aws:sqs",
                    "eventSourceARN": self.provisioned.arns["ReconQueue"]}]})
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def text(self, key: str) -> str:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")

    def keys(self, prefix: str) -> list:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@contextmanager
def moto_stack():
    with mock_aws():
        provisioned = provision(boto3.client("dynamodb", region_name="us-east-1"),
                                boto3.client("sqs", region_name="us-east-1"), "recon-test", threads=1)
        created = Stack(provisioned)
        with created.bound():
            yield created


@pytest.fixture
def stack():
    with moto_stack() as created:
        yield created
