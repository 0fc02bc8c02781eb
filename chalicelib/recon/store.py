"""Batch state in DynamoDB: one item per batch, and the claim that makes runs exclusive.

    PENDING  a manifest arrived, the other side's has not
    RUNNING  a run holds the claim until `lease_until` (epoch seconds)
    DONE / INVALID / FAILED   the last run's outcome, for the inputs `fingerprint`

A run starts only by a conditional write that succeeds for exactly one caller:
the batch is new or PENDING, or its last run FAILED, or it is DONE/INVALID for
other inputs (a new manifest), or a RUNNING claim's lease has expired (its Lambda
died). Finishing is conditional on still holding the claim (same `run_id`), so a
run that lost its claim can never overwrite the state of the one that took over.
The lease is longer than the function's timeout, so a live run never loses it.
"""
import json
from dataclasses import dataclass
from typing import Optional

from pynamodb.exceptions import PutError, UpdateError

from ..dynamo import condition_failed
from .models import ReconBatch

PENDING, RUNNING, DONE, INVALID, FAILED = "PENDING", "RUNNING", "DONE", "INVALID", "FAILED"
STATUSES = (PENDING, RUNNING, DONE, INVALID, FAILED)

# What a claim attempt found.
CLAIMED = "CLAIMED"            # this caller runs the batch
ALREADY = "ALREADY"            # these inputs were already reconciled (DONE or INVALID): nothing to do
IN_PROGRESS = "IN_PROGRESS"    # a live run is reconciling these very inputs: nothing to do
BUSY = "BUSY"                  # a live run is reconciling other inputs: try again later


# What the batch item keeps of an error document: DynamoDB refuses items over 400 KB, and a
# refused write would leave the batch without its reason. error.json holds the whole story.
MAX_ERROR_CHARS = 8 << 10
_KEPT_ERROR_FIELDS = ("batch", "status", "run_id", "error", "detail", "generated_at")


def bounded_error(error: dict) -> str:
    """The error document as stored on the item: whole if small, else its reason and first
    problems cut down to fit MAX_ERROR_CHARS."""
    text = json.dumps(error, ensure_ascii=False, separators=(",", ":"))
    if len(text) <= MAX_ERROR_CHARS:
        return text
    kept = {k: (v[:300] if isinstance(v, str) else v) for k, v in error.items()
            if k in _KEPT_ERROR_FIELDS}
    kept["reason"] = str(error.get("reason") or error.get("detail") or "")[:2000]
    kept["truncated"] = True
    problems = list(error.get("problems") or [])
    while problems:
        kept["problems"] = problems
        text = json.dumps(kept, ensure_ascii=False, separators=(",", ":"))
        if len(text) <= MAX_ERROR_CHARS:
            return text
        problems = problems[:len(problems) // 2]
    kept.pop("problems", None)
    return json.dumps(kept, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class Claim:
    outcome: str
    item: Optional[dict]       # the batch's item after (CLAIMED) or as found (otherwise)


def _as_dict(batch: ReconBatch, parse_documents: bool) -> dict:
    """The item's present attributes by name; the summary and error documents parsed if asked."""
    found = {name: value for name, value in batch.attribute_values.items() if value is not None}
    if parse_documents:
        if isinstance(found.get("summary"), str):
            found["summary"] = json.loads(found["summary"])
        if isinstance(found.get("error"), str) and found["error"].startswith("{"):
            found["error"] = json.loads(found["error"])
    return found


class BatchStore:
    """The batch items, through the ReconBatch model (bound to the stage's RECON_BATCHES_TABLE)."""

    def get(self, batch: str) -> Optional[dict]:
        try:
            found = ReconBatch.get(ReconBatch.key(batch), consistent_read=True)
        except ReconBatch.DoesNotExist:
            return None
        return _as_dict(found, parse_documents=True)

    def mark_pending(self, batch: str, waiting_for: str, now: str) -> bool:
        """Record a batch whose other manifest has not arrived; never touches a known batch."""
        item = ReconBatch(ReconBatch.key(batch), status=PENDING, waiting_for=waiting_for,
                          updated_at=now)
        try:
            item.save(condition=ReconBatch.batch.does_not_exist())
            return True
        except PutError as error:
            if condition_failed(error):
                return False
            raise

    def claim(self, batch: str, fingerprint: str, run_id: str, now: str, now_epoch: int,
              lease_seconds: int) -> Claim:
        item = ReconBatch(ReconBatch.key(batch))
        claimable = (ReconBatch.batch.does_not_exist()
                     | ReconBatch.status.is_in(PENDING, FAILED)
                     | ((ReconBatch.status == RUNNING) & (ReconBatch.lease_until < now_epoch))
                     | (ReconBatch.status.is_in(DONE, INVALID) & (ReconBatch.fingerprint != fingerprint)))
        try:
            item.update(actions=[ReconBatch.status.set(RUNNING), ReconBatch.fingerprint.set(fingerprint),
                                 ReconBatch.run_id.set(run_id),
                                 ReconBatch.lease_until.set(now_epoch + lease_seconds),
                                 ReconBatch.started_at.set(now), ReconBatch.updated_at.set(now),
                                 ReconBatch.waiting_for.remove(), ReconBatch.error.remove(),
                                 ReconBatch.finished_at.remove()],
                        condition=claimable)
            return Claim(CLAIMED, _as_dict(item, parse_documents=False))
        except UpdateError as error:
            if not condition_failed(error):
                raise
        found = self.get(batch)
        if found is None:  # deleted in between: let the caller try again
            return Claim(BUSY, None)
        if found["status"] == RUNNING:
            same = found.get("fingerprint") == fingerprint
            return Claim(IN_PROGRESS if same else BUSY, found)
        if found["status"] in (DONE, INVALID) and found.get("fingerprint") == fingerprint:
            return Claim(ALREADY, found)
        return Claim(BUSY, found)  # changed under us (e.g. just finished): try again

    def finish(self, batch: str, run_id: str, status: str, now: str, results_prefix: str,
               summary: Optional[dict] = None, error: Optional[dict] = None) -> bool:
        """Record the run's outcome if it still holds the claim; False if it lost it."""
        actions = [ReconBatch.status.set(status), ReconBatch.finished_at.set(now),
                   ReconBatch.updated_at.set(now), ReconBatch.results_prefix.set(results_prefix),
                   ReconBatch.lease_until.remove()]
        if summary is not None:
            actions.append(ReconBatch.summary.set(
                json.dumps(summary, ensure_ascii=False, separators=(",", ":"))))
        else:
            actions.append(ReconBatch.summary.remove())
        if error is not None:
            actions.append(ReconBatch.error.set(bounded_error(error)))
        else:
            actions.append(ReconBatch.error.remove())
        try:
            ReconBatch(ReconBatch.key(batch)).update(
                actions=actions,
                condition=(ReconBatch.status == RUNNING) & (ReconBatch.run_id == run_id))
            return True
        except UpdateError as error:
            if condition_failed(error):
                return False
            raise
