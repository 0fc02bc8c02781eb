"""Account attributes: kind (B merchant / C platform), status, currency; `POST /accounts`.

The attributes live on the balance item of sub-account 1 (`<tenant>#<id>`, "ACCOUNT"), the
item the pay/withdraw core already keeps for every saler. A saler account the core created
implicitly (by its first credit) has no `kind`: it reads as a B account, NORMAL, CNY, and
`POST /accounts` with exactly those fields adopts it (any other fields are refused with 1030).
Sub-account 3 is its own partition, created by its first posting (keys.sub_account_key).
"""
from dataclasses import dataclass
from typing import Dict, Iterable

from botocore.exceptions import ClientError

from .. import clock
from ..dynamo import condition_failed, from_item, to_item
from ..errors import ReentryRefused, differing
from ..logs import log
from .keys import ACCOUNT_ENTRY, account_key

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


def read_accounts(client, table: str, tenant: str, ids: Iterable[str]) -> Dict[str, AccountInfo]:
    """Every listed account (strongly consistent); absent ones have `exists` False."""
    wanted = list(dict.fromkeys(ids))
    found = {i: AccountInfo(i, False) for i in wanted}
    by_key = {account_key(tenant, i): i for i in wanted}
    for start in range(0, len(wanted), 100):
        keys = [to_item({"account": account_key(tenant, i), "entry": ACCOUNT_ENTRY})
                for i in wanted[start:start + 100]]
        request = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            answer = client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(table, []):
                record = from_item(item)
                account_id = by_key[record["account"]]
                found[account_id] = AccountInfo.from_record(account_id, record)
            request = answer.get("UnprocessedKeys") or None
    return found


def create(client, table: str, tenant: str, account_id: str, kind: str, status: str,
           currency: str, now) -> AccountInfo:
    """Declare an account; the same declaration again returns it, other fields are refused."""
    wanted = {"kind": kind, "status": status, "currency": currency}
    condition = "attribute_not_exists(#account)"
    if wanted == IMPLICIT:
        # A saler account the core created by a credit is a B/NORMAL/CNY account already.
        condition += " OR attribute_not_exists(#kind)"
    try:
        client.update_item(
            TableName=table,
            Key=to_item({"account": account_key(tenant, account_id), "entry": ACCOUNT_ENTRY}),
            UpdateExpression=("SET #kind = :kind, #status = :status, #currency = :currency, "
                              "#tenant = :tenant, #saler = :id, #declared = :now, "
                              "#balance = if_not_exists(#balance, :zero)"),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#account": "account", "#kind": "kind", "#status": "status",
                                      "#currency": "currency", "#tenant": "tenant",
                                      "#saler": "saler_id", "#declared": "declared_at",
                                      "#balance": "balance"},
            ExpressionAttributeValues=to_item({":kind": kind, ":status": status,
                                               ":currency": currency, ":tenant": tenant,
                                               ":id": account_id, ":now": clock.iso_utc(now()),
                                               ":zero": 0}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD", ReturnValues="ALL_NEW")
    except ClientError as failed:
        if not condition_failed(failed):
            raise
        old = failed.response.get("Item")
        existing = AccountInfo.from_record(account_id, from_item(old)) if old else None
        if existing is None:
            existing = read_accounts(client, table, tenant, [account_id])[account_id]
        different = differing(existing.fields(), wanted)
        if different:
            log("account.reentry_mismatch", account_id=account_id, different=different)
            raise ReentryRefused("account_id", account_id, different, was=existing.fields())
        return existing
    log("account.declared", account_id=account_id, kind=kind, status=status)
    return read_accounts(client, table, tenant, [account_id])[account_id]
