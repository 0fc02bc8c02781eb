"""The validation rules of `pay_trans` (seed 002), as a pure function: trade + pay inputs +
the accounts involved -> the effective settlement (`Plan`), or the named refusal.

Rules are checked in this order; the first that fails answers (each has its code in the
one errors table, chalicelib/errors.py):

 1. fee_type, fee_settlement_type and pay_mode: all given or none (FEE_FIELDS_NOT_TOGETHER).
 2. a given pay_mode equals the trade's payment_mode (PAY_MODE_MISMATCH).
 3. given channel_id, settlement_type, fee_amount, fee_user_id override the trade's; the fee
    type defaults to 1, the fee settlement type to the (effective) settlement type.
 4. a realtime fee settlement cannot be collected later, fee_type 2 (REALTIME_FEE_COLLECTED_LATER);
    and trade settlement comes before fee settlement: an async trade with a realtime fee would
    reverse them (FEE_BEFORE_TRADE).
 5. the seller's sub-account is 1 for realtime settlement, 3 for async (postings.py).
    The parties: with BALANCE the buyer, and always the seller, have accounts
    (TRADE_PARTY_NOT_FOUND) that are NORMAL (ACCOUNT_NOT_NORMAL); CHANNEL needs a channel_id.
 6. fee <= cash amount (FEE_EXCEEDS_CASH); a non-zero fee needs a fee account that exists
    (FEE_ACCOUNT_NOT_FOUND), is neither seller nor buyer (FEE_ACCOUNT_IS_PARTY), is a C account
    (FEE_ACCOUNT_NOT_C) and is NORMAL (ACCOUNT_NOT_NORMAL). The same for a non-zero buyer fee
    (BUYER_FEE_ACCOUNT_*).
 7. every sharing-solution account exists (SHARING_ACCOUNT_NOT_FOUND), is NORMAL
    (SHARING_ACCOUNT_NOT_NORMAL), is neither seller nor buyer (SHARING_ACCOUNT_IS_PARTY).
 8. up-merchants: each is in the solution (UP_MERCHANT_NOT_IN_SOLUTION); up-merchants and
    solution users are the same set of at most 2, one per level (UP_MERCHANT_SET_MISMATCH);
    two levels: top.fee_plus_amount = middle.fee_amount, the wallet (fee account) takes
    top.fee_amount; one level: its fee_plus_amount = 0, the wallet takes its fee_amount; nobody
    earns a negative amount (UP_MERCHANT_FEE_CHAIN). Without up-merchants, solution items carry
    no fee_amount / fee_plus_amount (UP_MERCHANT_SET_MISMATCH).
 9. the sharing amounts and the fee together are at most the cash amount: the seller never
    shares more than it receives, cash - fee (SHARING_EXCEEDS_PROCEEDS).
10. a marketing solution is recorded (total, unsettled), never posted.

The fee split: the fee F leaves the seller (or, deducted at source and settled later, the
transit account); the wallet gets W, the middle up-merchant F - middle.fee_amount, the top one
top.fee_plus_amount - top.fee_amount; W + earnings = F.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ...errors import ErrorCode, InvalidField, PaySettleError
from ..registry import AccountInfo
from .messages import PayTradeRequest


@dataclass(frozen=True)
class Plan:
    trans_id: str
    buyer_id: str
    seller_id: str
    cash_amount: int
    payment_mode: str
    channel_id: Optional[str]
    settlement_type: str
    fee_type: int
    fee_settlement_type: str
    fee_amount: int
    fee_user_id: Optional[str]
    buyer_fee_amount: int
    buyer_fee_user_id: Optional[str]
    shares: Tuple[Tuple[str, int], ...] = ()                 # (user, amount) from the seller
    wallet_fee: int = 0                                     # to the fee account
    up_earnings: Tuple[Tuple[str, int], ...] = ()           # (up-merchant, its part of the fee)
    mkt_solution: Optional[Dict[str, int]] = None

    def settlement(self) -> dict:
        """The effective values, as recorded on the settlement and answered."""
        return {"payment_mode": self.payment_mode, "channel_id": self.channel_id,
                "settlement_type": self.settlement_type, "fee_type": self.fee_type,
                "fee_settlement_type": self.fee_settlement_type, "fee_amount": self.fee_amount,
                "fee_user_id": self.fee_user_id, "buyer_fee_amount": self.buyer_fee_amount,
                "buyer_fee_user_id": self.buyer_fee_user_id, "wallet_fee": self.wallet_fee,
                "mkt_solution": self.mkt_solution}


def _refuse(code: ErrorCode, field_name: str, detail: str):
    raise PaySettleError(code, field=field_name, detail=detail)


def accounts_needed(trade: dict, request: PayTradeRequest) -> List[str]:
    """Every account whose attributes the rules read."""
    ids = [trade["buyer_id"], trade["seller_id"]]
    for given, stored in ((request.fee_user_id, trade.get("fee_user_id")),
                          (request.buyer_fee_user_id, None)):
        if given or stored:
            ids.append(given or stored)
    ids += [item.user_id for item in request.billing_solution or []]
    return list(dict.fromkeys(ids))


def _check_income_account(user_id: Optional[str], accounts: Dict[str, AccountInfo], trade: dict,
                          field_name: str, codes: Tuple[ErrorCode, ErrorCode, ErrorCode]) -> None:
    not_found, is_party, not_c = codes
    info = accounts.get(user_id) if user_id else None
    if info is None or not info.exists:
        _refuse(not_found, field_name, "is not given or has no account" if not user_id
                else f"{user_id} has no account")
    if user_id in (trade["seller_id"], trade["buyer_id"]):
        _refuse(is_party, field_name, f"{user_id} is the trade's seller or buyer")
    if info.kind != "C":
        _refuse(not_c, field_name, f"{user_id} is a {info.kind} account, not a C account")
    if not info.normal:
        _refuse(ErrorCode.ACCOUNT_NOT_NORMAL, field_name, f"{user_id} is {info.status}")


def _up_merchant_split(request: PayTradeRequest, fee: int) -> Tuple[int, Tuple[Tuple[str, int], ...]]:
    """Rule 8: (wallet fee, up-merchant earnings)."""
    solution = {item.user_id: item for item in request.billing_solution or []}
    ups = request.up_merchants or []
    if not ups:
        if any(item.fee_amount or item.fee_plus_amount for item in solution.values()):
            _refuse(ErrorCode.UP_MERCHANT_SET_MISMATCH, "billing_solution",
                    "fee_amount and fee_plus_amount apply to up-merchants only, none is given")
        return fee, ()
    for up in ups:
        if up.user_id not in solution:
            _refuse(ErrorCode.UP_MERCHANT_NOT_IN_SOLUTION, "up_merchants",
                    f"{up.user_id} does not appear in billing_solution")
    users = [up.user_id for up in ups]
    levels = [up.level for up in ups]
    if (len(ups) > 2 or len(set(users)) != len(users) or len(set(levels)) != len(levels)
            or set(users) != set(solution)):
        _refuse(ErrorCode.UP_MERCHANT_SET_MISMATCH, "up_merchants",
                "up-merchants and billing_solution users must be the same set of at most 2, "
                "one per level")
    by_level = {up.level: solution[up.user_id] for up in ups}
    if len(by_level) == 2:
        middle, top = by_level[1], by_level[2]
        if top.fee_plus_amount != middle.fee_amount:
            _refuse(ErrorCode.UP_MERCHANT_FEE_CHAIN, "billing_solution",
                    f"the top up-merchant's fee_plus_amount ({top.fee_plus_amount}) must equal "
                    f"the middle one's fee_amount ({middle.fee_amount})")
        wallet = top.fee_amount
        earnings = ((middle.user_id, fee - middle.fee_amount),
                    (top.user_id, top.fee_plus_amount - top.fee_amount))
    else:
        [only] = by_level.values()
        if only.fee_plus_amount != 0:
            _refuse(ErrorCode.UP_MERCHANT_FEE_CHAIN, "billing_solution",
                    "with one up-merchant level its fee_plus_amount must be 0")
        wallet = only.fee_amount
        earnings = ((only.user_id, fee - only.fee_amount),)
    if any(amount < 0 for _, amount in earnings):
        _refuse(ErrorCode.UP_MERCHANT_FEE_CHAIN, "billing_solution",
                f"the fee ({fee}) does not cover the up-merchants' fee_amount chain: "
                "fee >= middle fee_amount >= top fee_amount is required")
    return wallet, earnings


def plan(trade: dict, request: PayTradeRequest, accounts: Dict[str, AccountInfo]) -> Plan:
    """The effective settlement of `trade` under `request`, or the refusal of the first rule."""
    # Rule 1
    given = [request.fee_type is not None, request.fee_settlement_type is not None,
             request.pay_mode is not None]
    if any(given) and not all(given):
        _refuse(ErrorCode.FEE_FIELDS_NOT_TOGETHER, "fee_type",
                "fee_type, fee_settlement_type and pay_mode must be given together or not at all")
    # Rule 2
    if request.pay_mode is not None and request.pay_mode != trade["payment_mode"]:
        _refuse(ErrorCode.PAY_MODE_MISMATCH, "pay_mode",
                f"is {request.pay_mode}, the trade's payment_mode is {trade['payment_mode']}")
    # Rule 3
    settlement_type = request.settlement_type or trade["settlement_type"]
    channel_id = request.channel_id or trade.get("channel_id")
    fee = request.fee_amount if request.fee_amount is not None else int(trade.get("fee_amount") or 0)
    fee_user_id = request.fee_user_id or trade.get("fee_user_id")
    fee_type = request.fee_type or 1
    fee_settlement_type = request.fee_settlement_type or settlement_type
    # Rule 4, and trade settlement before fee settlement
    if fee_settlement_type == "REALTIME" and fee_type == 2:
        _refuse(ErrorCode.REALTIME_FEE_COLLECTED_LATER, "fee_type",
                "a fee collected later (2) cannot be settled in realtime")
    if settlement_type == "ASYNC" and fee_settlement_type == "REALTIME":
        _refuse(ErrorCode.FEE_BEFORE_TRADE, "fee_settlement_type",
                "an async trade's fee must settle async, after the trade")
    # Rule 5: the parties
    cash = int(trade["cash_amount"])
    parties = [("seller_id", trade["seller_id"])]
    if trade["payment_mode"] == "BALANCE":
        parties.insert(0, ("buyer_id", trade["buyer_id"]))
    elif not channel_id:
        raise InvalidField("channel_id", "is required for payment mode CHANNEL (given or stored)")
    for field_name, user_id in parties:
        info = accounts.get(user_id)
        if info is None or not info.exists:
            _refuse(ErrorCode.TRADE_PARTY_NOT_FOUND, field_name, f"{user_id} has no account")
        if not info.normal:
            _refuse(ErrorCode.ACCOUNT_NOT_NORMAL, field_name, f"{user_id} is {info.status}")
    # Rule 6
    if fee > cash:
        _refuse(ErrorCode.FEE_EXCEEDS_CASH, "fee_amount",
                f"{fee} is larger than the cash amount {cash}")
    if fee:
        _check_income_account(fee_user_id, accounts, trade, "fee_user_id",
                              (ErrorCode.FEE_ACCOUNT_NOT_FOUND, ErrorCode.FEE_ACCOUNT_IS_PARTY,
                               ErrorCode.FEE_ACCOUNT_NOT_C))
    buyer_fee = request.buyer_fee_amount or 0
    if buyer_fee:
        _check_income_account(request.buyer_fee_user_id, accounts, trade, "buyer_fee_user_id",
                              (ErrorCode.BUYER_FEE_ACCOUNT_NOT_FOUND,
                               ErrorCode.BUYER_FEE_ACCOUNT_IS_PARTY,
                               ErrorCode.BUYER_FEE_ACCOUNT_NOT_C))
    # Rule 7
    solution = request.billing_solution or []
    users = [item.user_id for item in solution]
    if len(set(users)) != len(users):
        raise InvalidField("billing_solution", "lists a user_id more than once")
    for item in solution:
        info = accounts.get(item.user_id)
        if info is None or not info.exists:
            _refuse(ErrorCode.SHARING_ACCOUNT_NOT_FOUND, "billing_solution",
                    f"{item.user_id} has no account")
        if not info.normal:
            _refuse(ErrorCode.SHARING_ACCOUNT_NOT_NORMAL, "billing_solution",
                    f"{item.user_id} is {info.status}")
        if item.user_id in (trade["seller_id"], trade["buyer_id"]):
            _refuse(ErrorCode.SHARING_ACCOUNT_IS_PARTY, "billing_solution",
                    f"{item.user_id} is the trade's seller or buyer")
    # Rule 8
    wallet, earnings = _up_merchant_split(request, fee)
    # Rule 9
    shared = sum(item.amount for item in solution)
    if shared > cash - fee:
        _refuse(ErrorCode.SHARING_EXCEEDS_PROCEEDS, "billing_solution",
                f"shares {shared} fen, the seller receives {cash - fee} (cash {cash} - fee {fee})")
    # Rule 10
    mkt = None
    if request.mkt_solution is not None:
        if request.mkt_solution.no_settlement_amount > request.mkt_solution.total_amount:
            raise InvalidField("mkt_solution.no_settlement_amount", "must not exceed total_amount")
        mkt = {"total_amount": request.mkt_solution.total_amount,
               "no_settlement_amount": request.mkt_solution.no_settlement_amount}
    return Plan(trans_id=trade["trans_id"], buyer_id=trade["buyer_id"],
                seller_id=trade["seller_id"], cash_amount=cash,
                payment_mode=trade["payment_mode"], channel_id=channel_id,
                settlement_type=settlement_type, fee_type=fee_type,
                fee_settlement_type=fee_settlement_type, fee_amount=fee,
                fee_user_id=fee_user_id if fee else None, buyer_fee_amount=buyer_fee,
                buyer_fee_user_id=request.buyer_fee_user_id if buyer_fee else None,
                shares=tuple((item.user_id, item.amount) for item in solution if item.amount),
                wallet_fee=wallet if fee else 0,
                up_earnings=tuple((u, a) for u, a in earnings if a and fee),
                mkt_solution=mkt)
