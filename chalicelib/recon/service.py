"""The recon Lambda's work: S3 events (through SQS) in, reconciled batches out.

`handle_sqs_event(ctx, event)` takes the Lambda SQS event as a plain dict, so the
Chalice handler, the local stack's pump and the tests all call the same thing.
For each `incoming/<tenant>/<batch>/<side>/_manifest.json` created:

1. list `incoming/<tenant>/<batch>/`; without both manifests the batch is PENDING;
2. fingerprint the inputs (both manifests, every object's ETag) and claim the
   batch for them with a conditional write (see store.py): a duplicate event, or
   one for inputs already reconciled, does nothing;
3. download, check the manifests, reconcile and audit (batch.py) in a scratch
   folder under RECON_TMP_DIR, upload the result files to
   `results/<tenant>/<batch>/runs/<run_id>/`, record the outcome, then replace
   `results/<tenant>/<batch>/latest.json` (see s3.py).

Every batch is one tenant's (batch names are unique within a tenant only): its state is kept
under `<tenant>/<batch>` and `GET /recon/{batch}` answers the caller's tenant only.

A batch another run is busy with for other inputs is retried later: the message's
visibility is shortened and the handler raises, so SQS delivers it again. An
unexpected failure records FAILED and raises too; after the queue's
maxReceiveCount the message goes to the dead-letter queue.
"""
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from .. import aws, clock
from ..config import recon_settings
from ..logs import log
from . import batch as batches
from . import s3 as bucket_io
from .engine import EngineOptions
from .formats import SIDES
from .s3 import BatchRef
from .store import ALREADY, BUSY, CLAIMED, DONE, FAILED, INVALID, PENDING, BatchStore

IGNORED = "IGNORED"


class BatchBusy(Exception):
    """A batch is being reconciled for other inputs: this event must come back later."""


@dataclass
class Recon:
    s3: Any
    sqs: Any
    store: BatchStore
    bucket: str
    queue_url: str
    options: EngineOptions
    lease_seconds: int = 960
    retry_delay_seconds: int = 30
    now: Callable[[], datetime] = clock.utc_now
    new_run_id: Callable[[datetime], str] = field(default=None)
    # Called with the batch folder before each run (tests count runs with it).
    on_run: Optional[Callable[[str, Path], None]] = None

    def __post_init__(self):
        if self.new_run_id is None:
            self.new_run_id = lambda moment: (moment.strftime("%Y%m%dT%H%M%S%fZ") + "-"
                                              + secrets.token_hex(4))


def from_environment() -> Recon:
    settings = recon_settings()
    return Recon(
        s3=aws.client("s3"), sqs=aws.client("sqs"),
        store=BatchStore(),
        bucket=settings.bucket, queue_url=settings.queue_url,
        options=EngineOptions(work_dir=Path(settings.tmp_dir),
                              memory_limit=settings.memory_limit or None,
                              threads=settings.threads or None),
        lease_seconds=settings.lease_seconds, retry_delay_seconds=settings.retry_delay_seconds)


def _stamp(moment: datetime) -> str:
    return clock.iso_utc(moment)


def handle_sqs_event(ctx: Recon, event: dict) -> List[dict]:
    """Process every S3 record of every SQS message; raise BatchBusy if one must come back."""
    outcomes, busy = [], []
    for record in event.get("Records", []):
        for bucket, key in bucket_io.object_keys(record.get("body", "")):
            batch = bucket_io.manifest_batch(key)
            if bucket != ctx.bucket or batch is None:
                outcomes.append({"key": key, "outcome": IGNORED})
                continue
            outcome = process_batch(ctx, batch)
            outcomes.append(outcome)
            if outcome["outcome"] == BUSY:
                busy.append(record)
    if busy:
        for record in busy:
            _retry_soon(ctx, record)
        raise BatchBusy(f"{len(busy)} event(s) for batches busy with other inputs")
    return outcomes


