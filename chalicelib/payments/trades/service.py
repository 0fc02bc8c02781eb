"""Trades: record (`POST /trades`), settle (`POST /trades/{trans_id}/pay`), read.

A trade is one item of the trades table (`<tenant>#TRADE#<trans_id>`), RECORDED when
written, SETTLING while async phases wait, SETTLED when every posting is in the journal.

Settling (rule 11, idempotent on trans_id):
1. read the trade (consistent); one already settled is a replay: the same pay inputs
   (parsed, compared canonically) return the recorded settlement, other inputs are refused
   with 1030; nothing is validated or posted again;
2. read the accounts involved, apply the rules (rules.py) and build the postings (postings.py);
3. one DynamoDB transaction: the trade item's update from RECORDED (the guard: a second
   settlement of the trade cancels here), the settlement record on it (inputs, effective
   values, every posting, the async phases still to apply, the marketing solution), and the
   REALTIME postings (balances + journal entries). At most 100 items: a settlement that would
   need more (or an async phase that would) is refused up front with TRADE_TOO_LARGE.
A cancelled transaction is read for its reason: the guard -> replay; the buyer's balance ->
TRADE_BALANCE_SHORT (nothing written, the trade can be paid once funded); a conflict -> retry
with backoff, then BUSY (nothing written).
"""
import json
from typing import List, Optional

from botocore.exceptions import ClientError

from ... import clock, fields
from ...dynamo import TransactionCancelled, condition_failed, from_item, retryable, to_item, transact_write
from ...errors import ErrorCode, InvalidField, PaySettleError, ReentryRefused, differing
from ...logs import log
from ...retry import TRADE_SETTLEMENT
from .. import registry
from ..keys import trade_key
from . import ledger_items, rules
from .context import Trades
from .messages import PayTradeRequest, TradeRequest
from .postings import ASYNC_PHASES, REALTIME, Posting, by_phase, postings

RECORDED, SETTLING, SETTLED = "RECORDED", "SETTLING", "SETTLED"
PENDING_INDEX = "pending_async"      # sparse GSI: settlements with async phases still to apply
TRADE_FIELDS = ("trans_id", "buyer_id", "seller_id", "cash_amount", "settlement_type",
                "payment_mode", "channel_id", "fee_amount", "fee_user_id")
NAMES = {"#state": "state", "#pay_inputs": "pay_inputs", "#settlement": "settlement",
         "#postings": "postings", "#pending": "pending_phases", "#settled_at": "settled_at",
         "#pending_tenant": "pending_tenant"}


def _trans_id(value: str) -> str:
    try:
        return fields.request_id(value)
    except ValueError as exc:
        raise InvalidField("trans_id", str(exc)) from None


def _read(ctx: Trades, trans_id: str) -> Optional[dict]:
    answer = ctx.dynamodb.get_item(TableName=ctx.trades_table, ConsistentRead=True,
                                   Key=to_item({"pk": trade_key(ctx.tenant, trans_id)}))
    item = answer.get("Item")
    return from_item(item) if item else None


def view(record: dict) -> dict:
    """A trade as answered in `data`."""
    trade = {name: record.get(name) for name in TRADE_FIELDS}
    answer = {"trans_id": record["trans_id"], "state": record["state"], "trade": trade}
    if record["state"] != RECORDED:
        answer.update(settlement=record["settlement"], postings=record["postings"],
                      pending_phases=record.get("pending_phases", []),
                      settled_at=record["settled_at"])
    return answer


# -- POST /trades ---------------------------------------------------------------------------

