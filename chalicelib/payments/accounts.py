"""Read side of accounts: balance, credits still pending, sub-accounts, the journal.

A saler account of the pay/withdraw core (created by its first credit, no `kind`) answers as
it always did: `saler_id`, `balance`, the pending credits. An account declared with
`POST /accounts`, or one with a sub-account 3 (trade settlement), also shows `account_id`,
`kind`, `status`, `currency` and `sub_accounts` (the balance of sub-account 1 and 3; `balance`
stays sub-account 1, the one pay and withdraw move).
"""
from typing import List, Optional, Tuple

from .. import fields
from ..errors import ErrorCode, InvalidField, PaySettleError
from ..retry import ACCOUNT_SNAPSHOT
from . import ledger, registry
from .context import Payments
from .keys import ASYNC_SUB_ACCOUNT, SUB_ACCOUNTS, account_key, journal_entry
from .orders import Kind

MAX_PAGE = 100
DEFAULT_PAGE = 50


def _saler(saler_id: str) -> str:
    try:
        return fields.saler_id(saler_id)
    except ValueError as exc:
        raise InvalidField("saler_id", str(exc)) from None


def _unsettled_pays(ctx: Payments, saler_id: str) -> List:
    """Successful pays of this saler not yet marked settled: their credit may or may not be in
    the journal. A pay leaves this index only after its credit is journaled. Every page of the
    saler's partition of the `unsettled` index (PynamoDB follows LastEvaluatedKey)."""
    from .models.orders import PaymentOrder

    return list(PaymentOrder.unsettled.query(account_key(ctx.tenant, saler_id)))


def _read_together(ctx: Payments, saler_id: str, journal_keys: List[Tuple[str, str]]):
    """The account (sub-account 1 and 3) and which of `journal_keys` exist, as of one moment.

    Read apart, a credit applied between the reads would be in neither the balance nor the
    pending credits (or in both). A credit's journal entry is written in the balance's own
    transaction and never removed, so when the same entries exist before and after the balance
    is read, that balance holds exactly those credits.
    """
    journaled = ledger.journaled(journal_keys)
    policy = ACCOUNT_SNAPSHOT.using(sleep=ctx.sleep)
    for attempt in range(policy.attempts):
        info = registry.accounts(ctx.tenant, [saler_id])[saler_id]
        async_part = ledger.account_state(ctx.tenant, saler_id, ASYNC_SUB_ACCOUNT)
        again = ledger.journaled(journal_keys)
        if again == journaled:
            return info, async_part, journaled
        journaled = again           # credits were applied meanwhile: read the balance again
        policy.pause(attempt)
    raise PaySettleError(ErrorCode.BUSY, field="saler_id",
                         detail="credits kept being applied while the account was read")


def account_view(ctx: Payments, saler_id: str) -> dict:
    saler_id = _saler(saler_id)
    unsettled = _unsettled_pays(ctx, saler_id)
    account = account_key(ctx.tenant, saler_id)
    keys = [(account, journal_entry(Kind.PAY, o.request_id)) for o in unsettled]
    info, async_part, journaled = _read_together(ctx, saler_id, keys)
    pending = [o for o, key in zip(unsettled, keys) if key not in journaled]
    if not info.exists and not async_part.exists and not pending:
        raise PaySettleError(ErrorCode.ACCOUNT_NOT_FOUND, field="saler_id",
                             detail="has no account and no pending credit")
    view = {"saler_id": saler_id, "balance": info.balance,
            "pending_credit_count": len(pending),
            "pending_credit_amount": sum(o.amount for o in pending)}
    if info.declared or async_part.exists:
        view.update(account_id=saler_id, **info.fields(), sub_accounts=[
            {"sub_account": sub, "balance": info.balance if sub == 1 else async_part.balance}
            for sub in SUB_ACCOUNTS])
    return view


def _page_size(limit: Optional[str]) -> int:
    if limit is None:
        return DEFAULT_PAGE
    if not (limit.isascii() and limit.isdigit() and len(limit) <= 3) or not 1 <= int(limit) <= MAX_PAGE:
        raise InvalidField("limit", f"must be an integer from 1 to {MAX_PAGE}")
    return int(limit)


def _sub_account(sub_account: Optional[str]) -> int:
    if sub_account is None:
        return SUB_ACCOUNTS[0]
    if sub_account not in [str(s) for s in SUB_ACCOUNTS]:
        raise InvalidField("sub_account", f"must be one of {', '.join(map(str, SUB_ACCOUNTS))}")
    return int(sub_account)


def journal(ctx: Payments, saler_id: str, limit: Optional[str], cursor: Optional[str],
            sub_account: Optional[str] = None) -> dict:
    saler_id = _saler(saler_id)
    sub = _sub_account(sub_account)
    page = ledger.journal_page(ctx.tenant, saler_id, _page_size(limit), cursor, sub)
    answer = dict(page, saler_id=saler_id)
    if sub_account is not None:
        answer["sub_account"] = sub
    return answer


def declare(ctx: Payments, request) -> dict:
    """`POST /accounts`: the account as declared (the original on a same-field replay)."""
    info = registry.declare(ctx.tenant, request.account_id, request.kind, request.status,
                            request.currency, ctx.now)
    return {"account_id": info.account_id, **info.fields()}