def _retry_soon(ctx: Recon, record: dict) -> None:
    """Let SQS deliver the message again after a short delay rather than the full visibility
    timeout (best effort: without it the message simply comes back later)."""
    if not (ctx.queue_url and record.get("receiptHandle")):
        return
    try:
        ctx.sqs.change_message_visibility(QueueUrl=ctx.queue_url,
                                          ReceiptHandle=record["receiptHandle"],
                                          VisibilityTimeout=ctx.retry_delay_seconds)
    except Exception as error:  # noqa: BLE001 - an optimisation only
        log("recon.retry_delay_failed", error=type(error).__name__)


def process_batch(ctx: Recon, batch: BatchRef) -> dict:
    objects = bucket_io.listing(ctx.s3, ctx.bucket, batch)
    manifests = bucket_io.read_manifests(ctx.s3, ctx.bucket, batch, objects)
    missing = [side for side in SIDES if side not in manifests]
    named = {"tenant": batch.tenant, "batch": batch.name}
    if missing:
        ctx.store.mark_pending(batch.path, ",".join(missing), _stamp(ctx.now()))
        log("recon.pending", **named, waiting_for=missing)
        return {**named, "outcome": PENDING, "waiting_for": missing}
    fingerprint = bucket_io.fingerprint(manifests, objects)
    moment = ctx.now()
    run_id = ctx.new_run_id(moment)
    claim = ctx.store.claim(batch.path, fingerprint, run_id, _stamp(moment),
                            int(moment.timestamp()), ctx.lease_seconds)
    if claim.outcome != CLAIMED:
        log("recon.not_claimed", **named, outcome=claim.outcome,
            status=(claim.item or {}).get("status"), run_id=(claim.item or {}).get("run_id"))
        if claim.outcome == ALREADY:
            _repair_pointer(ctx, batch, claim.item)
        return {**named, "outcome": claim.outcome, "run_id": (claim.item or {}).get("run_id")}
    return _run(ctx, batch, run_id, fingerprint, manifests, objects)


def _run(ctx: Recon, batch: BatchRef, run_id: str, fingerprint: str,
         manifests: Dict[str, bytes], objects: Dict[str, dict]) -> dict:
    prefix = bucket_io.run_prefix(batch, run_id)
    named = {"tenant": batch.tenant, "batch": batch.name}
    Path(ctx.options.work_dir).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"recon-{batch.tenant}-{batch.name}-",
                                    dir=ctx.options.work_dir))
    log("recon.run.started", **named, run_id=run_id)
    try:
        folder, out = scratch / "batch", scratch / "out"
        bucket_io.download(ctx.s3, ctx.bucket, batch, manifests, objects, folder)
        if ctx.on_run:
            ctx.on_run(batch.name, folder)
        outcome = batches.reconcile_folder(folder, out, ctx.options, batch=batch.name,
                                           run_id=run_id)
        files = bucket_io.upload_run(ctx.s3, ctx.bucket, prefix, out)
        finished = _stamp(ctx.now())
        summary = _brief(outcome.document) if outcome.status == DONE else None
        error = outcome.document if outcome.status == INVALID else None
        if not ctx.store.finish(batch.path, run_id, outcome.status, finished, prefix,
                                summary=summary, error=error):
            log("recon.run.claim_lost", **named, run_id=run_id)
            return {**named, "outcome": "CLAIM_LOST", "run_id": run_id}
        bucket_io.write_pointer(ctx.s3, ctx.bucket, batch, {
            **named, "run_id": run_id, "status": outcome.status, "prefix": prefix,
            "files": files, "finished_at": finished, "fingerprint": fingerprint})
        log("recon.run.finished", **named, run_id=run_id, status=outcome.status,
            discrepancies=outcome.document.get("discrepancies"),
            audit_fail=(outcome.document.get("audit") or {}).get("FAIL"))
        return {**named, "outcome": CLAIMED, "status": outcome.status, "run_id": run_id,
                "prefix": prefix}
    except Exception as error:
        failure = failure_reason(error)
        log("recon.run.failed", **named, run_id=run_id, **failure)
        try:
            ctx.store.finish(batch.path, run_id, FAILED, _stamp(ctx.now()), prefix, error=failure)
        except Exception as recording:  # noqa: BLE001 - the original error is the one to raise
            log("recon.run.failure_not_recorded", **named, run_id=run_id,
                error=type(recording).__name__)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def failure_reason(error: BaseException) -> dict:
    """What a FAILED batch says: the error's class and the first line of its message, short
    (a message can quote a whole input line)."""
    lines = str(error).strip().splitlines()
    detail = lines[0][:200] if lines else ""
    return {"error": type(error).__name__, "detail": detail or type(error).__name__,
            "reason": f"{type(error).__name__}: {detail}" if detail else type(error).__name__}


