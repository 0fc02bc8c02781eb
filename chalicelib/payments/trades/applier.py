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
from itertools import islice
from typing import List

from pynamodb.exceptions import PynamoDBException

from ... import clock
from ...data.transactions import Cancelled, Transaction
from ...logs import log
from ...retry import TRADE_PHASE
from ..models.trades import Trade
from . import ledger_items
from .context import Trades
from .ledger_items import JournalGuard
from .postings import ASYNC_FEE, ASYNC_TRADE, Posting
from .service import SETTLED, SETTLING, _retryable, read_record

# The trade item's update in a phase's transaction (cancellation reasons are mapped to it by key).
RECORD = "trade record"


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
    # PynamoDB pages lazily: the next page is read only while fewer than `limit` were found.
    pending = Trade.pending_async.scan(attributes_to_get=["pk"])
    return [trade.pk for trade in islice(pending, limit)]


def _read(ctx: Trades, pk: str):
    return read_record(pk)


def _add_record_update(transaction: Transaction, record: dict, phase: str) -> None:
    """Remove `phase` from the trade's pending phases, on the condition that they are still
    exactly what was read (with the last, the trade is SETTLED and leaves the sparse index)."""
    pending = list(record["pending_phases"])
    left = [p for p in pending if p != phase]
    actions = [Trade.pending_phases.set(left)]
    if not left:
        actions += [Trade.state.set(SETTLED), Trade.pending_tenant.remove()]
    transaction.update(Trade(record["pk"]), actions, condition=Trade.pending_phases == pending,
                       owner=RECORD)


def _token(record: dict, phase: str, group: List[Posting], posted_at: str) -> str:
    """Same writes, same token: a transaction re-sent after a lost answer is not applied twice."""
    writes = [record["pk"], list(record["pending_phases"]), phase,
              [p.view() for p in group], posted_at]
    return hashlib.sha256(json.dumps(writes, sort_keys=True).encode()).hexdigest()[:36]


def apply_phase(ctx: Trades, record: dict, phase: str, report: ApplierReport) -> str:
    """Apply one phase of `record` (as read); "applied", "duplicate", "short" or "busy"."""
    if phase not in record.get("pending_phases", []) or (
            phase == ASYNC_FEE and ASYNC_TRADE in record["pending_phases"]):
        report.duplicates += phase not in record.get("pending_phases", [])
        return "duplicate"
    group = [Posting.from_view(v) for v in record["postings"] if v["phase"] == phase]
    posted_at = clock.iso_utc(ctx.now())
    token = _token(record, phase, group, posted_at)
    policy = TRADE_PHASE.using(sleep=ctx.sleep)
    for attempt in range(policy.attempts):
        transaction = Transaction(Trade, client_request_token=token)
        _add_record_update(transaction, record, phase)
        # The trade's own tenant: the applier runs for every tenant at once.
        ledger_items.add_phase(transaction, record["tenant"], record["trans_id"], group, posted_at)
        try:
            transaction.commit()
            report.applied += 1
            log("trade.phase_applied", trans_id=record["trans_id"], phase=phase,
                postings=len(group))
            return "applied"
        except Cancelled as cancelled:
            failed = cancelled.failed_owners
            if RECORD in failed or any(isinstance(owner, JournalGuard) for owner in failed):
                report.duplicates += 1
                return "duplicate"
            if failed:
                # Only a balance condition is left: the account is short.
                report.short += 1
                log("trade.phase_short", trans_id=record["trans_id"], phase=phase)
                return "short"
            if not cancelled.conflicted:
                raise
        except PynamoDBException as error:
            if not _retryable(error):
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
