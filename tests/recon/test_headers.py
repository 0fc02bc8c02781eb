"""Hostile headers and unexpected failures: every batch ends with a short reason, and the
reason never outgrows error.json's or the batch item's bounds."""
import json

import pytest

from chalicelib.recon import service
from chalicelib.recon.s3 import BatchRef
from chalicelib.recon.store import MAX_ERROR_CHARS, bounded_error
from tests.recon.support import batch_files, csv_bytes, read_csv, worked_recon_files
from tests.support.signing import TENANT_A

T = TENANT_A.merchant_id           # the tenant of the uploaded batches here

WIDE = 20_000


def _wide_header(with_required: bool):
    filler = [f"extra_column_{i:05d}" for i in range(WIDE)]
    if with_required:
        filler[7], filler[900], filler[12_345], filler[WIDE - 1] = (
            "response_id", "total_fee", "saler_id", "request_id")
    return filler


def _row(header, values):
    row = [""] * len(header)
    for name, value in values.items():
        row[header.index(name)] = value
    return row


def test_a_wide_header_without_the_required_columns_is_invalid_in_a_short_reason(reconcile):
    header = _wide_header(with_required=False)
    outcome, out = reconcile(batch_files(merchant_pay=csv_bytes(header, [["x"] * WIDE])))
    assert outcome.status == "INVALID"
    raw = (out / "error.json").read_bytes()
    assert len(raw) <= 16 << 10
    error = json.loads(raw)
    missing = {p["expected"] for p in error["problems"]}
    assert missing == {"request_id", "response_id", "saler_id", "total_fee"}
    for name in missing:
        assert name in error["reason"]
    assert "extra_column" not in raw.decode()   # the header is never echoed


def test_a_header_of_a_million_columns_is_invalid_and_error_json_stays_small(reconcile):
    header = [f"c{i}" for i in range(1_000_000)]
    outcome, out = reconcile(batch_files(payment_pay=csv_bytes(header, [])))
    assert outcome.status == "INVALID"
    raw = (out / "error.json").read_bytes()
    assert len(raw) <= 16 << 10
    error = json.loads(raw)
    assert error["problems"][0]["problem"] == "HEADER_TOO_LONG"
    assert "c99" not in error["reason"]


@pytest.mark.parametrize("options", [None, 2000], indirect=True, ids=["one_join", "buckets"])
def test_a_wide_header_with_the_required_columns_reconciles(reconcile, options):
    header = _wide_header(with_required=True)
    merchant = csv_bytes(header, [_row(header, {"request_id": "q1", "response_id": "r1",
                                                 "saler_id": "s1", "total_fee": "10"}),
                                  _row(header, {"request_id": "q2", "response_id": "r2",
                                                 "saler_id": "s1", "total_fee": "20"})])
    payment = csv_bytes(("request_id", "response_id", "saler_id", "total_fee"),
                        [("q1", "r1", "s1", "10"), ("q2", "r2", "s1", "21")])
    outcome, out = reconcile(batch_files(merchant_pay=merchant, payment_pay=payment))
    assert outcome.status == "DONE", outcome.document
    rows = {r["response_id"]: r["diff_type"] for r in read_csv(out / "pay_recon.csv")}
    assert rows == {"r1": "F000", "r2": "F115"}


def test_the_item_keeps_a_bounded_error_whatever_its_size():
    problems = [{"side": "merchant", "file": "pay.csv", "problem": "MISSING_COLUMN",
                 "detail": "x" * 5000, "expected": f"col{i}"} for i in range(2000)]
    stored = bounded_error({"batch": "b", "status": "INVALID", "reason": "r" * 100_000,
                            "problems": problems})
    assert len(stored) <= MAX_ERROR_CHARS
    kept = json.loads(stored)
    assert kept["truncated"] and kept["reason"].startswith("rrr")


def test_a_wide_header_upload_ends_invalid_with_its_reason_on_the_item(stack, tmp_path):
    header = [f"h{i}" * 3 for i in range(WIDE)]
    files = batch_files(merchant_pay=csv_bytes(header, [["1"] * WIDE]))
    ctx = stack.context(tmp_path)
    stack.upload(f"{T}/wide", files)
    for event in stack.drain():
        service.handle_sqs_event(ctx, event)
    item = ctx.store.get(f"{T}/wide")
    assert item["status"] == "INVALID"
    assert "request_id" in item["error"]["reason"] and "h1h1h1" not in json.dumps(item["error"])
    view = service.batch_view(ctx.store, stack.bucket, BatchRef(T, "wide"))
    assert view["status"] == "INVALID" and view["error"]["reason"]
    assert (view["tenant"], view["batch"]) == (T, "wide")


def test_an_unexpected_error_ends_failed_with_its_class_and_a_short_message(stack, tmp_path):
    def explode(batch, folder):
        raise RuntimeError("first line of the failure\n" + "a quoted input line, " * 10_000)
    ctx = stack.context(tmp_path, on_run=explode)
    stack.upload(f"{T}/boom", worked_recon_files())
    failures = 0
    for event in stack.drain():
        try:
            service.handle_sqs_event(ctx, event)
        except RuntimeError:
            failures += 1   # raised again, so SQS delivers the message again (then the DLQ)
    assert failures >= 1
    item = ctx.store.get(f"{T}/boom")
    assert item["status"] == "FAILED"
    assert item["error"]["error"] == "RuntimeError"
    assert item["error"]["detail"] == "first line of the failure"
    assert item["error"]["reason"] == "RuntimeError: first line of the failure"


def test_the_recon_queue_retries_a_bounded_number_of_times_then_dead_letters_with_an_alarm():
    from infra.provision import load_template
    template = load_template()
    resources = template.get("Resources", template)
    redrive = resources["ReconQueue"]["Properties"]["RedrivePolicy"]
    assert 1 <= redrive["maxReceiveCount"] <= 10
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["ReconDeadLetterQueue", "Arn"]}
    alarm = resources["ReconDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["ReconDeadLetterQueue", "QueueName"]}
    assert alarm["Threshold"] == 0 and alarm["AlarmActions"]
