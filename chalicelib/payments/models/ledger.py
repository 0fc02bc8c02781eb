"""LedgerTable: accounts and their journal (hash `account`, range `entry`, LSI `by_posted`).

Two item types share each account partition:
* `Account` (`entry` = "ACCOUNT"): the balance of one (sub-)account, and for a declared account
  its kind, status and currency;
* `JournalEntry` (`entry` = "<KIND>#<request_id>" or "TRADE#<trans_id>#<leg>"): one signed
  movement, written in the balance's own transaction and never changed or removed. It has two
  shapes: a pay/withdraw movement carries `tenant`, `saler_id`, `response_time`; a trade
  settlement leg carries `trans_id`, `leg`, `phase`, `account_id`, `sub_account`.

Keys are composed by chalicelib/payments/keys.py; the class methods here only delegate.
"""
from typing import Optional, Tuple

from pynamodb.attributes import UnicodeAttribute
from pynamodb.indexes import AllProjection, LocalSecondaryIndex

from ...data.attributes import FenAttribute, WholeNumberAttribute
from ...data.binding import TableModel
from .. import keys
from ..orders import Kind

# Journal entry keys all sort after the account item's "ACCOUNT" ("PAY#", "TRADE#", "WITHDRAW#"):
# a range condition `entry > ACCOUNT` reads a partition's journal without its balance item.
JOURNAL_AFTER = keys.ACCOUNT_ENTRY


class Account(TableModel):
    class Meta:
        table_setting = "LEDGER_TABLE"
        table_name = None

    account = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True, default=keys.ACCOUNT_ENTRY)
    balance = FenAttribute(default=0)
    # Pay/withdraw core (saler accounts, sub-account 1): who the account belongs to.
    tenant = UnicodeAttribute(null=True)
    saler_id = UnicodeAttribute(null=True)
    # Trade settlement: which account and sub-account this partition is.
    account_id = UnicodeAttribute(null=True)
    sub_account = WholeNumberAttribute(null=True)
    # Declared by POST /accounts.
    kind = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    declared_at = UnicodeAttribute(null=True)

    @classmethod
    def key(cls, tenant: str, account_id: str,
            sub_account: int = keys.REALTIME_SUB_ACCOUNT) -> Tuple[str, str]:
        return keys.sub_account_key(tenant, account_id, sub_account), keys.ACCOUNT_ENTRY

    @staticmethod
    def parse_partition(partition: str) -> Tuple[str, str, int]:
        """(tenant, account id, sub-account) of a partition key (`<tenant>#<id>[#<sub>]`)."""
        tenant, rest = partition.split("#", 1)
        account_id, _, sub = rest.partition("#")
        return tenant, account_id, int(sub) if sub else keys.REALTIME_SUB_ACCOUNT


class JournalByPosted(LocalSecondaryIndex):
    """An account's journal in posting order (`posted` = "<posted_at>#<entry>")."""

    class Meta:
        index_name = keys.POSTED_INDEX
        projection = AllProjection()

    account = UnicodeAttribute(hash_key=True)
    posted = UnicodeAttribute(range_key=True)


class JournalEntry(TableModel):
    class Meta:
        table_setting = "LEDGER_TABLE"
        table_name = None

    account = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)
    posted = UnicodeAttribute()
    amount = FenAttribute()             # signed: a credit is positive, a debit negative
    request_id = UnicodeAttribute()     # the order's request_id, or a trade's trans_id
    # Pay/withdraw movements.
    tenant = UnicodeAttribute(null=True)
    saler_id = UnicodeAttribute(null=True)
    response_time = UnicodeAttribute(null=True)
    # Trade settlement legs.
    trans_id = UnicodeAttribute(null=True)
    leg = UnicodeAttribute(null=True)
    phase = UnicodeAttribute(null=True)
    account_id = UnicodeAttribute(null=True)
    sub_account = WholeNumberAttribute(null=True)

    by_posted = JournalByPosted()

    @classmethod
    def key(cls, tenant: str, saler_id: str, kind: Kind, request_id: str) -> Tuple[str, str]:
        """The journal entry of a pay or withdraw: its key is that movement's exactly-once guard."""
        return keys.account_key(tenant, saler_id), keys.journal_entry(kind, request_id)

    @classmethod
    def trade_key(cls, tenant: str, account_id: str, sub_account: int, trans_id: str,
                  leg: str) -> Tuple[str, str]:
        return keys.sub_account_key(tenant, account_id, sub_account), keys.trade_entry(trans_id, leg)

    @staticmethod
    def posted_key(posted_at: str, entry: str) -> str:
        return f"{posted_at}#{entry}"

    @property
    def is_trade_leg(self) -> bool:
        return self.trans_id is not None

    @property
    def trade_phase(self) -> Optional[Tuple[str, str]]:
        return (self.trans_id, self.phase) if self.trans_id is not None else None