def _brief(summary: dict) -> dict:
    """What the batch item keeps of summary.json (the counts, not the per-file details)."""
    keep = ("batch", "run_id", "status", "generated_at", "balanced", "discrepancies",
            "row_errors", "recon", "audit", "files", "timings_ms")
    return {k: summary[k] for k in keep if k in summary}


def _repair_pointer(ctx: Recon, batch: BatchRef, item: Optional[dict]) -> None:
    """A run that recorded its outcome but died before replacing the pointer: replace it now."""
    if not item or not item.get("results_prefix"):
        return
    pointer = bucket_io.read_pointer(ctx.s3, ctx.bucket, batch)
    if pointer and pointer.get("run_id") == item.get("run_id"):
        return
    listed = ctx.s3.list_objects_v2(Bucket=ctx.bucket, Prefix=item["results_prefix"]).get("Contents", [])
    bucket_io.write_pointer(ctx.s3, ctx.bucket, batch, {
        "tenant": batch.tenant, "batch": batch.name, "run_id": item["run_id"], "status": item["status"],
        "prefix": item["results_prefix"], "files": sorted(o["Key"].rsplit("/", 1)[-1] for o in listed),
        "finished_at": item.get("finished_at"), "fingerprint": item.get("fingerprint")})
    log("recon.pointer_repaired", tenant=batch.tenant, batch=batch.name, run_id=item["run_id"])


def batch_view(store: BatchStore, bucket: Optional[str], batch: BatchRef) -> Optional[dict]:
    """`GET /recon/{batch}`: the batch's state and its last run's summary."""
    item = store.get(batch.path)
    if item is None:
        return None
    view = {"tenant": batch.tenant, "batch": batch.name}
    view.update({key: item.get(key) for key in ("status", "run_id", "started_at",
                                                "finished_at", "updated_at", "waiting_for")
                 if item.get(key) is not None})
    if item.get("results_prefix") and item.get("status") in (DONE, INVALID):
        view["results"] = (f"s3://{bucket}/{item['results_prefix']}" if bucket
                           else item["results_prefix"])
    if item.get("summary"):
        view["summary"] = item["summary"]
    if item.get("error"):
        view["error"] = item["error"]
    return view


def batch_status(tenant: str, batch: str) -> dict:
    """`GET /recon/{batch}` of the caller's `tenant`, from the environment; a refusal from the
    error table otherwise. Another tenant's batch of that name is not found, like a missing one."""
    import os

    from ..errors import ErrorCode, InvalidField, PaySettleError
    from .formats import valid_batch_name

    if not valid_batch_name(batch):
        raise InvalidField("batch", "must be 1-128 characters of A-Z a-z 0-9 . _ - "
                                    "starting with a letter or digit")
    view = batch_view(BatchStore(), os.environ.get("RECON_BUCKET"), BatchRef(tenant, batch))
    if view is None:
        raise PaySettleError(ErrorCode.RECON_BATCH_NOT_FOUND)
    return view
