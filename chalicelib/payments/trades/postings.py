"""The money movements of a settlement plan, as balanced postings (pure).

A posting is (account, sub-account, signed amount in fen, leg, phase). Each phase's postings
sum to zero, so every DynamoDB transaction that writes one phase is balanced on its own:

* REALTIME: written by `POST /trades/{trans_id}/pay`, in one transaction with the
  settlement record (its idempotency guard).
* ASYNC_TRADE, then ASYNC_FEE: written later by the applier (applier.py), trade settlement
  always before fee settlement.

The buyer (BALANCE: its sub-account 1; CHANNEL: the channel's clearing account; a combined
payment: each part from its own source) always pays in REALTIME: cash + buyer fee, + the fee
when the buyer bears it. What an async phase will credit waits in the platform's transit
account (`@transit`) meanwhile. Legs:

  PAY            the buyer's payment (and, for an async trade, its arrival in transit)
  TRADE          the seller's cash (sub-account 1 realtime, 3 async); transit's release
  BUYER_FEE      the buyer fee to its income account (sub-account 3, the default)
  SHARE          the sharing solution: seller -> each user (sub-account of the trade's settlement)
  FEE_WITHHELD   a fee deducted at source but settled async: seller -> transit, with the trade
                 (REALTIME for a realtime trade, ASYNC_TRADE for an async one); a fee the buyer
                 bears on a realtime trade: its part of the payment -> transit, in REALTIME
  FEE            the fee: seller (or transit) -> wallet + up-merchants (sub-account of the fee's
                 settlement); a realtime fee the buyer bears comes straight out of the PAY leg

Fee type 1 (deducted at source) never lets the fee reach the seller's balance, so its fee phase
cannot fall short; fee type 2 (collected later) credits the seller the whole cash and takes the
fee back in ASYNC_FEE, which waits while the seller's balance does not cover it.
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Tuple

from ..keys import ASYNC_SUB_ACCOUNT, REALTIME_SUB_ACCOUNT, TRANSIT_ACCOUNT, channel_clearing_account
from .rules import BUYER, Plan

REALTIME, ASYNC_TRADE, ASYNC_FEE = "REALTIME", "ASYNC_TRADE", "ASYNC_FEE"
PHASES = (REALTIME, ASYNC_TRADE, ASYNC_FEE)
ASYNC_PHASES = (ASYNC_TRADE, ASYNC_FEE)
BUYER_FEE_SUB_ACCOUNT = ASYNC_SUB_ACCOUNT      # the ledger's SUB_ACCOUNT_TYPE_DEFAULT


@dataclass(frozen=True)
class Posting:
    account_id: str
    sub_account: int
    amount: int
    leg: str
    phase: str

    def view(self) -> dict:
        return {"account_id": self.account_id, "sub_account": self.sub_account,
                "amount": self.amount, "leg": self.leg, "phase": self.phase}

    @classmethod
    def from_view(cls, view: dict) -> "Posting":
        return cls(view["account_id"], int(view["sub_account"]), int(view["amount"]),
                   view["leg"], view["phase"])


def sub_account(settlement_type: str) -> int:
    """Rule 5: realtime settlement posts to sub-account 1, async to 3."""
    return REALTIME_SUB_ACCOUNT if settlement_type == "REALTIME" else ASYNC_SUB_ACCOUNT


def postings(plan: Plan) -> List[Posting]:
    """Every posting of the plan; one per (account, sub-account, leg), none of zero."""
    lines: List[Tuple[str, int, int, str, str]] = []

    def post(account: str, sub: int, amount: int, leg: str, phase: str) -> None:
        lines.append((account, sub, amount, leg, phase))

    seller_sub = sub_account(plan.settlement_type)
    trade_phase = REALTIME if plan.settlement_type == "REALTIME" else ASYNC_TRADE
    buyer_bears_fee = plan.fee_payer == BUYER
    transit = (TRANSIT_ACCOUNT, REALTIME_SUB_ACCOUNT)

    for mode, amount in plan.payment_parts():
        source = plan.buyer_id if mode == "BALANCE" else channel_clearing_account(plan.channel_id)
        post(source, REALTIME_SUB_ACCOUNT, -amount, "PAY", REALTIME)
    if trade_phase != REALTIME:
        # Everything the buyer paid waits in transit; the trade phase releases cash + buyer
        # fee, a fee the buyer bore stays there for the fee phase.
        post(*transit, plan.buyer_total, "PAY", REALTIME)
        post(*transit, -(plan.cash_amount + plan.buyer_fee_amount), "TRADE", trade_phase)
    post(plan.seller_id, seller_sub, plan.cash_amount, "TRADE", trade_phase)
    if plan.buyer_fee_amount:
        post(plan.buyer_fee_user_id, BUYER_FEE_SUB_ACCOUNT, plan.buyer_fee_amount, "BUYER_FEE",
             trade_phase)
    for user, amount in plan.shares:
        post(plan.seller_id, seller_sub, -amount, "SHARE", trade_phase)
        post(user, seller_sub, amount, "SHARE", trade_phase)

    if plan.fee_amount:
        fee_sub = sub_account(plan.fee_settlement_type)
        if plan.fee_settlement_type == "REALTIME":
            # Realtime fee (so a realtime trade): from the seller, or out of the buyer's payment.
            fee_phase, source = REALTIME, None if buyer_bears_fee else (plan.seller_id, seller_sub)
        elif buyer_bears_fee:
            # Paid with the trade, settled later: it waits in transit (an async trade's
            # payment is there already).
            if trade_phase == REALTIME:
                post(*transit, plan.fee_amount, "FEE_WITHHELD", REALTIME)
            fee_phase, source = ASYNC_FEE, transit
        elif plan.fee_type == 1:
            # Deducted at source, settled later: withheld from the seller's cash as it arrives.
            post(plan.seller_id, seller_sub, -plan.fee_amount, "FEE_WITHHELD", trade_phase)
            post(*transit, plan.fee_amount, "FEE_WITHHELD", trade_phase)
            fee_phase, source = ASYNC_FEE, transit
        else:
            # Collected later from the seller's (sub-)account, after the trade has settled there.
            fee_phase, source = ASYNC_FEE, (plan.seller_id, seller_sub)
        if source is not None:
            post(source[0], source[1], -plan.fee_amount, "FEE", fee_phase)
        post(plan.fee_user_id, fee_sub, plan.wallet_fee, "FEE", fee_phase)
        for user, amount in plan.up_earnings:
            post(user, fee_sub, amount, "FEE", fee_phase)

    merged: Dict[Tuple[str, int, str, str], int] = OrderedDict()
    for account, sub, amount, leg, phase in lines:
        key = (account, sub, leg, phase)
        merged[key] = merged.get(key, 0) + amount
    return [Posting(account, sub, amount, leg, phase)
            for (account, sub, leg, phase), amount in merged.items() if amount]


def by_phase(all_postings: List[Posting]) -> Dict[str, List[Posting]]:
    found: Dict[str, List[Posting]] = {}
    for posting in all_postings:
        found.setdefault(posting.phase, []).append(posting)
    return {phase: found[phase] for phase in PHASES if phase in found}
