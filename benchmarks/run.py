"""`make bench`: pay, withdraw and the aggregator, each beside the raw AWS calls it needs.

For every operation the handler (the service function the Lambda calls) and a
baseline of the bare AWS requests that operation minimally needs (prepared in
advance, no Python around them) run interleaved in the same process against the
same endpoint, so the ratio survives a noisy machine. AWS requests are counted
with botocore's `before-send` event, retries included.

Backend: the embedded stack's own, AWS's DynamoDB Local for the tables and the
embedded endpoint (moto's server) for SQS. Pay, withdraw and the aggregator write through the
PynamoDB models, bound to the same tables; their clients' requests are counted too.
"""
import argparse
import itertools
import os
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Dict, List

import boto3
from botocore.config import Config

from chalicelib.data import binding, catalog
from chalicelib.dynamo import to_item, values
from chalicelib.payments import aggregator, service
from chalicelib.payments.context import Payments
from chalicelib.payments.credits import Credit
from chalicelib.payments.messages import PayRequest, WithdrawRequest
from infra.dynamodb_local import DynamoDBLocal
from infra.embedded_aws import EmbeddedAWS
from infra.provision import provision

_CONFIG = Config(max_pool_connections=16, retries={"max_attempts": 4, "mode": "standard"})
_ids = itertools.count(1)


def _client(service_name: str, url: str):
    return boto3.session.Session().client(service_name, endpoint_url=url, region_name="us-east-1",
                                          aws_access_key_id="bench", aws_secret_access_key="bench",
                                          config=_CONFIG)


@dataclass
class RequestCounter:
    count: int = 0
    by_operation: Dict[str, int] = field(default_factory=dict)

    def attach(self, client) -> None:
        client.meta.events.register("before-send", self._seen, unique_id=f"count-{id(self)}")

    def attach_models(self) -> None:
        """The payment models' own botocore clients (one per model class)."""
        from chalicelib.payments.models.ledger import Account, JournalEntry
        from chalicelib.payments.models.orders import PaymentOrder, ResponseGuard
        for model in (PaymentOrder, ResponseGuard, Account, JournalEntry):
            self.attach(model.low_level_client())

    def _seen(self, event_name: str = "", **_) -> None:
        self.count += 1
        operation = event_name.rsplit(".", 1)[-1]
        self.by_operation[operation] = self.by_operation.get(operation, 0) + 1

    def take(self) -> int:
        seen, self.count = self.count, 0
        self.by_operation = {}
        return seen


def _request_id() -> str:
    return "20261122120000" + f"{next(_ids):06d}"


