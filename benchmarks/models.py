"""PynamoDB models beside the raw boto3 call they replace, in the same run, on both backends.

Two writes of the ledger, each interleaved call by call with its raw twin (prepared in advance):
* `put`: one conditional journal put (`JournalEntry.save(condition=...)` vs `put_item`);
* `transaction`: a withdraw's ledger half, the balance debit and its journal guard
  (`chalicelib.data.transactions.Transaction` vs `transact_write_items`).
AWS requests are counted with botocore's `before-send` event on both clients (retries included).
Also the cold import of `app.py` (a fresh interpreter each time), the figure a Lambda's cold
start pays, beside the cold import of the PynamoDB models alone.

    .venv/bin/python -m benchmarks.models --calls 300
"""
import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from benchmarks.run import Figure, RequestCounter, _client
from chalicelib.data import binding
from chalicelib.data.transactions import Transaction
from chalicelib.dynamo import to_item, values
from chalicelib.payments.models.ledger import Account, JournalEntry
from infra.dynamodb_local import DynamoDBLocal
from infra.embedded_aws import EmbeddedAWS
from infra.provision import provision

ROOT = Path(__file__).resolve().parents[1]
POSTED = "2026-11-22T12:00:00.000000Z"
_ids = itertools.count(1)


@contextmanager
def _ledger(backend: str):
    """(raw boto3 client, ledger table) with the models bound to the same table and endpoint."""
    # PynamoDB's client reads region and credentials from the environment, as in a Lambda.
    for name, value in (("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "bench"),
                        ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)
    embedded = EmbeddedAWS().start()
    local = DynamoDBLocal().start() if backend == "dynamodb-local" else None
    url = local.url if local else embedded.url
    try:
        dynamodb = _client("dynamodb", url)
        made = provision(dynamodb, _client("sqs", embedded.url), f"models-{backend}")
        table = made.tables["LedgerTable"]
        with binding.override({"LEDGER_TABLE": table}, host=url):
            yield dynamodb, table
    finally:
        if local:
            local.stop()
        embedded.stop()


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _entry(number: int) -> JournalEntry:
    entry = f"PAY#{number}"
    return JournalEntry("bench#s", entry, posted=JournalEntry.posted_key(POSTED, entry), amount=1,
                        request_id=str(number), tenant="bench", saler_id="s",
                        response_time="2026-11-22 20:00:00")


def _raw_entry(number: int) -> dict:
    entry = f"RAW#{number}"
    return to_item({"account": "bench#s", "entry": entry, "posted": f"{POSTED}#{entry}",
                    "amount": 1, "request_id": str(number), "tenant": "bench", "saler_id": "s",
                    "response_time": "2026-11-22 20:00:00"})


def bench_put(dynamodb, table: str, backend: str, n: int) -> Figure:
    counter = RequestCounter()
    counter.attach(dynamodb)
    counter.attach(JournalEntry.low_level_client())
    handler, raw, requests = [], [], 0
    for _ in range(n):
        model = _entry(next(_ids))
        item = _raw_entry(next(_ids))
        counter.take()
        handler.append(_timed(lambda: model.save(condition=JournalEntry.entry.does_not_exist())))
        requests += counter.take()
        raw.append(_timed(lambda: dynamodb.put_item(TableName=table, Item=item,
                                                    ConditionExpression="attribute_not_exists(entry)")))
    return Figure("journal put", backend, handler, raw, requests / n, "model vs put_item")


def bench_transaction(dynamodb, table: str, backend: str, n: int) -> Figure:
    Account("bench#s", balance=10 * n).save()
    counter = RequestCounter()
    counter.attach(dynamodb)
    counter.attach(Account.low_level_client())
    handler, raw, requests = [], [], 0

    def modelled(number: int) -> None:
        transaction = Transaction(Account)
        transaction.update(Account("bench#s"), [Account.balance.add(-1)],
                           condition=Account.balance >= 1, owner="balance")
        transaction.save(_entry(number), condition=JournalEntry.entry.does_not_exist(), owner="journal")
        transaction.commit()

    for _ in range(n):
        number = next(_ids)
        items = [
            {"Update": {"TableName": table, "Key": to_item({"account": "bench#s", "entry": "ACCOUNT"}),
                        "UpdateExpression": "ADD balance :minus", "ConditionExpression": "balance >= :one",
                        "ExpressionAttributeValues": values(minus=-1, one=1)}},
            {"Put": {"TableName": table, "Item": _raw_entry(next(_ids)),
                     "ConditionExpression": "attribute_not_exists(entry)"}}]
        counter.take()
        handler.append(_timed(lambda: modelled(number)))
        requests += counter.take()
        raw.append(_timed(lambda: dynamodb.transact_write_items(TransactItems=items)))
    return Figure("debit + journal", backend, handler, raw, requests / n,
                  "Transaction (models) vs transact_write_items")


def _cold_import(statement: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="writes of each kind per backend")
    parser.add_argument("--imports", type=int, default=7, help="fresh interpreters per import figure")
    args = parser.parse_args()
    print("| operation | backend | models p50 / p99 ms | raw boto3 p50 / p99 ms | overhead (p50) "
          "| AWS requests per op | note |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for backend in ("embedded", "dynamodb-local"):
        with _ledger(backend) as (dynamodb, table):
            for figure in (bench_put(dynamodb, table, backend, args.calls),
                           bench_transaction(dynamodb, table, backend, args.calls)):
                print(figure.row(), flush=True)
    bare = _cold_import("pass", args.imports)
    app = _cold_import("import app", args.imports)
    models = _cold_import("import chalicelib.payments.models.ledger", args.imports)
    print(f"\ncold import (median of {args.imports} fresh interpreters, interpreter start "
          f"{bare * 1e3:.0f} ms included): app.py {app * 1e3:.0f} ms; "
          f"the ledger models alone {models * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
