"""Accounts and their journal in the ledger table.

An account is one item (`account`, "ACCOUNT") holding the balance; each money
movement is one journal item (`account`, "<KIND>#<request_id>") in the same
partition. Every balance change is written in one transaction with its journal
items, so balance = sum(journal) holds at every instant. A journal item's key
is the exactly-once guard of its movement: it is only ever put with
`attribute_not_exists` (by pay/withdraw, chalicelib/payments/service.py, and the aggregator,
through the models of chalicelib/payments/models/ledger.py).

Reads go through those models too: `account_state` (one balance), `journaled` (which journal
entries exist: the account view's, the sweeper's and the balance export's), `journal_page`.
"""
import base64
import json
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Set, Tuple

from ..dynamo import from_item, to_item
from ..errors import InvalidField
from .keys import REALTIME_SUB_ACCOUNT, sub_account_key


@dataclass(frozen=True)
class AccountState:
    saler_id: str
    balance: int
    exists: bool


def account_state(tenant: str, saler_id: str,
                  sub_account: int = REALTIME_SUB_ACCOUNT) -> AccountState:
    """One (sub-)account's balance, read strongly consistently (one GetItem) through the
    `Account` model; an account no credit or posting created yet reads as 0, not existing."""
    # Imported here, as in `journal_page`: the merchant system vendors this module without them.
    from .models.ledger import Account

    try:
        item = Account.get(*Account.key(tenant, saler_id, sub_account), consistent_read=True)
    except Account.DoesNotExist:
        return AccountState(saler_id, 0, exists=False)
    return AccountState(saler_id, item.balance or 0, exists=True)


def journaled(keys: Iterable[Tuple[str, str]]) -> Set[Tuple[str, str]]:
    """Which of the (account, entry) journal keys exist, through the journal entry model: read
    strongly consistently, keys only, by BatchGetItem of up to 100 keys (PynamoDB sends the
    unprocessed keys again)."""
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