def _percentile(samples: List[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@dataclass
class Figure:
    operation: str
    backend: str
    handler: List[float]
    raw: List[float]
    requests_per_op: float
    note: str = ""

    def row(self) -> str:
        h50, h99 = _percentile(self.handler, .5) * 1e3, _percentile(self.handler, .99) * 1e3
        r50, r99 = _percentile(self.raw, .5) * 1e3, _percentile(self.raw, .99) * 1e3
        overhead = (statistics.median(self.handler) / statistics.median(self.raw) - 1) * 100
        return (f"| {self.operation} | {self.backend} | {h50:.2f} / {h99:.2f} | {r50:.2f} / {r99:.2f} "
                f"| {overhead:+.0f} % | {self.requests_per_op:.2f} | {self.note} |")


@contextmanager
def _world(backend: str, prefix: str):
    embedded = EmbeddedAWS().start()
    local = DynamoDBLocal().start()
    try:
        dynamodb = _client("dynamodb", local.url)
        sqs = _client("sqs", embedded.url)
        made = provision(dynamodb, sqs, prefix)
        # PynamoDB's clients read region and credentials from the environment, as in a Lambda.
        for name, value in (("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "bench"),
                            ("AWS_SECRET_ACCESS_KEY", "bench")):
            os.environ.setdefault(name, value)
        tables = {model.Meta.table_setting: made.tables[logical]
                  for logical, models in catalog.models_by_table().items()
                  if logical in made.tables for model in models}
        with binding.override(tables, host=local.url):
            # The services reach DynamoDB through their models; the baseline's raw calls go
            # through a boto3 client of their own, on the same endpoint.
            yield Payments(sqs=sqs, orders_table=made.tables["OrdersTable"],
                           ledger_table=made.tables["LedgerTable"],
                           credit_queue_url=made.queues["CreditQueue"], tenant="bench"), dynamodb
    finally:
        local.stop()
        embedded.stop()


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def bench_pay(ctx: Payments, raw_dynamodb, backend: str, n: int) -> Figure:
    counter = RequestCounter()
    counter.attach(raw_dynamodb)
    counter.attach(ctx.sqs)
    counter.attach_models()
    handler, raw, requests = [], [], 0

    def raw_pay():
        rid = _request_id()
        raw_dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": ctx.orders_table, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": to_item({"pk": "raw#PAY#" + rid, "request_id": rid, "amount": 100})}},
            {"Put": {"TableName": ctx.orders_table, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": to_item({"pk": "RESPONSE#raw" + rid, "order": rid})}}])
        ctx.sqs.send_message(QueueUrl=ctx.credit_queue_url, MessageBody='{"raw":1}')

    for i in range(n):
        request = PayRequest(request_time="2026-11-22 12:00:00", request_id=_request_id(),
                             saler_id=f"s{i % 20}", total_fee=100)
        counter.take()
        handler.append(_timed(lambda: service.pay(ctx, request)))
        requests += counter.take()
        raw.append(_timed(raw_pay))
    return Figure("pay", backend, handler, raw, requests / n, "target ≤ 2 requests")


def bench_withdraw(ctx: Payments, raw_dynamodb, backend: str, n: int) -> Figure:
    # Fund the account first, through the real path.
    aggregator.run(ctx)
    service.pay(ctx, PayRequest(request_time="2026-11-22 12:00:00", request_id=_request_id(),
                                saler_id="w", total_fee=10 * n))
    aggregator.run(ctx)
    counter = RequestCounter()
    counter.attach(raw_dynamodb)
    counter.attach_models()
    handler, raw, requests = [], [], 0
    account_key = {"account": "bench#w", "entry": "ACCOUNT"}

    def raw_withdraw():
        rid = _request_id()
        raw_dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": ctx.orders_table, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": to_item({"pk": "raw#WITHDRAW#" + rid, "amount": 1})}},
            {"Put": {"TableName": ctx.orders_table, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": to_item({"pk": "RESPONSE#raw" + rid})}},
            {"Update": {"TableName": ctx.ledger_table, "Key": to_item(account_key),
                        "UpdateExpression": "SET balance = balance - :amount",
                        "ConditionExpression": "balance >= :amount",
                        "ExpressionAttributeValues": values(amount=1)}},
            {"Put": {"TableName": ctx.ledger_table, "ConditionExpression": "attribute_not_exists(entry)",
                     "Item": to_item({"account": "bench#w", "entry": "RAW#" + rid,
                                      "posted": "2026#RAW" + rid, "amount": -1})}}])

    for _ in range(n):
        request = WithdrawRequest(request_time="2026-11-22 12:00:00", request_id=_request_id(),
                                  saler_id="w", withdraw_money=1)
        counter.take()
        handler.append(_timed(lambda: service.withdraw(ctx, request)))
        requests += counter.take()
        raw.append(_timed(raw_withdraw))
    return Figure("withdraw", backend, handler, raw, requests / n, "one 4-item transaction")


def _fill(ctx: Payments, credits: List[Credit]) -> None:
    for start in range(0, len(credits), 10):
        ctx.sqs.send_message_batch(QueueUrl=ctx.credit_queue_url, Entries=[
            {"Id": str(i), "MessageBody": c.to_message()} for i, c in enumerate(credits[start:start + 10])])


def _raw_aggregate(ctx: Payments, raw_dynamodb, credits: List[Credit]) -> None:
    """The bare requests: receive 10 at a time, one transaction per 100 items, delete 10 at a time."""
    by_account: Dict[str, List[Credit]] = {}
    for credit in credits:
        by_account.setdefault(credit.account, []).append(credit)
    prepared, current = [], []
    for account, group in by_account.items():
        if len(current) + 1 + len(group) > 100:
            prepared.append(current)
            current = []
        current.append({"Update": {"TableName": ctx.ledger_table,
                                   "Key": to_item({"account": account, "entry": "ACCOUNT"}),
                                   "UpdateExpression": "ADD balance :total",
                                   "ExpressionAttributeValues": values(total=sum(c.amount for c in group))}})
        current += [{"Put": {"TableName": ctx.ledger_table, "ConditionExpression": "attribute_not_exists(entry)",
                             "Item": to_item({"account": account, "entry": "RAW" + c.entry,
                                              "posted": "2026#RAW" + c.entry, "amount": c.amount})}}
                    for c in group]
    prepared.append(current)

    def run():
        handles = []
        while True:
            batch = ctx.sqs.receive_message(QueueUrl=ctx.credit_queue_url,
                                            MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            handles += [m["ReceiptHandle"] for m in batch]
        for items in prepared:
            raw_dynamodb.transact_write_items(TransactItems=items)
        for start in range(0, len(handles), 10):
            ctx.sqs.delete_message_batch(QueueUrl=ctx.credit_queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles[start:start + 10])])
    return run


