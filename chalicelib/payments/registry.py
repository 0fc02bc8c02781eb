"""Account attributes: kind (B merchant / C platform), status, currency; `POST /accounts`.

The attributes live on the balance item of sub-account 1 (`<tenant>#<id>`, "ACCOUNT"), the
item the pay/withdraw core already keeps for every saler. A saler account the core created
implicitly (by its first credit) has no `kind`: it reads as a B account, NORMAL, CNY, and
`POST /accounts` with exactly those fields adopts it (any other fields are refused with 1030).
Sub-account 3 is its own partition, created by its first posting (keys.sub_account_key).

`accounts` (the account view's and trade settlement's reads) and `declare` go through the
ledger's `Account` model.
"""
from dataclasses import dataclass
from typing import Dict, Iterable

from .. import clock
from ..dynamo import update_or_stored
from ..errors import ReentryRefused, differing
from ..logs import log
from .keys import account_key

KINDS = ("B", "C")
STATUSES = ("NORMAL", "FROZEN", "CLOSED")
CURRENCIES = ("CNY",)
IMPLICIT = {"kind": "B", "status": "NORMAL", "currency": "CNY"}


@dataclass(frozen=True)
class AccountInfo:
    account_id: str
    exists: bool
    kind: str = "B"
    status: str = "NORMAL"
    currency: str = "CNY"
    balance: int = 0            # sub-account 1
    declared: bool = False      # declared by POST /accounts (not only created by a credit)

    @property
    def normal(self) -> bool:
        return self.status == "NORMAL"

    def fields(self) -> dict:
        return {"kind": self.kind, "status": self.status, "currency": self.currency}

    @classmethod
    def from_record(cls, account_id: str, record: dict) -> "AccountInfo":
        return cls(account_id, True, **{k: record.get(k, v) for k, v in IMPLICIT.items()},
                   balance=int(record.get("balance", 0)), declared="kind" in record)


def accounts(tenant: str, ids: Iterable[str]) -> Dict[str, AccountInfo]:
    """Every listed account through the `Account` model, strongly consistent, by BatchGetItem of
    up to 100 keys; absent ones have `exists` False."""
    from .models.ledger import Account

    wanted = list(dict.fromkeys(ids))
    found = {i: AccountInfo(i, False) for i in wanted}
    if not wanted:
        return found
    by_key = {account_key(tenant, i): i for i in wanted}
    for item in Account.batch_get([Account.key(tenant, i) for i in wanted], consistent_read=True):
        account_id = by_key[item.account]
        found[account_id] = AccountInfo.from_record(account_id, _record(item))
    return found


def _record(item) -> dict:
    """The stored attributes of an `Account` (those absent are left out, as in the item)."""
    return {name: value for name, value in item.attribute_values.items() if value is not None}


def declare(tenant: str, account_id: str, kind: str, status: str, currency: str,
            now) -> AccountInfo:
    """Declare an account through the `Account` model, in one conditional UpdateItem (the stored
    item comes back in that request when the condition refuses it); the same declaration again
    returns it, other fields are refused."""
    from .models.ledger import Account

    wanted = {"kind": kind, "status": status, "currency": currency}
    condition = Account.account.does_not_exist()
    if wanted == IMPLICIT:
        # A saler account the core created by a credit is a B/NORMAL/CNY account already.
        condition = condition | Account.kind.does_not_exist()
    item = Account(*Account.key(tenant, account_id))
    stored = update_or_stored(item, [
        Account.kind.set(kind), Account.status.set(status), Account.currency.set(currency),
        Account.tenant.set(tenant), Account.saler_id.set(account_id),
        Account.declared_at.set(clock.iso_utc(now())),
        Account.balance.set(Account.balance | 0)], condition)
    if stored is not None:
        existing = AccountInfo.from_record(account_id, stored) if stored else None
        if existing is None:
            existing = accounts(tenant, [account_id])[account_id]
        return _same_declaration(existing, wanted)
    log("account.declared", account_id=account_id, kind=kind, status=status)
    return accounts(tenant, [account_id])[account_id]


def _same_declaration(existing: AccountInfo, wanted: dict) -> AccountInfo:
    """A refused declaration replays the stored one when its fields are the same."""
    different = differing(existing.fields(), wanted)
    if different:
        log("account.reentry_mismatch", account_id=existing.account_id, different=different)
        raise ReentryRefused("account_id", existing.account_id, different, was=existing.fields())
    return existing
