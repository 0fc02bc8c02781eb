"""The ledger auditor: proves, per tenant and account, that the books add up.

Checks, over every account partition of LedgerTable (every tenant found in the table):
* **balance**: an account's balance equals the sum of its journal entries;
* **trade**: the postings of every trade settlement phase sum to zero (double entry);
* **negative**: no balance is below zero, except a channel's clearing account (`@channel:*`),
  which records what the channel owes the platform and may go negative.

Reading while credits land. A balance and its journal change together, in one transaction, but a
scan or query is no snapshot: read apart, a credit applied between the two reads would show as a
false difference. Journal entries are only ever added (put with `attribute_not_exists`, never
changed or removed), so the journal only grows. The auditor therefore counts the partition's
journal, reads the balance (strongly consistent, atomic with transactions), then reads the journal
again: if the second read holds as many entries as the first counted, no entry was added in
between, and the balance read in the middle is exactly the sum of those entries, as of one
moment. Otherwise it tries again (with backoff) and, if the account never holds still, reports it
BUSY (not a difference).

A read can still be torn: DynamoDB's Query is read-committed item by item, not isolated from a
transaction that is being committed, so it may see some of that transaction's items and not yet
the others (DynamoDB Local shows it under load). An account that shows a difference is therefore
read again, after growing pauses, and the difference stands only if every re-read shows one; a
corrupted balance shows it every time, a torn read does not come back. Withdrawn differences
are counted (`withdrawn`) and logged (`ledger_audit.difference_withdrawn`).

A trade phase is one transaction over several partitions, each read at its own moment, so a phase
committed between two partitions' snapshots shows some legs only. Such a phase is read again
(all its legs, wherever they are) before it is called unbalanced: whatever leg was seen was
committed, so the whole phase was, and a later read sees all of it (read again, with pauses,
until it balances or the tries are spent).

Reads go through the models (chalicelib/payments/models/ledger.py) with PynamoDB's paging.
"""
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from .. import clock
from ..logs import count_metric, log
from ..retry import Backoff
from .keys import ACCOUNT_ENTRY
# The one rule of which accounts may go negative is the settlement's own (ledger_items.py).
from .trades.ledger_items import _may_go_negative as may_go_negative
from .models.ledger import JOURNAL_AFTER, Account, JournalEntry

METRIC_NAMESPACE = "PaySettle/Ledger"
DIFFERENCE_METRIC = "AuditDifferences"
BALANCE, TRADE, NEGATIVE = "balance", "trade", "negative"
# `is_in` takes at most 100 values per filter.
TRADES_PER_RESCAN = 100


@dataclass(frozen=True)
class Difference:
    check: str                  # BALANCE, TRADE or NEGATIVE
    tenant: str
    where: str                  # the account partition, or "<trans_id>/<phase>" of a trade
    detail: dict

    def as_dict(self) -> dict:
        return {"check": self.check, "tenant": self.tenant, "where": self.where, **self.detail}


@dataclass
class TenantTotals:
    accounts: int = 0
    entries: int = 0
    balance: int = 0            # sum of the tenant's balances (all sub-accounts)


