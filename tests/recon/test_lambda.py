"""The recon Lambda on moto (S3, SQS, DynamoDB in-process): S3 -> SQS -> handler -> results."""
import json
from datetime import timedelta

import boto3
import pytest
from chalice.test import Client

import app as paysettle
from chalicelib import clock
from chalicelib.auth import credentials
from chalicelib.recon import service
from chalicelib.recon.store import RUNNING
from tests.recon.support import orders, worked_audit_files, worked_recon_files
from tests.support.signing import TENANT_A, TENANT_B, SignedHttp, callers_secret

T = TENANT_A.merchant_id           # the tenant of every batch here


def _handle_all(ctx, stack):
    outcomes = []
    for event in stack.drain():
        outcomes.extend(service.handle_sqs_event(ctx, event))
    return outcomes


def _pointer(stack, batch):
    return json.loads(stack.text(f"results/{T}/{batch}/latest.json"))


def test_uploading_the_worked_example_produces_its_results(stack, tmp_path):
    ctx = stack.context(tmp_path)
    stack.upload(f"{T}/2019-08-29", worked_recon_files())
    outcomes = _handle_all(ctx, stack)
    # Two manifests, two events: the first finds one manifest... or both, if both were up.
    assert [o["outcome"] for o in outcomes if o.get("outcome") == "CLAIMED"] == ["CLAIMED"]
    pointer = _pointer(stack, "2019-08-29")
    assert pointer["status"] == "DONE"
    assert pointer["prefix"] == f"results/{T}/2019-08-29/runs/{pointer['run_id']}/"
    assert (pointer["tenant"], pointer["batch"]) == (T, "2019-08-29")
    assert sorted(pointer["files"]) == ["audit.csv", "pay_recon.csv", "report.html", "summary.json",
                                        "withdraw_recon.csv"]
    rows = read_csv_text(stack.text(pointer["prefix"] + "pay_recon.csv"))
    assert {(r["response_id"], r["total_fee"], r["diff_type"]) for r in rows} == {
        ("response_id_1", "10", "F000"), ("response_id_3", "4", "F115"),
        ("response_id_4", "40", "F113"), ("response_id_2", "20", "F114")}
    item = ctx.store.get(f"{T}/2019-08-29")
    assert item["status"] == "DONE" and item["summary"]["discrepancies"] == 3
    assert "lease_until" not in item


def read_csv_text(text):
    import csv
    import io
    return list(csv.DictReader(io.StringIO(text)))


def test_one_manifest_leaves_the_batch_pending_until_the_other_arrives(stack, tmp_path):
    ctx = stack.context(tmp_path)
    files = worked_audit_files()
    stack.upload(f"{T}/b1", files, sides=("merchant",))
    assert [o["outcome"] for o in _handle_all(ctx, stack)] == ["PENDING"]
    assert ctx.store.get(f"{T}/b1")["status"] == "PENDING"
    stack.upload(f"{T}/b1", files, sides=("payment",))
    assert [o["outcome"] for o in _handle_all(ctx, stack)] == ["CLAIMED"]
    audit = read_csv_text(stack.text(_pointer(stack, "b1")["prefix"] + "audit.csv"))
    assert [(r["saler_id"], r["balance"], r["result"], r["audit_amount"]) for r in audit] == [
        ("saler1", "60", "SUCCESS", "60"), ("saler2", "100", "FAIL", "80")]


def test_duplicate_events_reconcile_once(stack, tmp_path):
    runs = []
    ctx = stack.context(tmp_path, on_run=lambda batch, folder: runs.append(batch))
    stack.upload(f"{T}/b2", worked_recon_files())
    events = stack.drain()
    for event in events + events + events:
        service.handle_sqs_event(ctx, event)
    assert runs == ["b2"]
    assert len({k.split("/")[4] for k in stack.keys(f"results/{T}/b2/runs/")}) == 1


