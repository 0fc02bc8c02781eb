"""`make bench`: SQS on the embedded stack's endpoint beside moto's own server, same run.

The credit queue holds thousands of messages while a full `make run` is under way. moto's
SQS looks at every message of a queue several times per request, each time through datetime
arithmetic; the embedded endpoint (`infra/embedded_aws.py`) gives it a plain clock. Measured:
SendMessage, ReceiveMessage of ten and DeleteMessageBatch of ten, at several queue depths,
first on moto's unchanged server (the baseline), then on the embedded endpoint.
"""
import logging
import time
from typing import Dict

import boto3

DEPTHS = (0, 2000, 5000)
SAMPLES = 20


def _measure(url: str) -> Dict[int, Dict[str, float]]:
    sqs = boto3.client("sqs", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="bench", aws_secret_access_key="bench")
    queue = sqs.create_queue(QueueName="bench", Attributes={"VisibilityTimeout": "120"})["QueueUrl"]
    figures, sent = {}, 0
    for depth in DEPTHS:
        while sent < depth:
            sqs.send_message_batch(QueueUrl=queue, Entries=[
                {"Id": str(i), "MessageBody": "c" * 200} for i in range(10)])
            sent += 10
        began = time.perf_counter()
        for _ in range(SAMPLES):
            sqs.send_message(QueueUrl=queue, MessageBody="c" * 200)
        send = (time.perf_counter() - began) / SAMPLES
        sent += SAMPLES
        began, taken = time.perf_counter(), []
        for _ in range(SAMPLES):
            taken += sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        receive = (time.perf_counter() - began) / SAMPLES
        began = time.perf_counter()
        for start in range(0, len(taken), 10):
            sqs.delete_message_batch(QueueUrl=queue, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(taken[start:start + 10])])
        delete = (time.perf_counter() - began) / max(1, len(taken) // 10)
        sent -= len(taken)
        figures[depth] = {"send": send * 1000, "receive10": receive * 1000, "delete10": delete * 1000}
    return figures


def main() -> None:
    from moto.server import ThreadedMotoServer

    from infra.embedded_aws import EmbeddedAWS
    from infra.ports import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)    # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()                      # first: the embedded endpoint changes moto for the process
    try:
        baseline = _measure(f"http://127.0.0.1:{port}")
    finally:
        server.stop()
    with EmbeddedAWS() as aws:
        embedded = _measure(aws.url)
    print("queue depth | call | moto's server ms | embedded endpoint ms | ratio")
    for depth in DEPTHS:
        for call in ("send", "receive10", "delete10"):
            base, ours = baseline[depth][call], embedded[depth][call]
            print(f"{depth} | {call} | {base:.1f} | {ours:.1f} | {ours / base:.2f}")


if __name__ == "__main__":
    main()