def bench_aggregator(ctx: Payments, raw_dynamodb, backend: str, rounds: int, credits_per_round: int,
                     accounts: int) -> Figure:
    aggregator.run(ctx)  # empty the queue of earlier benchmarks
    counter = RequestCounter()
    counter.attach(raw_dynamodb)
    counter.attach(ctx.sqs)
    counter.attach_models()
    handler, raw, requests, items, sqs_requests = [], [], 0, 0, 0
    for _ in range(rounds):
        credits = [Credit("bench", f"agg{i % accounts}", _request_id(), 7, "2026-11-22 12:00:00")
                   for i in range(credits_per_round)]
        _fill(ctx, credits)
        counter.take()
        report = None

        def run_handler():
            nonlocal report
            report = aggregator.run(ctx)
        handler.append(_timed(run_handler) / credits_per_round)
        requests += counter.take()
        items += report.transaction_items
        sqs_requests += report.sqs_requests
        raw_credits = [Credit("bench", f"raw{i % accounts}", _request_id(), 7, "2026-11-22 12:00:00")
                       for i in range(credits_per_round)]
        _fill(ctx, raw_credits)
        run_raw = _raw_aggregate(ctx, raw_dynamodb, raw_credits)
        raw.append(_timed(run_raw) / credits_per_round)
    total = rounds * credits_per_round
    note = (f"{items / total:.3f} items/credit (bound {1 + accounts / credits_per_round:.3f}), "
            f"{sqs_requests / total:.3f} SQS requests/credit (target ≤ 0.25); latency per credit")
    return Figure("aggregator", backend, handler, raw, requests / total, note)


def _quiet_logs() -> None:
    import logging
    import os
    for handler in logging.getLogger("paysettle").handlers:
        handler.setStream(open(os.devnull, "w"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="pays and withdraws per backend")
    parser.add_argument("--rounds", type=int, default=5, help="aggregator rounds per backend")
    parser.add_argument("--credits", type=int, default=500, help="credits per aggregator round")
    parser.add_argument("--accounts", type=int, default=20, help="accounts the credits spread over")
    args = parser.parse_args()
    # Keep the cost of formatting each log line in the figures, but not the terminal's.
    _quiet_logs()
    print("| operation | backend | handler p50 / p99 ms | raw AWS calls p50 / p99 ms | overhead (p50) "
          "| AWS requests per op | note |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for backend in ("dynamodb-local",):
        with _world(backend, f"bench-{backend}") as (ctx, raw_dynamodb):
            for figure in (bench_pay(ctx, raw_dynamodb, backend, args.calls),
                           bench_withdraw(ctx, raw_dynamodb, backend, args.calls),
                           bench_aggregator(ctx, raw_dynamodb, backend, args.rounds, args.credits,
                                            args.accounts)):
                print(figure.row(), flush=True)


if __name__ == "__main__":
    main()