def test_a_new_manifest_reruns_and_replaces_the_results_whole(stack, tmp_path):
    ctx = stack.context(tmp_path)
    files = worked_recon_files()
    stack.upload(f"{T}/b3", files)
    _handle_all(ctx, stack)
    first = _pointer(stack, "b3")
    # The payment side fixes its file and uploads it with a new manifest.
    files["payment"]["pay.csv"] = orders("total_fee", [("request_id_1", "response_id_1", "saler1", "10"),
                                                       ("request_id_2", "response_id_2", "saler1", "20"),
                                                       ("request_id_3", "response_id_3", "saler2", "3")])
    stack.upload(f"{T}/b3", files, sides=("payment",))
    assert [o["outcome"] for o in _handle_all(ctx, stack)] == ["CLAIMED"]
    second = _pointer(stack, "b3")
    assert second["run_id"] != first["run_id"] and second["status"] == "DONE"
    summary = json.loads(stack.text(second["prefix"] + "summary.json"))
    assert summary["discrepancies"] == 0 and summary["run_id"] == second["run_id"]
    # The earlier run is still there, untouched: the pointer moved in one PUT.
    assert json.loads(stack.text(first["prefix"] + "summary.json"))["discrepancies"] == 3
    assert ctx.store.get(f"{T}/b3")["run_id"] == second["run_id"]


def test_a_corrupt_upload_makes_the_batch_invalid_with_error_json_only(stack, tmp_path):
    ctx = stack.context(tmp_path)
    files = worked_recon_files()
    stack.upload(f"{T}/b4", files)
    # The merchant's pay.csv is overwritten after its manifest (an interrupted re-upload).
    stack.s3.put_object(Bucket=stack.bucket, Key=f"incoming/{T}/b4/merchant/pay.csv", Body=b"request_id\n")
    _handle_all(ctx, stack)
    pointer = _pointer(stack, "b4")
    assert pointer["status"] == "INVALID" and pointer["files"] == ["error.json"]
    assert stack.keys(pointer["prefix"]) == [pointer["prefix"] + "error.json"]
    error = json.loads(stack.text(pointer["prefix"] + "error.json"))
    assert error["problems"][0]["problem"] == "CHECKSUM_MISMATCH"
    item = ctx.store.get(f"{T}/b4")
    assert item["status"] == "INVALID" and item["error"]["problems"][0]["file"] == "pay.csv"


def test_a_failed_run_is_recorded_and_retried(stack, tmp_path):
    attempts = []

    def flaky(batch, folder):
        attempts.append(batch)
        if len(attempts) == 1:
            raise OSError("disk full")
    ctx = stack.context(tmp_path, on_run=flaky)
    stack.upload(f"{T}/b5", worked_recon_files(), sides=("merchant",))
    stack.upload(f"{T}/b5", worked_recon_files(), sides=("payment",))
    events = stack.drain()
    with pytest.raises(OSError):
        for event in events:
            service.handle_sqs_event(ctx, event)
    assert ctx.store.get(f"{T}/b5")["status"] == "FAILED"
    assert ctx.store.get(f"{T}/b5")["error"]["error"] == "OSError"
    # SQS delivers the message again: the batch runs.
    assert service.handle_sqs_event(ctx, events[-1])[0]["status"] == "DONE"
    assert ctx.store.get(f"{T}/b5")["status"] == "DONE"


def test_a_batch_running_for_other_inputs_sends_the_event_back_later(stack, tmp_path):
    ctx = stack.context(tmp_path)
    stack.upload(f"{T}/b6", worked_recon_files())
    events = stack.drain()
    moment = clock.utc_now()
    claim = ctx.store.claim(f"{T}/b6", "other-inputs", "run-elsewhere", clock.iso_utc(moment),
                            int(moment.timestamp()), 960)
    assert claim.outcome == "CLAIMED"
    with pytest.raises(service.BatchBusy):
        service.handle_sqs_event(ctx, events[-1])
    # A run that died: once its lease is over the batch is taken over.
    later = stack.context(tmp_path, now=lambda: moment + timedelta(seconds=961))
    [outcome] = service.handle_sqs_event(later, events[-1])
    assert outcome["outcome"] == "CLAIMED" and outcome["status"] == "DONE"
    # The dead run can no longer record anything.
    assert not ctx.store.finish(f"{T}/b6", "run-elsewhere", "DONE", "now", f"results/{T}/b6/runs/x/")
    assert ctx.store.get(f"{T}/b6")["run_id"] == outcome["run_id"]


