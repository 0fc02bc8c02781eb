"""The payment side's `balances.csv`: each account's balance as of the window's end and its
opening balance as of the window's start, both from the journal.

The journal is the record of every money movement (invariant 3, journal = balance: a balance is
the sum of its journal entries). Each entry carries its order's `response_time`, so
`balance` = the sum of the entries whose order was answered before `end`, and
`opening_balance` = those answered before `start`. A credit the aggregator posted after
the cutoff for a pay answered before it is counted; a withdraw or pay answered after the
cutoff is not, however early the export runs. `balance - opening_balance` is then exactly
the movement of the window's orders, which is what the reconciler audits against the
merchant's pays minus withdraws of the batch.

Entries journaled before entries carried `response_time` are placed by their posting
time instead (when the balance changed; for a withdraw that is its response time).

Before anything is computed, `pending_credits` refuses the cutoff while a successful pay
answered before `end` has no journal entry yet (its credit is still queued): the balance
would be short by it. The orders table's sparse `unsettled` index lists the pays whose
credit the sweeper has not yet seen journaled; since that marker is cleared only after the
credit, each candidate is confirmed against the journal with a consistent read.

Both read through the models (`PaymentOrder`'s `unsettled` index, `JournalEntry`), one page
of `page_size` per request as before.

Cost: `balances_as_of` scans the whole ledger table, strongly consistent, once per export
(every journal entry ever, about 200 bytes each: roughly 50,000 read units and 200 MB read
per million entries; a few cents on demand). Memory holds two integers per account, not
the entries. The scan can be split into parallel segments (`segments`). When the ledger
grows large, daily balance snapshots (opening = yesterday's closing) would replace it.
"""
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, List

from .. import clock
from ..payments import ledger
from ..payments.keys import ACCOUNT_ENTRY, journal_entry
from ..payments.orders import Kind
from .window import Window

PENDING_SAMPLE = 10


class PendingCredits(Exception):
    """Successful pays answered before the cutoff are not yet credited: balances would be short."""

    def __init__(self, orders: List[dict], cutoff: str):
        self.count = len(orders)
        self.amount = sum(int(o["amount"]) for o in orders)
        self.request_ids = sorted(o["request_id"] for o in orders)[:PENDING_SAMPLE]
        super().__init__(f"{self.count} successful pay(s) answered before {cutoff} "
                         f"({self.amount} fen) are not yet credited to the journal; "
                         f"export again once the aggregator has run (e.g. {self.request_ids[:3]})")


def pending_credits(tenant: str, cutoff: str, page_size: int) -> List[dict]:
    """The tenant's successful pays answered before `cutoff` whose journal entry is missing
    (`amount`, `request_id`): the `unsettled` index paged by Scans of `page_size`, each page's
    candidates confirmed against the journal by one consistent batch read."""
    # Imported here, as in exports/sources.py: the API's cold start need not load PynamoDB.
    from ..payments.models.orders import PaymentOrder

    pages = PaymentOrder.unsettled.scan(
        filter_condition=(PaymentOrder.tenant == tenant) & (PaymentOrder.response_time < cutoff),
        page_size=page_size).page_iter
    missing: List[dict] = []
    for page in pages:
        candidates = [PaymentOrder.from_raw_data(item) for item in page.get("Items", [])]
        if candidates:
            keys = [(o.unsettled_account, journal_entry(Kind.PAY, o.request_id))
                    for o in candidates]
            journaled = ledger.journaled(keys)
            missing += [{"request_id": o.request_id, "amount": o.amount}
                        for o, key in zip(candidates, keys) if key not in journaled]
    return missing


@dataclass(frozen=True)
class AccountBalance:
    saler_id: str
    balance: int            # sum of the entries answered before the window's end
    opening_balance: int    # sum of the entries answered before the window's start

    def fields(self) -> tuple:
        return (self.saler_id, self.balance, self.opening_balance)


def _entry_time(entry: dict) -> str:
    """The entry's order response_time; for entries journaled before it was recorded, the
    posting time (ISO UTC, `<iso>#<entry>`) in the same China-time format."""
    if entry.get("response_time"):
        return entry["response_time"]
    posted = entry["posted"].split("#", 1)[0]
    return clock.message_time(datetime.strptime(posted, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc))


def _scan_segment(tenant: str, window: Window, page_size: int, segment: int,
                  segments: int) -> Dict[str, List[int]]:
    from ..payments.models.ledger import JournalEntry

    sums: Dict[str, List[int]] = {}
    # The tenant's pay/withdraw movements (trade legs carry no `tenant`), not the balance items.
    found = JournalEntry.scan(
        filter_condition=(JournalEntry.tenant == tenant) & (JournalEntry.entry != ACCOUNT_ENTRY),
        consistent_read=True, page_size=page_size,
        segment=segment if segments > 1 else None, total_segments=segments if segments > 1 else None,
        attributes_to_get=["saler_id", "amount", "response_time", "posted"])
    for item in found:
        entry = {"response_time": item.response_time, "posted": item.posted}
        when = _entry_time(entry)
        if when >= window.end:
            continue
        totals = sums.setdefault(item.saler_id, [0, 0])
        totals[0] += item.amount
        if when < window.start:
            totals[1] += item.amount
    return sums


def balances_as_of(tenant: str, window: Window, page_size: int,
                   segments: int = 1) -> List[AccountBalance]:
    """Every account of the tenant with a journal entry answered before the window's end,
    by saler_id: its balance as of the end and as of the start."""
    merged: Dict[str, List[int]] = {}
    lock = threading.Lock()

    def run(segment: int) -> None:
        found = _scan_segment(tenant, window, page_size, segment, segments)
        with lock:
            for saler_id, (balance, opening) in found.items():
                totals = merged.setdefault(saler_id, [0, 0])
                totals[0] += balance
                totals[1] += opening

    if segments > 1:
        with ThreadPoolExecutor(max_workers=segments) as pool:
            list(pool.map(run, range(segments)))
    else:
        run(0)
    return [AccountBalance(saler_id, balance, opening)
            for saler_id, (balance, opening) in sorted(merged.items())]
