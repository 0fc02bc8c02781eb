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

from pynamodb.exceptions import DoesNotExist, PynamoDBException

from ... import clock, fields
from ...data.attributes import NotWholeFen, whole_fen
from ...data.transactions import Cancelled, Transaction
from ...dynamo import RETRYABLE_ERRORS, from_item, put_new
from ...errors import ErrorCode, InvalidField, PaySettleError, ReentryRefused, differing
from ...logs import log
from ...retry import TRADE_SETTLEMENT
from .. import registry
from ..models.trades import Trade
from . import ledger_items, rules
from .context import Trades
from .ledger_items import JournalGuard
from .messages import PayTradeRequest, TradeRequest
from .postings import ASYNC_PHASES, REALTIME, Posting, by_phase, postings

RECORDED, SETTLING, SETTLED = "RECORDED", "SETTLING", "SETTLED"
PENDING_INDEX = "pending_async"      # sparse GSI: settlements with async phases still to apply
TRADE_FIELDS = ("trans_id", "buyer_id", "seller_id", "cash_amount", "settlement_type",
                "payment_mode", "channel_id", "fee_amount", "fee_user_id")
# The settlement's guard in its transaction (cancellation reasons are mapped to it by key).
GUARD = "trade guard"


def _trans_id(value: str) -> str:
    try:
        return fields.request_id(value)
    except ValueError as exc:
        raise InvalidField("trans_id", str(exc)) from None


def read_record(pk: str) -> Optional[dict]:
    """The trade item `pk` as a plain record (numbers as int, maps and lists as Python's), read
    consistently; None if there is none."""
    try:
        found = Trade.get(pk, consistent_read=True)
    except DoesNotExist:
        return None
    return from_item(found.serialize(null_check=False))


def _read(ctx: Trades, trans_id: str) -> Optional[dict]:
    return read_record(Trade.key(ctx.tenant, trans_id))


def _retryable(error: PynamoDBException) -> bool:
    """The very same transaction may simply be sent again (throttled, in progress, a server error)."""
    return error.cause_response_code in RETRYABLE_ERRORS


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
    # Amounts are whole fen end to end: anything else is refused before it reaches a model.
    for name in ("cash_amount", "fee_amount"):
        if getattr(request, name) is not None:
            try:
                whole_fen(getattr(request, name), name)
            except NotWholeFen as refused:
                raise InvalidField(name, str(refused)) from None
    record = dict(request.model_dump(mode="json"), pk=Trade.key(ctx.tenant, request.trans_id),
                  tenant=ctx.tenant, state=RECORDED, created_at=clock.iso_utc(ctx.now()))
    old = put_new(Trade(**{k: v for k, v in record.items() if v is not None}))
    if old is not None:
        existing = old or _read(ctx, request.trans_id)
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


def _add_settlement(transaction: Transaction, ctx: Trades, trade: dict, request: PayTradeRequest,
                    plan: rules.Plan, all_postings: List[Posting], settled_at: str) -> None:
    """The trade's update from RECORDED (the settlement's guard), with the settlement record."""
    pending = [phase for phase in ASYNC_PHASES if any(p.phase == phase for p in all_postings)]
    actions = [Trade.state.set(SETTLING if pending else SETTLED),
               Trade.pay_inputs.set(request.canonical()),
               Trade.settlement.set(plan.settlement()),
               Trade.postings.set([p.view() for p in all_postings]),
               Trade.pending_phases.set(pending), Trade.settled_at.set(settled_at)]
    if pending:
        # The sparse index the applier reads: present only while a phase is pending.
        actions.append(Trade.pending_tenant.set(ctx.tenant))
    transaction.update(Trade(trade["pk"]), actions, condition=Trade.state == RECORDED,
                       owner=GUARD, return_values="ALL_OLD")


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
    accounts = registry.accounts(ctx.tenant, rules.accounts_needed(trade, request))
    plan = rules.plan(trade, request, accounts)
    all_postings = postings(plan)
    phases = by_phase(all_postings)
    _check_size(phases)
    policy = TRADE_SETTLEMENT.using(sleep=ctx.sleep)
    for attempt in range(policy.attempts):
        now = ctx.now()
        settled_at = clock.iso_utc(now)
        transaction = Transaction(Trade)
        _add_settlement(transaction, ctx, trade, request, plan, all_postings, settled_at)
        balances = ledger_items.add_phase(transaction, ctx.tenant, trans_id,
                                          phases.get(REALTIME, []), settled_at)
        try:
            transaction.commit()
        except Cancelled as cancelled:
            if cancelled.condition_failed(GUARD):
                old = cancelled.old_item(GUARD)
                return _replay(ctx, from_item(old) if old else _read(ctx, trans_id), request)
            failed = cancelled.failed_owners
            # In the order the postings were planned, not the order DynamoDB received them.
            short = [owner for owner in balances if owner in failed]
            if short:
                account = short[0].account_id
                log("trade.balance_short", trans_id=trans_id, account_id=account)
                raise PaySettleError(ErrorCode.TRADE_BALANCE_SHORT, field="buyer_id",
                                     detail=f"{account} does not cover "
                                            f"{plan.cash_amount + plan.buyer_fee_amount} fen "
                                            "(cash amount + buyer fee)")
            if not cancelled.conflicted and not failed:
                raise
            if any(isinstance(owner, JournalGuard) for owner in failed):
                # A journal entry of this trade exists but the trade is RECORDED: impossible
                # unless the data was edited by hand. Never post over it.
                raise PaySettleError(ErrorCode.INTERNAL, field="trans_id",
                                     detail="journal entries exist for an unsettled trade")
        except PynamoDBException as error:
            if not _retryable(error):
                raise
        else:
            log("trade.settled", trans_id=trans_id, postings=len(all_postings),
                pending=[p for p in ASYNC_PHASES if p in phases])
            return view(_read(ctx, trans_id))
        policy.pause(attempt)
    raise PaySettleError(ErrorCode.BUSY)