def record_trade(ctx: Trades, request: TradeRequest) -> dict:
    if request.buyer_id == request.seller_id:
        raise InvalidField("seller_id", "must differ from buyer_id")
    record = dict(request.model_dump(mode="json"), pk=trade_key(ctx.tenant, request.trans_id),
                  tenant=ctx.tenant, state=RECORDED, created_at=clock.iso_utc(ctx.now()))
    try:
        ctx.dynamodb.put_item(TableName=ctx.trades_table, Item=to_item(record),
                              ConditionExpression="attribute_not_exists(pk)",
                              ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as failed:
        if not condition_failed(failed):
            raise
        old = failed.response.get("Item")
        existing = from_item(old) if old else _read(ctx, request.trans_id)
        different = differing({k: existing.get(k) for k in TRADE_FIELDS}, request.model_dump(mode="json"))
        if different:
            log("trade.reentry_mismatch", trans_id=request.trans_id, different=different)
            raise ReentryRefused("trans_id", request.trans_id, different)
        return view(existing)
    log("trade.recorded", trans_id=request.trans_id, cash_amount=request.cash_amount)
    return view(record)


def find_trade(ctx: Trades, trans_id: str) -> dict:
    record = _read(ctx, _trans_id(trans_id))
    if record is None:
        raise PaySettleError(ErrorCode.TRADE_NOT_FOUND, field="trans_id",
                             detail="no trade with this trans_id")
    return view(record)


# -- POST /trades/{trans_id}/pay ----------------------------------------------------------------

def _replay(ctx: Trades, record: dict, request: PayTradeRequest) -> dict:
    # Both sides as parsed JSON, so that the inputs that differ can be named.
    different = differing(json.loads(record.get("pay_inputs") or "{}"), json.loads(request.canonical()))
    if different:
        log("trade.pay_reentry_mismatch", trans_id=record["trans_id"], different=different)
        raise ReentryRefused("trans_id", record["trans_id"], different)
    return view(record)


def _settlement_update(ctx: Trades, trade: dict, request: PayTradeRequest, plan: rules.Plan,
                       all_postings: List[Posting], settled_at: str) -> dict:
    pending = [phase for phase in ASYNC_PHASES if any(p.phase == phase for p in all_postings)]
    assignments = ["#state = :state", "#pay_inputs = :inputs", "#settlement = :settlement",
                   "#postings = :postings", "#pending = :pending", "#settled_at = :settled_at"]
    values = {":state": SETTLING if pending else SETTLED, ":inputs": request.canonical(),
              ":settlement": plan.settlement(), ":postings": [p.view() for p in all_postings],
              ":pending": pending, ":settled_at": settled_at, ":recorded": RECORDED}
    if pending:
        # The sparse index the applier reads: present only while a phase is pending.
        assignments.append("#pending_tenant = :tenant")
        values[":tenant"] = ctx.tenant
    return {"Update": {
        "TableName": ctx.trades_table, "Key": to_item({"pk": trade["pk"]}),
        "UpdateExpression": "SET " + ", ".join(assignments),
        "ConditionExpression": "#state = :recorded",
        "ExpressionAttributeNames": {k: v for k, v in NAMES.items()
                                     if k != "#pending_tenant" or pending},
        "ExpressionAttributeValues": to_item(values),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def _check_size(phases: dict) -> None:
    for phase, group in phases.items():
        needed = ledger_items.item_count(group) + 1     # + the trade / settlement record
        if needed > ledger_items.MAX_TRANSACTION_ITEMS:
            raise PaySettleError(ErrorCode.TRADE_TOO_LARGE, field="billing_solution",
                                 detail=f"phase {phase} needs {needed} items in one transaction, "
                                        f"at most {ledger_items.MAX_TRANSACTION_ITEMS}")


def pay_trade(ctx: Trades, trans_id: str, request: PayTradeRequest) -> dict:
    trans_id = _trans_id(trans_id)
    trade = _read(ctx, trans_id)
    if trade is None:
        raise PaySettleError(ErrorCode.TRADE_NOT_FOUND, field="trans_id",
                             detail="no trade with this trans_id")
    if trade["state"] != RECORDED:
        return _replay(ctx, trade, request)
    accounts = registry.read_accounts(ctx.dynamodb, ctx.ledger_table, ctx.tenant,
                                      rules.accounts_needed(trade, request))
    plan = rules.plan(trade, request, accounts)
    all_postings = postings(plan)
    phases = by_phase(all_postings)
    _check_size(phases)
    policy = TRADE_SETTLEMENT.using(sleep=ctx.sleep)
    for attempt in range(policy.attempts):
        now = ctx.now()
        settled_at = clock.iso_utc(now)
        guard = _settlement_update(ctx, trade, request, plan, all_postings, settled_at)
        items, owners = ledger_items.phase_items(ctx.ledger_table, ctx.tenant, trans_id,
                                                 phases.get(REALTIME, []), settled_at)
        try:
            transact_write(ctx.dynamodb, [guard] + items)
        except TransactionCancelled as cancelled:
            if cancelled.condition_failed(0):
                old = cancelled.old_item(0)
                return _replay(ctx, old if old else _read(ctx, trans_id), request)
            short = [owners[i - 1] for i in range(1, len(items) + 1)
                     if owners[i - 1] is not None and cancelled.condition_failed(i)]
            if short:
                account = short[0].account_id
                log("trade.balance_short", trans_id=trans_id, account_id=account)
                raise PaySettleError(ErrorCode.TRADE_BALANCE_SHORT, field="buyer_id",
                                     detail=f"{account} does not cover "
                                            f"{plan.cash_amount + plan.buyer_fee_amount} fen "
                                            "(cash amount + buyer fee)")
            if not cancelled.conflicted and not any(cancelled.condition_failed(i)
                                                    for i in range(len(items) + 1)):
                raise
            if any(cancelled.condition_failed(i) for i in range(1, len(items) + 1)):
                # A journal entry of this trade exists but the trade is RECORDED: impossible
                # unless the data was edited by hand. Never post over it.
                raise PaySettleError(ErrorCode.INTERNAL, field="trans_id",
                                     detail="journal entries exist for an unsettled trade")
        except ClientError as error:
            if not retryable(error):
                raise
        else:
            log("trade.settled", trans_id=trans_id, postings=len(all_postings),
                pending=[p for p in ASYNC_PHASES if p in phases])
            return view(_read(ctx, trans_id))
        policy.pause(attempt)
    raise PaySettleError(ErrorCode.BUSY)