def test_the_same_inputs_while_running_are_left_to_the_running_run(stack, tmp_path):
    ctx = stack.context(tmp_path)
    stack.upload(f"{T}/b7", worked_recon_files())
    events = stack.drain()
    from chalicelib.recon import s3 as bucket_io
    batch = bucket_io.BatchRef(T, "b7")
    objects = bucket_io.listing(stack.s3, stack.bucket, batch)
    fingerprint = bucket_io.fingerprint(bucket_io.read_manifests(stack.s3, stack.bucket, batch, objects), objects)
    moment = clock.utc_now()
    ctx.store.claim(f"{T}/b7", fingerprint, "run-1", clock.iso_utc(moment), int(moment.timestamp()), 960)
    [outcome] = service.handle_sqs_event(ctx, events[-1])
    assert outcome["outcome"] == "IN_PROGRESS"
    assert ctx.store.get(f"{T}/b7")["status"] == RUNNING


def test_events_that_are_not_manifests_are_ignored(stack, tmp_path):
    ctx = stack.context(tmp_path)
    body = json.dumps({"Records": [
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": stack.bucket},
                                                  "object": {"key": f"incoming/{T}/b8/merchant/pay.csv"}}},
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "another-bucket"},
                                                  "object": {"key": f"incoming/{T}/b8/merchant/_manifest.json"}}},
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": stack.bucket},
                                                  "object": {"key": f"incoming/{T}/..%2Fx/merchant/_manifest.json"}}},
        # The layout before tenants (no tenant folder) and a tenant that would blur keys.
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": stack.bucket},
                                                  "object": {"key": "incoming/b8/merchant/_manifest.json"}}},
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": stack.bucket},
                                                  "object": {"key": "incoming/a%23b/b8/merchant/_manifest.json"}}}]})
    outcomes = service.handle_sqs_event(ctx, {"Records": [{"body": body},
                                                          {"body": '{"Event": "s3:TestEvent"}'}]})
    assert [o["outcome"] for o in outcomes] == ["IGNORED"] * 5
    assert ctx.store.get(f"{T}/b8") is None


def test_get_recon_batch(stack, tmp_path, monkeypatch):
    """Signed, and the caller's tenant's batch only: another tenant's is a missing one."""
    ctx = stack.context(tmp_path)
    stack.upload(f"{T}/2019-08-30", worked_audit_files())
    _handle_all(ctx, stack)
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="recon-test-callers", SecretString=callers_secret())["ARN"]
    for name, value in {"RECON_BATCHES_TABLE": stack.table, "RECON_BUCKET": stack.bucket,
                        "CALLER_CREDENTIALS_SECRET": arn,
                        "NONCES_TABLE": stack.provisioned.tables["NoncesTable"]}.items():
        monkeypatch.setenv(name, value)
    credentials.reset()
    with Client(paysettle.app, stage_name="local") as client:
        mine, theirs = SignedHttp(client.http, TENANT_A), SignedHttp(client.http, TENANT_B)
        assert client.http.get("/recon/2019-08-30").status_code == 401
        answer = mine.get("/recon/2019-08-30")
        assert answer.status_code == 200
        body = json.loads(answer.body)
        assert body["status"] == "DONE" and (body["tenant"], body["batch"]) == (T, "2019-08-30")
        assert body["results"] == f"s3://{stack.bucket}/results/{T}/2019-08-30/runs/{body['run_id']}/"
        assert body["summary"]["audit"] == {"accounts": 2, "SUCCESS": 1, "FAIL": 1, "merchant_only": 0,
                                            "payment_only": 0, "fail_abs_difference": 20,
                                            "fail_abs_unexplained": 20, "basis": "balance"}
        missing = mine.get("/recon/never-seen")
        assert missing.status_code == 404 and json.loads(missing.body)["error_code"] == 4043
        other = theirs.get("/recon/2019-08-30")
        assert other.status_code == 404
        strip = lambda response: {k: v for k, v in json.loads(response.body).items()   # noqa: E731
                                  if k != "response_time"}
        assert strip(other) == strip(missing)
        bad = mine.get("/recon/..")
        assert bad.status_code == 400 and json.loads(bad.body)["field"] == "batch"
    credentials.reset()
