"""The writes of one phase's postings to the core's ledger table, added to a `Transaction`.

Per (sub-)account partition touched: one balance update of its `Account` (the net of its
postings; a net debit only on the condition that the balance covers it, except a channel's
clearing account, which records what the channel owes and may go negative), and one
`JournalEntry` per leg, saved only if absent: the journal entry key `TRADE#<trans_id>#<leg>` is
the exactly-once guard of that posting. Balance and journal change in the same transaction, so
balance = sum(journal) holds.

Trade journal entries carry `request_id` = trans_id (so the journal route lists them like any
entry) but no `tenant`/`saler_id`: the pay/withdraw exports, which rebuild pay/withdraw balances
from entries carrying those, leave trade movements out.
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Tuple

from ...data.transactions import Transaction
from ..keys import sub_account_key, trade_entry
from ..models.ledger import Account, JournalEntry
from .postings import Posting

MAX_TRANSACTION_ITEMS = 100


def _partition(tenant: str, posting: Posting) -> str:
    return sub_account_key(tenant, posting.account_id, posting.sub_account)


def _may_go_negative(account_id: str) -> bool:
    return account_id.startswith("@channel:")


def item_count(postings: List[Posting]) -> int:
    """Items the postings need: one balance update per partition, one journal put each."""
    return len({(p.account_id, p.sub_account) for p in postings}) + len(postings)


@dataclass(frozen=True)
class JournalGuard:
    """The owner of one journal entry in a transaction: its condition failing means the posting
    is in the journal already."""
    partition: str
    entry: str


def add_phase(transaction: Transaction, tenant: str, trans_id: str, postings: List[Posting],
              posted_at: str) -> List[Posting]:
    """Add the writes of one phase to `transaction`. Owners (for the cancellation reasons): a
    balance update is owned by the first posting of its account (a cancelled balance condition
    names the account that was short), a journal entry by its `JournalGuard`. Returns the
    balance owners."""
    if sum(p.amount for p in postings) != 0:
        # Double entry: a phase that does not balance is a bug, never written.
        raise ValueError(f"trade {trans_id}: postings do not sum to zero: {postings}")
    grouped: Dict[Tuple[str, int], List[Posting]] = OrderedDict()
    for posting in postings:
        grouped.setdefault((posting.account_id, posting.sub_account), []).append(posting)
    balance_owners = []
    for (account_id, sub), group in grouped.items():
        partition, account_entry = Account.key(tenant, account_id, sub)
        legs = [p.leg for p in group]
        if len(set(legs)) != len(legs):
            raise ValueError(f"{account_id}/{sub}: a leg posted twice in one phase: {legs}")
        net = sum(p.amount for p in group)
        condition = None
        if net < 0 and not _may_go_negative(account_id):
            condition = Account.balance >= -net
        transaction.update(Account(partition, account_entry),
                           [Account.balance.add(net), Account.account_id.set(account_id),
                            Account.sub_account.set(sub)],
                           condition=condition, owner=group[0])
        balance_owners.append(group[0])
        for posting in group:
            entry = trade_entry(trans_id, posting.leg)
            transaction.save(
                JournalEntry(partition, entry, posted=JournalEntry.posted_key(posted_at, entry),
                             amount=posting.amount, request_id=trans_id, trans_id=trans_id,
                             leg=posting.leg, phase=posting.phase, account_id=account_id,
                             sub_account=sub),
                condition=JournalEntry.entry.does_not_exist(), owner=JournalGuard(partition, entry))
    return balance_owners
