"""The validation rules of `pay_trans`, as a pure function: trade + pay inputs +
the accounts involved -> the effective settlement (`Plan`), or the named refusal.

Rules are checked in this order; the first that fails answers (each has its code in the
one errors table, chalicelib/errors.py):

 0. inputs the pay_trans specification names but never defines closely enough to act on
    are refused, never ignored: a receivable to settle, recv_recvable_id / credit_recv (RECEIVABLE_NOT_SUPPORTED);
    special_code (SPECIAL_CODE_NOT_SUPPORTED); the MULTIPLE_IN payment plan, parallel_type
    (PAYMENT_PLAN_NOT_SUPPORTED).
 1. fee_type, fee_settlement_type and the pay mode (pay_mode, or the combined pay_mode_var,
    never both): all given or none (FEE_FIELDS_NOT_TOGETHER).
 2. a given pay_mode equals the trade's payment_mode; a combined pay_mode_var names each mode
    at most once and includes the trade's payment_mode (PAY_MODE_MISMATCH).
 3. given channel_id, settlement_type, fee_amount, fee_user_id override the trade's; the fee
    type defaults to 1, the fee settlement type to the (effective) settlement type, the fee
    payer (fee_amount_payer_flag) to SELLER.
 4. a realtime fee settlement cannot be collected later, fee_type 2 (REALTIME_FEE_COLLECTED_LATER);
    and trade settlement comes before fee settlement: an async trade with a realtime fee would
    reverse them (FEE_BEFORE_TRADE). A fee the buyer bears is paid with the trade, so it is
    never collected later (FEE_PAYER_COLLECTED_LATER).
 5. the seller's sub-account is 1 for realtime settlement, 3 for async (postings.py).
    The parties: when the buyer pays (part) from its BALANCE the buyer, and always the seller,
    have accounts (TRADE_PARTY_NOT_FOUND) that are NORMAL (ACCOUNT_NOT_NORMAL); a CHANNEL
    payment (or part) needs a channel_id.
 6. fee <= cash amount (FEE_EXCEEDS_CASH); a non-zero fee needs a fee account that exists
    (FEE_ACCOUNT_NOT_FOUND), is neither seller nor buyer (FEE_ACCOUNT_IS_PARTY), is a C account
    (FEE_ACCOUNT_NOT_C) and is NORMAL (ACCOUNT_NOT_NORMAL). The same for a non-zero buyer fee
    (BUYER_FEE_ACCOUNT_*). The parts of a combined payment add up to what the buyer pays: cash
    + buyer fee, + the fee when the buyer bears it (PAY_MODE_SPLIT_MISMATCH).
 7. every sharing-solution account exists (SHARING_ACCOUNT_NOT_FOUND), is NORMAL
    (SHARING_ACCOUNT_NOT_NORMAL), is neither seller nor buyer (SHARING_ACCOUNT_IS_PARTY).
 8. up-merchants: each is in the solution (UP_MERCHANT_NOT_IN_SOLUTION); up-merchants and
    solution users are the same set of at most 2, one per level (UP_MERCHANT_SET_MISMATCH);
    two levels: top.fee_plus_amount = middle.fee_amount, the wallet (fee account) takes
    top.fee_amount; one level: its fee_plus_amount = 0, the wallet takes its fee_amount; nobody
    earns a negative amount (UP_MERCHANT_FEE_CHAIN). Without up-merchants, solution items carry
    no fee_amount / fee_plus_amount (UP_MERCHANT_SET_MISMATCH).
 9. the seller never shares more than it receives: cash - fee, or the whole cash when the buyer
    bears the fee (SHARING_EXCEEDS_PROCEEDS). need_share_profit, when given, says whether the
    solution shares anything: true needs a non-zero sharing amount, false allows none
    (NEED_SHARE_PROFIT_MISMATCH).
10. a marketing solution is recorded (total, unsettled, its mkt_solution_id), never posted; an
    id without the solution cannot be loaded from anywhere (MKT_SOLUTION_ID_WITHOUT_SOLUTION).
    is_refund_fee_amount_flag (does a refund return the fee?) and client_source_flag are
    recorded on the settlement.

The fee split: the fee F leaves the seller (or, deducted at source and settled later, the
transit account; or, borne by the buyer, it is part of the buyer's payment); the wallet gets W, the middle up-merchant F - middle.fee_amount, the top one
top.fee_plus_amount - top.fee_amount; W + earnings = F.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ...errors import ErrorCode, InvalidField, PaySettleError
from ..registry import AccountInfo
from .messages import PayTradeRequest


SELLER, BUYER = "SELLER", "BUYER"          # fee_amount_payer_flag
MULTIPLE_IN = "MULTIPLE_IN"


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
    fee_payer: str = SELLER                                 # who bears the fee: SELLER or BUYER
    pay_parts: Tuple[Tuple[str, int], ...] = ()             # (BALANCE | CHANNEL, fen) the buyer pays
    need_share_profit: Optional[bool] = None
    refund_fee_amount: bool = False                         # a refund returns the fee too
    client_source_flag: Optional[str] = None
    mkt_solution_id: Optional[str] = None
    parallel_type: str = "SINGLE_IN"

    @property
    def buyer_total(self) -> int:
        """What the buyer pays: cash + buyer fee, + the fee when the buyer bears it."""
        return (self.cash_amount + self.buyer_fee_amount
                + (self.fee_amount if self.fee_payer == BUYER else 0))

    def payment_parts(self) -> Tuple[Tuple[str, int], ...]:
        return self.pay_parts or ((self.payment_mode, self.buyer_total),)

    def settlement(self) -> dict:
        """The effective values, as recorded on the settlement and answered."""
        return {"payment_mode": self.payment_mode, "channel_id": self.channel_id,
                "settlement_type": self.settlement_type, "fee_type": self.fee_type,
                "fee_settlement_type": self.fee_settlement_type, "fee_amount": self.fee_amount,
                "fee_user_id": self.fee_user_id, "buyer_fee_amount": self.buyer_fee_amount,
                "buyer_fee_user_id": self.buyer_fee_user_id, "wallet_fee": self.wallet_fee,
                "mkt_solution": self.mkt_solution, "mkt_solution_id": self.mkt_solution_id,
                "fee_amount_payer_flag": self.fee_payer,
                "pay_mode_var": [{"pay_mode": mode, "amount": amount}
                                 for mode, amount in self.payment_parts()],
                "need_share_profit": self.need_share_profit,
                "is_refund_fee_amount_flag": self.refund_fee_amount,
                "client_source_flag": self.client_source_flag,
                "parallel_type": self.parallel_type}


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


def _refuse_unsupported(request: PayTradeRequest) -> None:
    """Rule 0: what the pay_trans specification only names is refused, so that no caller believes it acted."""
    if request.recv_recvable_id is not None:
        _refuse(ErrorCode.RECEIVABLE_NOT_SUPPORTED, "recv_recvable_id",
                "settling a receivable is not supported; send the trade without it")
    if request.credit_recv is not None:
        _refuse(ErrorCode.RECEIVABLE_NOT_SUPPORTED, "credit_recv",
                "settling a credit receivable is not supported; send the trade without it")
    if request.special_code is not None:
        _refuse(ErrorCode.SPECIAL_CODE_NOT_SUPPORTED, "special_code",
                "no special handling is defined for any code; send the trade without it")
    if request.parallel_type == MULTIPLE_IN:
        _refuse(ErrorCode.PAYMENT_PLAN_NOT_SUPPORTED, "parallel_type",
                "a payment plan of several incoming payments (MULTIPLE_IN) is not supported")


def _pay_modes(trade: dict, request: PayTradeRequest) -> List[str]:
    """Rule 2: the modes the buyer pays with."""
    if request.pay_mode_var is None:
        if request.pay_mode is not None and request.pay_mode != trade["payment_mode"]:
            _refuse(ErrorCode.PAY_MODE_MISMATCH, "pay_mode",
                    f"is {request.pay_mode}, the trade's payment_mode is {trade['payment_mode']}")
        return [trade["payment_mode"]]
    modes = [part.pay_mode for part in request.pay_mode_var]
    if len(set(modes)) != len(modes):
        raise InvalidField("pay_mode_var", "names a pay_mode more than once")
    if trade["payment_mode"] not in modes:
        _refuse(ErrorCode.PAY_MODE_MISMATCH, "pay_mode_var",
                f"does not include the trade's payment_mode {trade['payment_mode']}")
    return modes


def plan(trade: dict, request: PayTradeRequest, accounts: Dict[str, AccountInfo]) -> Plan:
    """The effective settlement of `trade` under `request`, or the refusal of the first rule."""
    # Rule 0
    _refuse_unsupported(request)
    # Rule 1 (a combined pay_mode_var is the pay mode too)
    if request.pay_mode is not None and request.pay_mode_var is not None:
        raise InvalidField("pay_mode_var", "is given together with pay_mode; give one of them")
    given = [request.fee_type is not None, request.fee_settlement_type is not None,
             request.pay_mode is not None or request.pay_mode_var is not None]
    if any(given) and not all(given):
        _refuse(ErrorCode.FEE_FIELDS_NOT_TOGETHER, "fee_type",
                "fee_type, fee_settlement_type and pay_mode (or pay_mode_var) must be given "
                "together or not at all")
    # Rule 2
    modes = _pay_modes(trade, request)
    # Rule 3
    settlement_type = request.settlement_type or trade["settlement_type"]
    channel_id = request.channel_id or trade.get("channel_id")
    fee = request.fee_amount if request.fee_amount is not None else int(trade.get("fee_amount") or 0)
    fee_user_id = request.fee_user_id or trade.get("fee_user_id")
    fee_type = request.fee_type or 1
    fee_settlement_type = request.fee_settlement_type or settlement_type
    fee_payer = request.fee_amount_payer_flag or SELLER
    # Rule 4, and trade settlement before fee settlement
    if fee_settlement_type == "REALTIME" and fee_type == 2:
        _refuse(ErrorCode.REALTIME_FEE_COLLECTED_LATER, "fee_type",
                "a fee collected later (2) cannot be settled in realtime")
    if settlement_type == "ASYNC" and fee_settlement_type == "REALTIME":
        _refuse(ErrorCode.FEE_BEFORE_TRADE, "fee_settlement_type",
                "an async trade's fee must settle async, after the trade")
    if fee_payer == BUYER and fee_type == 2:
        _refuse(ErrorCode.FEE_PAYER_COLLECTED_LATER, "fee_amount_payer_flag",
                "a fee the buyer bears is paid with the trade, so it is deducted at source "
                "(fee_type 1), never collected later (2)")
    # Rule 5: the parties
    cash = int(trade["cash_amount"])
    parties = [("seller_id", trade["seller_id"])]
    if "BALANCE" in modes:
        parties.insert(0, ("buyer_id", trade["buyer_id"]))
    if "CHANNEL" in modes and not channel_id:
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
    buyer_total = cash + buyer_fee + (fee if fee_payer == BUYER else 0)
    pay_parts: Tuple[Tuple[str, int], ...] = ((trade["payment_mode"], buyer_total),)
    if request.pay_mode_var is not None:
        pay_parts = tuple((part.pay_mode, part.amount) for part in request.pay_mode_var)
        split = sum(amount for _, amount in pay_parts)
        if split != buyer_total:
            _refuse(ErrorCode.PAY_MODE_SPLIT_MISMATCH, "pay_mode_var",
                    f"the parts add up to {split} fen, the buyer pays {buyer_total} (cash {cash} "
                    f"+ buyer fee {buyer_fee}" + (f" + fee {fee}" if fee_payer == BUYER else "")
                    + ")")
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
    proceeds = cash - (fee if fee_payer == SELLER else 0)
    if shared > proceeds:
        _refuse(ErrorCode.SHARING_EXCEEDS_PROCEEDS, "billing_solution",
                f"shares {shared} fen, the seller receives {proceeds} (cash {cash}"
                + (f" - fee {fee})" if fee_payer == SELLER else "; the buyer bears the fee)"))
    if request.need_share_profit is True and not shared:
        _refuse(ErrorCode.NEED_SHARE_PROFIT_MISMATCH, "need_share_profit",
                "is true, but billing_solution shares nothing (no item with an amount above 0)")
    if request.need_share_profit is False and shared:
        _refuse(ErrorCode.NEED_SHARE_PROFIT_MISMATCH, "need_share_profit",
                f"is false, but billing_solution shares {shared} fen")
    # Rule 10
    mkt = None
    if request.mkt_solution is not None:
        if request.mkt_solution.no_settlement_amount > request.mkt_solution.total_amount:
            raise InvalidField("mkt_solution.no_settlement_amount", "must not exceed total_amount")
        mkt = {"total_amount": request.mkt_solution.total_amount,
               "no_settlement_amount": request.mkt_solution.no_settlement_amount}
    elif request.mkt_solution_id is not None:
        _refuse(ErrorCode.MKT_SOLUTION_ID_WITHOUT_SOLUTION, "mkt_solution_id",
                "names a marketing solution but mkt_solution is not given; marketing solutions "
                "are sent with the trade, not loaded by id")
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
                mkt_solution=mkt, fee_payer=fee_payer, pay_parts=pay_parts,
                need_share_profit=request.need_share_profit,
                refund_fee_amount=bool(request.is_refund_fee_amount_flag),
                client_source_flag=request.client_source_flag,
                mkt_solution_id=request.mkt_solution_id if mkt else None,
                parallel_type=request.parallel_type or "SINGLE_IN")
