"""Read side of accounts: balance, credits still pending, the journal."""
from typing import Optional

from .. import fields
from ..dynamo import from_item, values
from ..errors import ErrorCode, InvalidField, PaySettleError
from . import ledger
from .context import Payments
from .keys import UNSETTLED_INDEX, account_key, journal_entry
from .orders import Kind

MAX_PAGE = 100
DEFAULT_PAGE = 50


def _saler(saler_id: str) -> str:
    try:
        return fields.saler_id(saler_id)
    except ValueError as exc:
        raise InvalidField("saler_id", str(exc)) from None


def _pending_credits(ctx: Payments, saler_id: str):
    """Successful pays of this saler whose credit is not yet in the journal."""
    account = account_key(ctx.tenant, saler_id)
    orders = []
    request = {"TableName": ctx.orders_table, "IndexName": UNSETTLED_INDEX,
               "KeyConditionExpression": "unsettled_account = :account",
               "ExpressionAttributeValues": values(account=account)}
    while True:
        answer = ctx.dynamodb.query(**request)
        orders += [from_item(item) for item in answer.get("Items", [])]
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    keys = [(account, journal_entry(Kind.PAY, o["request_id"])) for o in orders]
    journaled = ledger.existing_entries(ctx.dynamodb, ctx.ledger_table, keys)
    return [o for o, key in zip(orders, keys) if key not in journaled]


def account_view(ctx: Payments, saler_id: str) -> dict:
    saler_id = _saler(saler_id)
    state = ledger.get_account(ctx.dynamodb, ctx.ledger_table, ctx.tenant, saler_id)
    pending = _pending_credits(ctx, saler_id)
    if not state.exists and not pending:
        raise PaySettleError(ErrorCode.ACCOUNT_NOT_FOUND, field="saler_id",
                             detail="has no account and no pending credit")
    return {"saler_id": saler_id, "balance": state.balance,
            "pending_credit_count": len(pending),
            "pending_credit_amount": sum(o["amount"] for o in pending)}


def _page_size(limit: Optional[str]) -> int:
    if limit is None:
        return DEFAULT_PAGE
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3) or not 1 <= int(limit) <= MAX_PAGE:
        raise InvalidField("limit", f"must be an integer from 1 to {MAX_PAGE}")
    return int(limit)


def journal(ctx: Payments, saler_id: str, limit: Optional[str], cursor: Optional[str]) -> dict:
    saler_id = _saler(saler_id)
    page = ledger.journal_page(ctx.dynamodb, ctx.ledger_table, ctx.tenant, saler_id,
                               _page_size(limit), cursor)
    return dict(page, saler_id=saler_id)
