"""DynamoDB transaction items that write one phase's postings to the core's ledger table.

Per (sub-)account partition touched: one balance update (the net of its postings; a net debit
only on the condition that the balance covers it, except a channel's clearing account, which
records what the channel owes and may go negative), and one journal item per leg, put only if
absent: the journal entry key `TRADE#<trans_id>#<leg>` is the exactly-once guard of that
posting. Balance and journal change in the same transaction, so balance = sum(journal) holds.

Trade journal items carry `request_id` = trans_id (so the journal route lists them like any
entry) but no `tenant`/`saler_id`: the pay/withdraw exports, which rebuild pay/withdraw balances
from entries carrying those, leave trade movements out.
"""
from collections import OrderedDict
from typing import Dict, List, Tuple

from ...dynamo import to_item
from ..keys import ACCOUNT_ENTRY, sub_account_key, trade_entry
from .postings import Posting

MAX_TRANSACTION_ITEMS = 100


def _partition(tenant: str, posting: Posting) -> str:
    return sub_account_key(tenant, posting.account_id, posting.sub_account)


def _may_go_negative(account_id: str) -> bool:
    return account_id.startswith("@channel:")


def item_count(postings: List[Posting]) -> int:
    """Items the postings need: one balance update per partition, one journal put each."""
    return len({(p.account_id, p.sub_account) for p in postings}) + len(postings)


def phase_items(table: str, tenant: str, trans_id: str, postings: List[Posting],
                posted_at: str) -> Tuple[List[dict], List[Posting]]:
    """The items of one phase, and for each balance item the posting whose account it guards
    (None for journal items): a cancelled balance condition names the account that was short."""
    if sum(p.amount for p in postings) != 0:
        # Double entry: a phase that does not balance is a bug, never written.
        raise ValueError(f"trade {trans_id}: postings do not sum to zero: {postings}")
    grouped: Dict[Tuple[str, int], List[Posting]] = OrderedDict()
    for posting in postings:
        grouped.setdefault((posting.account_id, posting.sub_account), []).append(posting)
    items, owners = [], []
    for (account_id, sub), group in grouped.items():
        partition = sub_account_key(tenant, account_id, sub)
        legs = [p.leg for p in group]
        if len(set(legs)) != len(legs):
            raise ValueError(f"{account_id}/{sub}: a leg posted twice in one phase: {legs}")
        net = sum(p.amount for p in group)
        update = {
            "TableName": table,
            "Key": to_item({"account": partition, "entry": ACCOUNT_ENTRY}),
            "UpdateExpression": "ADD #balance :net SET #account_id = :account_id, #sub = :sub",
            "ExpressionAttributeNames": {"#balance": "balance", "#account_id": "account_id",
                                         "#sub": "sub_account"},
            "ExpressionAttributeValues": to_item({":net": net, ":account_id": account_id,
                                                  ":sub": sub}),
        }
        if net < 0 and not _may_go_negative(account_id):
            update["ConditionExpression"] = "#balance >= :need"
            update["ExpressionAttributeValues"].update(to_item({":need": -net}))
        items.append({"Update": update})
        owners.append(group[0])
        for posting in group:
            entry = trade_entry(trans_id, posting.leg)
            items.append({"Put": {
                "TableName": table,
                "Item": to_item({"account": partition, "entry": entry,
                                 "posted": f"{posted_at}#{entry}", "amount": posting.amount,
                                 "request_id": trans_id, "trans_id": trans_id,
                                 "leg": posting.leg, "phase": posting.phase,
                                 "account_id": account_id, "sub_account": sub}),
                "ConditionExpression": "attribute_not_exists(entry)",
            }})
            owners.append(None)
    return items, owners
