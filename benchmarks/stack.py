"""`make bench`: the embedded stack's throughput, beside the raw AWS calls a pay needs.

Starts the stack as `make serve` does (in memory, any free ports) and measures, from the
same THREADS threads in the same run:

* ready: seconds from `LocalStack.start()` to the API answering;
* raw: what one pay minimally asks of AWS, with nothing around it: a 2-item transaction on
  DynamoDB Local (the order and its response-id guard) and one SQS SendMessage (the
  credit), as pays per second;
* api: signed `POST /pay` requests straight to the payment API (chalice local, its
  signature check, the tenant gate, the transaction, the send, the JSON log line), pays
  per second and latency percentiles.

Phases alternate raw, api, raw, and the ratio api / raw is reported: on a machine shared
with other work the absolute figures move, the ratio much less. The load average is
printed with the figures.
"""
import argparse
import itertools
import logging
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, List, Tuple

import boto3
import requests
from botocore.config import Config

from chalicelib.dynamo import to_item
from infra import callers
from infra.local_stack import LocalStack
from infra.ports import free_port
from tools.signing import SignedAuth

THREADS = 16
CHINA = timezone(timedelta(hours=8))
_ids = itertools.count(1)
_ids_lock = threading.Lock()
_stamp = datetime.now(CHINA).strftime("%Y%m%d%H%M%S")


def _request_id() -> str:
    with _ids_lock:
        return f"{_stamp}{next(_ids):06d}"


def _percentile(samples: List[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _drive(call: Callable[[int], bool], seconds: float, threads: int) -> Tuple[int, int, List[float]]:
    """Run `call(thread)` from `threads` threads for `seconds`: (done, failed, latencies)."""
    stop_at = time.monotonic() + seconds
    latencies: List[float] = []
    failed = [0]
    lock = threading.Lock()

    def worker(thread: int) -> None:
        mine, bad = [], 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            ok = call(thread)
            mine.append(time.perf_counter() - started)
            bad += 0 if ok else 1
        with lock:
            latencies.extend(mine)
            failed[0] += bad

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return len(latencies), failed[0], latencies


def _raw_pay(stack: LocalStack) -> Callable[[int], bool]:
    config = Config(max_pool_connections=THREADS * 2, retries={"max_attempts": 4, "mode": "standard"})
    session = boto3.session.Session(region_name=stack.region, aws_access_key_id="bench",
                                    aws_secret_access_key="bench")
    dynamodb = session.client("dynamodb", endpoint_url=stack.dynamodb.url, config=config)
    sqs = session.client("sqs", endpoint_url=stack.aws.url, config=config)
    orders = stack.provisioned.tables["OrdersTable"]
    # A queue of its own: these messages must not reach the stack's aggregator.
    queue = sqs.create_queue(QueueName="bench-raw-credits")["QueueUrl"]

    def call(_thread: int) -> bool:
        rid = _request_id()
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": orders, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": to_item({"pk": "raw#PAY#" + rid, "request_id": rid, "amount": 100})}},
            {"Put": {"TableName": orders, "ConditionExpression": "attribute_not_exists(pk)",
                     "Item": to_item({"pk": "RESPONSE#raw" + rid, "order": rid})}}])
        sqs.send_message(QueueUrl=queue, MessageBody='{"raw":1}')
        return True
    return call


def _api_pay(stack: LocalStack) -> Callable[[int], bool]:
    auth = SignedAuth.from_credential(stack.credential(callers.MERCHANT_SYSTEM_KEY))
    sessions = []
    for _ in range(THREADS):
        session = requests.Session()
        session.auth = auth
        sessions.append(session)

    def call(thread: int) -> bool:
        body = {"request_time": datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
                "request_id": _request_id(), "saler_id": f"bench-{thread}", "total_fee": 100}
        answer = sessions[thread].post(f"{stack.api_url}/pay", json=body, timeout=30)
        return answer.status_code == 200 and answer.json().get("response_code") == "SUCCESS"
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    started = time.monotonic()
    stack = LocalStack(api_port=free_port(), aws_port=free_port(), out_path=None,
                       api_log=log_dir / "api.log")
    # The stack's own JSON lines (pump runs) would drown the table.
    for handler in logging.getLogger("paysettle").handlers:
        handler.setStream(open(os.devnull, "w"))
    with stack:
        ready = time.monotonic() - started
        raw, api = _raw_pay(stack), _api_pay(stack)
        _drive(api, 2, THREADS)  # warm the API's clients and caches
        raw_first = _drive(raw, args.seconds / 2, THREADS)
        api_run = _drive(api, args.seconds, THREADS)
        raw_second = _drive(raw, args.seconds / 2, THREADS)
    raw_rate = (raw_first[0] + raw_second[0]) / args.seconds
    done, failed, latencies = api_run
    api_rate = done / args.seconds
    print(f"load average (1, 5, 15 min) after the run: {os.getloadavg()}")
    print(f"| measure | value |\n| --- | --- |")
    print(f"| stack ready | {ready:.1f} s |")
    print(f"| raw pay calls, {THREADS} threads (2-item transaction + SendMessage) | "
          f"{raw_rate:.0f} /s |")
    print(f"| signed pays to the API, {THREADS} threads | {api_rate:.0f} /s "
          f"(p50 {_percentile(latencies, .5) * 1e3:.0f} ms, p99 {_percentile(latencies, .99) * 1e3:.0f} ms, "
          f"mean {statistics.mean(latencies) * 1e3:.0f} ms; {failed} not SUCCESS) |")
    print(f"| API / raw | {api_rate / raw_rate:.2f} |")


if __name__ == "__main__":
    main()
