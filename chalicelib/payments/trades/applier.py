"""The trade applier: writes the async phases of settled trades to the journal, exactly once.

The queue is the trades table itself (a transactional outbox): the settlement transaction
records the async postings on the trade item and lists their phases in `pending_phases`, with
the sparse index key `pending_tenant` present while any is left. Nothing is sent after the
commit, so no crash can strand a phase (no sweeper is needed).

Each run lists the pending trades and, per trade, applies its phases in order, ASYNC_TRADE
before ASYNC_FEE (trade settlement before fee settlement), each in ONE transaction:
  * the trade item's update, on the condition that `pending_phases` is still exactly what was
    read, and that no ASYNC_TRADE is pending when the fee phase is applied: removes the phase
    (and, with the last, the index key; the state becomes SETTLED);
  * the phase's balance updates and journal puts (`attribute_not_exists`: the journal entry
    keys guard every posting).
So a phase is applied once however often it is attempted: by two appliers at once, by a run
that died after its transaction committed, or from a stale read. A cancelled condition on the
trade item means someone else applied it: re-read and go on. A fee collected later from a
seller whose balance is short stays pending (counted `short`) and is tried again next run.

Tenants: each run applies the pending settlements of every tenant; each trade item carries its
tenant, and its postings go to that tenant's accounts only. The sparse index (hash key: the
tenant) holds only pending settlements, so a run scans it whole; a run takes at most
`max_trades` of them.
"""
import hashlib
import json
from dataclasses import dataclass
from typing import List

from botocore.exceptions import ClientError

from ... import clock
from ...dynamo import TransactionCancelled, from_item, retryable, to_item, transact_write
from ...logs import log
from ...retry import TRADE_PHASE
from . import ledger_items
from .context import Trades
from .postings import ASYNC_FEE, ASYNC_TRADE, Posting
from .service import PENDING_INDEX, SETTLED, SETTLING


@dataclass
class ApplierReport:
    trades: int = 0
    applied: int = 0            # phases written by this run
    duplicates: int = 0         # phases found already applied (by someone else or earlier)
    short: int = 0              # fee phases left pending: the seller's balance is short
    busy: int = 0               # phases left pending after repeated conflicts

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _pending_keys(ctx: Trades, limit: int) -> List[str]:
    """Pending settlements of every tenant: the sparse index holds only those, so a scan of
    it reads nothing else (each trade carries its tenant)."""
    keys: List[str] = []
    request = {"TableName": ctx.trades_table, "IndexName": PENDING_INDEX,
               "ProjectionExpression": "pk"}
    while len(keys) < limit:
        answer = ctx.dynamodb.scan(**request)
        keys += [from_item(item)["pk"] for item in answer.get("Items", [])]
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return keys[:limit]


def _read(ctx: Trades, pk: str):
    item = ctx.dynamodb.get_item(TableName=ctx.trades_table, ConsistentRead=True,
                                 Key=to_item({"pk": pk})).get("Item")
    return from_item(item) if item else None


def _record_item(ctx: Trades, record: dict, phase: str) -> dict:
    pending = list(record["pending_phases"])
    left = [p for p in pending if p != phase]
    names = {"#pending": "pending_phases"}
    values = {":expected": pending, ":left": left}
    update = "SET #pending = :left"
    if not left:
        update += ", #state = :settled REMOVE #pending_tenant"
        names.update({"#state": "state", "#pending_tenant": "pending_tenant"})
        values[":settled"] = SETTLED
    return {"Update": {"TableName": ctx.trades_table, "Key": to_item({"pk": record["pk"]}),
                       "UpdateExpression": update,
                       "ConditionExpression": "#pending = :expected",
                       "ExpressionAttributeNames": names,
                       "ExpressionAttributeValues": to_item(values)}}


def _token(items: List[dict]) -> str:
    """Same items, same token: a transaction re-sent after a lost answer is not applied twice."""
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:36]


def apply_phase(ctx: Trades, record: dict, phase: str, report: ApplierReport) -> str:
    """Apply one phase of `record` (as read); "applied", "duplicate", "short" or "busy"."""
    if phase not in record.get("pending_phases", []) or (
            phase == ASYNC_FEE and ASYNC_TRADE in record["pending_phases"]):
        report.duplicates += phase not in record.get("pending_phases", [])
        return "duplicate"
    group = [Posting.from_view(v) for v in record["postings"] if v["phase"] == phase]
    posted_at = clock.iso_utc(ctx.now())
    # The trade's own tenant: the applier runs for every tenant at once.
    items, owners = ledger_items.phase_items(ctx.ledger_table, record["tenant"],
                                             record["trans_id"], group, posted_at)
    items = [_record_item(ctx, record, phase)] + items
    policy = TRADE_PHASE.using(sleep=ctx.sleep)
    for attempt in range(policy.attempts):
        try:
            transact_write(ctx.dynamodb, items, token=_token(items))
            report.applied += 1
            log("trade.phase_applied", trans_id=record["trans_id"], phase=phase,
                postings=len(group))
            return "applied"
        except TransactionCancelled as cancelled:
            if cancelled.condition_failed(0) or any(
                    owners[i - 1] is None and cancelled.condition_failed(i)
                    for i in range(1, len(items))):
                report.duplicates += 1
                return "duplicate"
            if any(cancelled.condition_failed(i) for i in range(1, len(items))):
                report.short += 1
                log("trade.phase_short", trans_id=record["trans_id"], phase=phase)
                return "short"
            if not cancelled.conflicted:
                raise
        except ClientError as error:
            if not retryable(error):
                raise
        policy.pause(attempt)
    report.busy += 1
    log("trade.phase_busy", trans_id=record["trans_id"], phase=phase)
    return "busy"


def apply_trade(ctx: Trades, pk: str, report: ApplierReport) -> None:
    """Every pending phase of one trade, in order; stops at the first that cannot go."""
    for phase in (ASYNC_TRADE, ASYNC_FEE):
        record = _read(ctx, pk)
        if record is None or record.get("state") != SETTLING:
            return
        if phase not in record.get("pending_phases", []):
            continue
        if apply_phase(ctx, record, phase, report) in ("short", "busy"):
            return


def run(ctx: Trades, max_trades: int = 500) -> ApplierReport:
    report = ApplierReport()
    for pk in _pending_keys(ctx, max_trades):
        report.trades += 1
        apply_trade(ctx, pk, report)
    log("trade_applier.run", **report.as_dict())
    return report
