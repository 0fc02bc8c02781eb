"""Accounts and their journal in the ledger table.

An account is one item (`account`, "ACCOUNT") holding the balance; each money
movement is one journal item (`account`, "<KIND>#<request_id>") in the same
partition. Every balance change is written in one transaction with its journal
items, so balance = sum(journal) holds at every instant. A journal item's key
is the exactly-once guard of its movement: it is only ever put with
`attribute_not_exists` (by pay/withdraw, chalicelib/payments/service.py, and the aggregator,
through the models of chalicelib/payments/models/ledger.py).

`get_account` and `existing_entries` still take a boto3 client: the account view reads them
beside the account registry's reads. `journaled` is `existing_entries` through the journal entry
model (the sweeper's and the balance export's).
"""
import base64
import json
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Set, Tuple

from ..dynamo import from_item, to_item
from ..errors import InvalidField
from .keys import ACCOUNT_ENTRY, REALTIME_SUB_ACCOUNT, sub_account_key


@dataclass(frozen=True)
class AccountState:
    saler_id: str
    balance: int
    exists: bool


def get_account(client, table: str, tenant: str, saler_id: str,
                sub_account: int = REALTIME_SUB_ACCOUNT) -> AccountState:
    answer = client.get_item(TableName=table, ConsistentRead=True, Key=to_item(
        {"account": sub_account_key(tenant, saler_id, sub_account), "entry": ACCOUNT_ENTRY}))
    item = answer.get("Item")
    if not item:
        return AccountState(saler_id, 0, exists=False)
    return AccountState(saler_id, from_item(item).get("balance", 0), exists=True)


def existing_entries(client, table: str, keys: Iterable[Tuple[str, str]]) -> Set[Tuple[str, str]]:
    """Which of the (account, entry) journal keys exist, read strongly consistently."""
    wanted = list(dict.fromkeys(keys))
    found: Set[Tuple[str, str]] = set()
    for start in range(0, len(wanted), 100):
        request = {table: {"Keys": [to_item({"account": a, "entry": e})
                                    for a, e in wanted[start:start + 100]],
                           "ConsistentRead": True,
                           "ProjectionExpression": "account, entry"}}
        while request:
            answer = client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(table, []):
                plain = from_item(item)
                found.add((plain["account"], plain["entry"]))
            request = answer.get("UnprocessedKeys") or None
    return found


def journaled(keys: Iterable[Tuple[str, str]]) -> Set[Tuple[str, str]]:
    """`existing_entries` through the journal entry model: which of the (account, entry) keys
    exist, read strongly consistently, keys only, by BatchGetItem of up to 100 keys (PynamoDB
    sends the unprocessed keys again, as `existing_entries` does)."""
    # Imported here, as in `journal_page`: the merchant system vendors this module without them.
    from .models.ledger import JournalEntry

    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return set()
    return {(item.account, item.entry) for item in JournalEntry.batch_get(
        wanted, consistent_read=True, attributes_to_get=["account", "entry"])}


def _encode_cursor(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(from_item(key)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, account: str) -> dict:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if (not isinstance(key, dict) or set(key) != {"account", "entry", "posted"}
                or key["account"] != account
                # DynamoDB refuses an empty key value (ValidationException, a 5xx if let
                # through) and a sort key over 1 KB; a cursor this endpoint made has neither.
                or not all(isinstance(v, str) and 0 < len(v.encode()) <= 1024
                           for v in key.values())):
            raise ValueError("wrong shape")
    except (ValueError, UnicodeEncodeError):
        raise InvalidField("cursor", "is not a cursor returned by this endpoint") from None
    return to_item(key)


def journal_page(tenant: str, saler_id: str, limit: int, cursor: Optional[str],
                 sub_account: int = REALTIME_SUB_ACCOUNT) -> Dict:
    """One page of a (sub-)account's journal, oldest first (the `by_posted` index), with the
    cursor of the next: one Query of `limit` items, through the journal entry model."""
    # Imported here: the merchant system's package vendors this module (for the balance export)
    # without the payment models, and the API's cold start need not load PynamoDB for it.
    from .models.ledger import JournalEntry

    account = sub_account_key(tenant, saler_id, sub_account)
    found = JournalEntry.by_posted.query(
        account, limit=limit, last_evaluated_key=_decode_cursor(cursor, account) if cursor else None)
    entries: List[dict] = [{"entry": item.entry, "amount": item.amount, "request_id": item.request_id,
                            "posted_at": item.posted.split("#", 1)[0]} for item in found]
    last = found.last_evaluated_key
    return {"entries": entries, "next_cursor": _encode_cursor(last) if last else None}
