"""Exports on the running stack: `paysettle export` uploads both sides and the reconciliation
runs by itself (S3 -> SQS -> recon), F000 for every order and every account audited SUCCESS."""
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer

from .support import CHINA, REPO_ROOT, new_saler, wait_until

pytestmark = pytest.mark.e2e
FORMAT = "%Y-%m-%d %H:%M:%S"
_serialize = TypeSerializer().serialize


def _china_now() -> datetime:
    return datetime.now(CHINA).replace(microsecond=0, tzinfo=None)


def _record_at_the_merchant(dynamodb, table: str, kind: str, body: dict, answer: dict) -> None:
    """What the merchant system stores for an answered order (its table's schema)."""
    amount = int(answer["total_fee" if kind == "PAY" else "withdraw_money"])
    item = {"request_id": body["request_id"], "kind": kind, "saler_id": body["saler_id"],
            "amount": amount, "request_time": body["request_time"], "state": answer["response_code"],
            "response_id": answer["response_id"], "response_time": answer["response_time"],
            "response_code": answer["response_code"], "response_msg": answer["response_msg"],
            "created_at": "2026-01-01T00:00:00.000000Z", "updated_at": "2026-01-01T00:00:00.000000Z",
            "attempts": 1}
    if answer["response_code"] == "SUCCESS":
        item["success_day"] = f"{kind}#{answer['response_time'][:10].replace('-', '')}"
    dynamodb.put_item(TableName=table, Item={k: _serialize(v) for k, v in item.items()})


def test_an_export_from_the_command_line_is_reconciled_by_the_stack(stack):
    dynamodb = stack.client("dynamodb")
    merchant_table = stack.manifest["tables"]["MerchantOrdersTable"]
    # The window starts after every earlier test's orders (they finished before this second).
    start = _china_now() + timedelta(seconds=1)
    time.sleep(max(0.0, (start - _china_now()).total_seconds()) + 0.05)
    salers = [new_saler(), new_saler()]
    for saler, amounts in zip(salers, ([300, 200], [50])):
        for amount in amounts:
            response = stack.pay(saler, str(amount))
            body = json.loads(response.request.body)
            _record_at_the_merchant(dynamodb, merchant_table, "PAY", body, response.json())
    stack.wait_for_balance(salers[0], 500)
    stack.wait_for_balance(salers[1], 50)
    response = stack.withdraw(salers[0], "120")
    _record_at_the_merchant(dynamodb, merchant_table, "WITHDRAW", json.loads(response.request.body),
                            response.json())
    end = _china_now() + timedelta(seconds=1)
    time.sleep(max(0.0, (end - _china_now()).total_seconds()) + 5.2)   # ended 5 s ago

    batch = f"e2e-{salers[0][-8:]}"
    env = dict(os.environ, AWS_ENDPOINT_URL=stack.manifest["aws_endpoint_url"],
               AWS_ENDPOINT_URL_DYNAMODB=stack.manifest["dynamodb_endpoint_url"],
               AWS_DEFAULT_REGION=stack.manifest["region"], AWS_ACCESS_KEY_ID="e2e",
               AWS_SECRET_ACCESS_KEY="e2e", EXPORT_BUCKET=stack.manifest["buckets"]["ReconBucket"],
               MERCHANT_ORDERS_TABLE=merchant_table, ORDERS_TABLE=stack.manifest["tables"]["OrdersTable"],
               LEDGER_TABLE=stack.manifest["tables"]["LedgerTable"])
    env.pop("AWS_SESSION_TOKEN", None)
    command = [sys.executable, "-m", "tools.cli", "export", "--tenant", "demo", "--batch", batch,
               "--from", start.strftime(FORMAT), "--to", end.strftime(FORMAT)]

    def exported():
        run = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        assert run.returncode in (0, 1), run.stderr[-2000:]        # 1: a credit still pending
        return json.loads(run.stdout) if run.returncode == 0 else None
    line = wait_until(exported, 30, "both sides exported", interval=1)

    assert {s: v["outcome"] for s, v in line["sides"].items()} == {"merchant": "EXPORTED", "payment": "EXPORTED"}
    rows = {f["name"]: f["rows"] for f in line["sides"]["payment"]["files"]}
    assert (rows["pay.csv"], rows["withdraw.csv"]) == (3, 1)

    def reconciled():
        answer = stack.http.get(f"{stack.api}/recon/{batch}", timeout=30)
        body = answer.json() if answer.status_code == 200 else {}
        return body if body.get("status") in ("DONE", "INVALID", "FAILED") else None
    status = wait_until(reconciled, 60, f"batch {batch} reconciled", interval=0.5)

    assert status["status"] == "DONE", status
    summary = status["summary"]
    assert summary["recon"]["pay"]["F000"]["count"] == 3
    assert summary["recon"]["withdraw"]["F000"]["count"] == 1
    assert summary["discrepancies"] == 0
    assert summary["audit"]["FAIL"] == 0 and summary["audit"]["basis"] == "balance - opening_balance"
    s3 = stack.client("s3")
    balances = s3.get_object(Bucket=stack.manifest["buckets"]["ReconBucket"],
                             Key=f"incoming/demo/{batch}/payment/balances.csv")["Body"].read().decode()
    mine = {line.split(",")[0]: line.split(",")[1:] for line in balances.splitlines()[1:]}
    assert mine[salers[0]] == ["380", "0"] and mine[salers[1]] == ["50", "0"]