@dataclass
class AuditReport:
    tenants: Dict[str, TenantTotals] = field(default_factory=dict)
    trade_phases: int = 0
    differences: List[Difference] = field(default_factory=list)
    busy: List[str] = field(default_factory=list)       # partitions that never held still
    snapshot_retries: int = 0
    confirmations: int = 0      # re-reads of accounts that showed a difference
    withdrawn: int = 0          # differences a re-read did not show again (a torn read)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict:
        return {"verdict": "CLEAN" if self.clean else "DIFFERENCES",
                "tenants": {t: vars(totals) for t, totals in sorted(self.tenants.items())},
                "accounts": sum(t.accounts for t in self.tenants.values()),
                "entries": sum(t.entries for t in self.tenants.values()),
                "trade_phases": self.trade_phases,
                "differences": [d.as_dict() for d in self.differences],
                "busy": list(self.busy), "snapshot_retries": self.snapshot_retries,
                "confirmations": self.confirmations, "withdrawn": self.withdrawn,
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class Snapshot:
    partition: str
    balance: Optional[int]      # None: no account item
    entries: List[JournalEntry]


class Busy(Exception):
    """The partition's journal kept growing across every try."""


def partitions(page_size: int, tenant: Optional[str] = None) -> List[str]:
    """Every account partition of the table (with an account item or only journal entries),
    found by one paged scan of the keys."""
    found = set()
    for item in Account.scan(attributes_to_get=["account", "entry"], page_size=page_size):
        if tenant is None or item.account.split("#", 1)[0] == tenant:
            found.add(item.account)
    return sorted(found)


def _journal(partition: str, page_size: int) -> List[JournalEntry]:
    return list(JournalEntry.query(partition, JournalEntry.entry > JOURNAL_AFTER,
                                   consistent_read=True, page_size=page_size))


def snapshot(partition: str, backoff: Backoff, page_size: int,
             on_retry: Callable[[], None] = lambda: None) -> Snapshot:
    """Balance and journal of one partition as of one moment (see the module's docstring)."""
    for attempt in backoff.tries():
        if attempt:
            on_retry()
        counted = JournalEntry.count(partition, JournalEntry.entry > JOURNAL_AFTER,
                                     consistent_read=True)
        try:
            balance = Account.get(partition, ACCOUNT_ENTRY, consistent_read=True).balance
        except Account.DoesNotExist:
            balance = None
        entries = _journal(partition, page_size)
        if len(entries) == counted:
            return Snapshot(partition, balance, entries)
    raise Busy(partition)


def check_account(shot: Snapshot) -> List[Difference]:
    tenant, account_id, sub_account = Account.parse_partition(shot.partition)
    total = sum(entry.amount for entry in shot.entries)
    balance = shot.balance if shot.balance is not None else 0
    found = []
    if shot.balance is None and shot.entries:
        found.append(Difference(BALANCE, tenant, shot.partition,
                                {"balance": None, "journal_sum": total, "entries": len(shot.entries)}))
    elif balance != total:
        found.append(Difference(BALANCE, tenant, shot.partition,
                                {"balance": balance, "journal_sum": total,
                                 "entries": len(shot.entries)}))
    if balance < 0 and not may_go_negative(account_id):
        found.append(Difference(NEGATIVE, tenant, shot.partition, {"balance": balance}))
    return found


def _phases(entries: Iterable[Tuple[str, JournalEntry]]) -> Dict[Tuple[str, str, str], List[JournalEntry]]:
    legs: Dict[Tuple[str, str, str], List[JournalEntry]] = defaultdict(list)
    for tenant, entry in entries:
        if entry.is_trade_leg:
            legs[(tenant, entry.trans_id, entry.phase or "")].append(entry)
    return legs


def _reread_trades(trans_ids: List[str], page_size: int) -> List[Tuple[str, JournalEntry]]:
    """Every journal entry of these trades, wherever it is (a filtered, consistent scan)."""
    found = []
    for start in range(0, len(trans_ids), TRADES_PER_RESCAN):
        chunk = trans_ids[start:start + TRADES_PER_RESCAN]
        for entry in JournalEntry.scan(JournalEntry.trans_id.is_in(*chunk), consistent_read=True,
                                       page_size=page_size):
            found.append((entry.account.split("#", 1)[0], entry))
    return found


def check_trades(legs: Iterable[Tuple[str, JournalEntry]], page_size: int,
                 backoff: Optional[Backoff] = None) -> Tuple[int, List[Difference]]:
    """(phases checked, unbalanced phases), each suspect read again (all its legs) until it
    balances or the tries are spent."""
    phases = _phases(legs)
    suspects = {key for key, entries in phases.items() if sum(e.amount for e in entries) != 0}
    for attempt in (backoff or Backoff(attempts=4, base_seconds=0.05, cap_seconds=0.5)).tries():
        if not suspects:
            break
        again = _phases(_reread_trades(sorted({trans_id for _, trans_id, _ in suspects}), page_size))
        for key in suspects:
            phases[key] = again.get(key, [])
        suspects = {key for key in suspects if sum(e.amount for e in phases[key]) != 0}
    differences = []
    for key in sorted(suspects):
        entries = phases[key]
        total = sum(e.amount for e in entries)
        if total != 0:
            tenant, trans_id, phase = key
            differences.append(Difference(TRADE, tenant, f"{trans_id}/{phase}", {
                "postings_sum": total,
                "legs": sorted(f"{e.account}:{e.leg}:{e.amount}" for e in entries)}))
    return len(phases), differences


def _confirm(shot: Snapshot, backoff: Backoff, page_size: int,
             report: "AuditReport") -> Tuple[Snapshot, List[Difference]]:
    """Read an account that showed a difference again, after a pause, until a read shows none
    or the tries are spent: the difference stands only if every read shows one."""
    found = check_account(shot)
    for attempt in backoff.tries():
        if not attempt:
            continue                    # the read that found the difference was the first try
        report.confirmations += 1
        try:
            shot = snapshot(shot.partition, backoff, page_size)
        except Busy:
            continue
        found = check_account(shot)
        if not found:
            report.withdrawn += 1
            log("ledger_audit.difference_withdrawn", account=shot.partition)
            break
    return shot, found


def audit(page_size: int = 500, snapshot_tries: int = 8, tenant: Optional[str] = None,
          sleep: Callable[[float], None] = time.sleep) -> AuditReport:
    """Audit every account of every tenant (or of `tenant` only)."""
    started = time.monotonic()
    report = AuditReport()
    backoff = Backoff(attempts=snapshot_tries, base_seconds=0.02, cap_seconds=0.5, sleep=sleep)
    legs: List[Tuple[str, JournalEntry]] = []

    def retried():
        report.snapshot_retries += 1

    for partition in partitions(page_size, tenant):
        owner = partition.split("#", 1)[0]
        totals = report.tenants.setdefault(owner, TenantTotals())
        try:
            shot = snapshot(partition, backoff, page_size, on_retry=retried)
        except Busy:
            report.busy.append(partition)
            continue
        found = check_account(shot)
        if found:
            shot, found = _confirm(shot, backoff, page_size, report)
        totals.accounts += 1
        totals.entries += len(shot.entries)
        totals.balance += shot.balance or 0
        report.differences += found
        legs += [(owner, entry) for entry in shot.entries if entry.is_trade_leg]
    report.trade_phases, unbalanced = check_trades(legs, page_size, backoff)
    report.differences += unbalanced
    report.seconds = time.monotonic() - started
    return report


def emit(report: AuditReport, now_ms: Optional[int] = None) -> None:
    """One log line per difference, each a count of the metric the alarm watches, then the run."""
    moment = now_ms if now_ms is not None else int(clock.utc_now().timestamp() * 1000)
    for difference in report.differences:
        count_metric("ledger_audit.difference", METRIC_NAMESPACE, DIFFERENCE_METRIC, moment,
                     {"check": difference.check}, tenant=difference.tenant,
                     where=difference.where, detail=difference.detail)
    summary = report.as_dict()
    summary.pop("differences")
    log("ledger_audit.run", difference_count=len(report.differences), **summary)


def scheduled() -> AuditReport:
    """The scheduled function: audit with the stage's settings, emit, return the report."""
    from ..config import audit_settings

    settings = audit_settings()
    report = audit(page_size=settings.page_size, snapshot_tries=settings.snapshot_tries)
    emit(report)
    return report
