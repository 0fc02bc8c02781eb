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

from botocore.exceptions import ClientError

from ..dynamo import condition_failed, from_item, to_item, values

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


class BatchStore:
    def __init__(self, dynamodb, table: str):
        self.dynamodb = dynamodb
        self.table = table

    def get(self, batch: str) -> Optional[dict]:
        item = self.dynamodb.get_item(TableName=self.table, Key=to_item({"batch": batch}),
                                      ConsistentRead=True).get("Item")
        if not item:
            return None
        found = from_item(item)
        if isinstance(found.get("summary"), str):
            found["summary"] = json.loads(found["summary"])
        if isinstance(found.get("error"), str) and found["error"].startswith("{"):
            found["error"] = json.loads(found["error"])
        return found

    def mark_pending(self, batch: str, waiting_for: str, now: str) -> bool:
        """Record a batch whose other manifest has not arrived; never touches a known batch."""
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=to_item({"batch": batch, "status": PENDING, "waiting_for": waiting_for,
                              "updated_at": now}),
                ConditionExpression="attribute_not_exists(#b)",
                ExpressionAttributeNames={"#b": "batch"})
            return True
        except ClientError as error:
            if condition_failed(error):
                return False
            raise

    def claim(self, batch: str, fingerprint: str, run_id: str, now: str, now_epoch: int,
              lease_seconds: int) -> Claim:
        try:
            answer = self.dynamodb.update_item(
                TableName=self.table, Key=to_item({"batch": batch}),
                UpdateExpression=("SET #s = :running, fingerprint = :fp, run_id = :run, "
                                  "lease_until = :lease, started_at = :now, updated_at = :now "
                                  "REMOVE waiting_for, #e, finished_at"),
                ConditionExpression=(
                    "attribute_not_exists(#b) OR #s IN (:pending, :failed) "
                    "OR (#s = :running AND lease_until < :epoch) "
                    "OR (#s IN (:done, :invalid) AND fingerprint <> :fp)"),
                ExpressionAttributeNames={"#s": "status", "#b": "batch", "#e": "error"},
                ExpressionAttributeValues=values(
                    running=RUNNING, pending=PENDING, failed=FAILED, done=DONE, invalid=INVALID,
                    fp=fingerprint, run=run_id, lease=now_epoch + lease_seconds, now=now,
                    epoch=now_epoch),
                ReturnValues="ALL_NEW")
            return Claim(CLAIMED, from_item(answer["Attributes"]))
        except ClientError as error:
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
        fields = {"finished_at": now, "updated_at": now, "results_prefix": results_prefix}
        if summary is not None:
            fields["summary"] = json.dumps(summary, ensure_ascii=False, separators=(",", ":"))
        if error is not None:
            fields["error"] = bounded_error(error)
        names = {"#s": "status"}
        names.update({f"#f{i}": name for i, name in enumerate(fields)})
        expression = "SET #s = :status, " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        removals = [name for name in ("summary", "error") if name not in fields]
        expression += " REMOVE lease_until"
        for index, name in enumerate(removals):
            names[f"#r{index}"] = name
            expression += f", #r{index}"
        try:
            self.dynamodb.update_item(
                TableName=self.table, Key=to_item({"batch": batch}),
                UpdateExpression=expression,
                ConditionExpression="#s = :running AND run_id = :run",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=dict(
                    values(running=RUNNING, run=run_id, status=status),
                    **values(**{f"f{i}": value for i, value in enumerate(fields.values())})))
            return True
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
