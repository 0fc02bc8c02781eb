"""Request schemas of `POST /accounts`, `POST /trades` and `POST /trades/{trans_id}/pay`.

Field types come from chalicelib/schemas.py (ids, amounts) so the rules and their
documentation are those of the rest of the API. Fee amounts may be 0 (the settlement rules
test `0 != fee_amount`); every other amount is at least 1 fen.
"""
import json
from typing import Annotated, List, Literal, Optional

from pydantic import BeforeValidator, Field, WithJsonSchema

from ... import fields
from ...config import MAX_AMOUNT_FEN
from ...schemas import AmountFen, RequestId, SalerId, StrictModel, checked, int_choice

__all__ = ["AccountRequest", "TradeRequest", "PayTradeRequest", "UpMerchant", "SolutionItem",
           "MktSolution", "PayModePart", "CreditRecv"]

MAX_SOLUTION_ITEMS = 20
MAX_UP_MERCHANTS = 4        # more than 2 is refused by rule 8, with its own code


def _fen_or_zero(value) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise ValueError("must not be negative")
    if value == 0 and isinstance(value, int) and not isinstance(value, bool) or value == "0":
        return 0
    return fields.amount_fen(value)


OneOrTwo = int_choice(1, 2)


FeeFen = Annotated[int, BeforeValidator(checked(_fen_or_zero)), WithJsonSchema({
    "description": ("An amount in fen (分) that may be 0: a JSON integer or a string of the digits "
                    f"0-9, from 0 to {MAX_AMOUNT_FEN}."),
    "anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_AMOUNT_FEN},
              {"type": "string", "pattern": f"^(?:0|{fields.decimal_at_most(MAX_AMOUNT_FEN)})$"}],
    "examples": [0, "100"]})]
AccountId = Annotated[SalerId, Field(description="An account: 1-64 characters of A-Z a-z 0-9 _ - .")]
TransId = Annotated[RequestId, Field(description=(
    "The trade's id and idempotency key: 20 digits, the first 14 a real yyyyMMddHHmmss."))]
ChannelId = Annotated[SalerId, Field(description="A payment channel: 1-64 characters of A-Z a-z 0-9 _ - .")]
SettlementType = Literal["REALTIME", "ASYNC"]
PaymentMode = Literal["BALANCE", "CHANNEL"]
FeePayer = Literal["SELLER", "BUYER"]
ParallelType = Literal["SINGLE_IN", "MULTIPLE_IN"]
Reference = Annotated[SalerId, Field(description=(
    "An id of the caller's (a receivable, a marketing solution, a code): 1-64 characters of "
    "A-Z a-z 0-9 _ - ."))]


class AccountRequest(StrictModel):
    """`POST /accounts`: declare an account (idempotent on account_id)."""
    account_id: AccountId
    kind: Literal["B", "C"] = Field(description="B: a merchant; C: the platform's own (income) account")
    status: Literal["NORMAL", "FROZEN", "CLOSED"] = "NORMAL"
    currency: Literal["CNY"] = "CNY"


class TradeRequest(StrictModel):
    """`POST /trades`: record a trade (idempotent on trans_id)."""
    trans_id: TransId
    buyer_id: AccountId
    seller_id: AccountId
    cash_amount: AmountFen
    settlement_type: SettlementType
    payment_mode: PaymentMode = Field(description=(
        "BALANCE: the buyer pays from sub-account 1 of its account; CHANNEL: the money came "
        "through a payment channel and is booked against that channel's clearing account"))
    channel_id: Optional[ChannelId] = None
    fee_amount: Optional[FeeFen] = None
    fee_user_id: Optional[AccountId] = None

    def canonical(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


class UpMerchant(StrictModel):
    user_id: AccountId
    level: OneOrTwo = Field(description="1: the middle up-merchant (up1), 2: the top one (up2)")


class SolutionItem(StrictModel):
    user_id: AccountId
    amount: FeeFen = Field(description="moved from the seller's proceeds to this user (sharing)")
    fee_amount: FeeFen = 0
    fee_plus_amount: FeeFen = 0


class MktSolution(StrictModel):
    total_amount: FeeFen
    no_settlement_amount: FeeFen


class PayModePart(StrictModel):
    """One part of a combined payment (`pay_mode_var`): how much of the buyer's payment comes
    from its balance or through the channel."""
    pay_mode: PaymentMode
    amount: AmountFen


class CreditRecv(StrictModel):
    """A credit receivable the trade would settle (refused: see `RECEIVABLE_NOT_SUPPORTED`)."""
    credit_recv_id: Reference


class PayTradeRequest(StrictModel):
    """`POST /trades/{trans_id}/pay`: every field optional, as the rules say."""
    fee_type: Optional[OneOrTwo] = Field(None, description="1 deducted at source (default), 2 collected later")
    fee_settlement_type: Optional[SettlementType] = Field(None, description="default: the settlement type")
    pay_mode: Optional[PaymentMode] = Field(None, description="must equal the trade's payment_mode")
    fee_amount: Optional[FeeFen] = Field(None, description="overrides the trade's")
    fee_user_id: Optional[AccountId] = Field(None, description="the fee (income) account; overrides the trade's")
    buyer_fee_amount: Optional[FeeFen] = None
    buyer_fee_user_id: Optional[AccountId] = None
    channel_id: Optional[ChannelId] = Field(None, description="overrides the trade's")
    settlement_type: Optional[SettlementType] = Field(None, description="overrides the trade's")
    up_merchants: Optional[List[UpMerchant]] = Field(None, max_length=MAX_UP_MERCHANTS)
    billing_solution: Optional[List[SolutionItem]] = Field(None, max_length=MAX_SOLUTION_ITEMS)
    mkt_solution: Optional[MktSolution] = None
    mkt_solution_id: Optional[Reference] = Field(
        None, description="the marketing solution's id, recorded with mkt_solution (which it needs)")
    pay_mode_var: Optional[List[PayModePart]] = Field(
        None, min_length=1, max_length=2, description=(
            "combined payment: the buyer's payment split between BALANCE and CHANNEL, each mode "
            "at most once, adding up to what the buyer pays; given instead of pay_mode"))
    need_share_profit: Optional[bool] = Field(
        None, description="true: billing_solution must share something; false: it must not")
    is_refund_fee_amount_flag: Optional[bool] = Field(
        None, description="whether a refund of this trade refunds the fee too (recorded; default false)")
    fee_amount_payer_flag: Optional[FeePayer] = Field(
        None, description="who bears the fee: SELLER (default, out of the cash) or BUYER (on top of it)")
    client_source_flag: Optional[Reference] = Field(
        None, description="where the request came from (app, web, ...); recorded only")
    recv_recvable_id: Optional[Reference] = Field(
        None, description="refused (RECEIVABLE_NOT_SUPPORTED): settling a receivable is not supported")
    credit_recv: Optional[CreditRecv] = Field(
        None, description="refused (RECEIVABLE_NOT_SUPPORTED): settling a credit receivable is not supported")
    special_code: Optional[Reference] = Field(
        None, description="refused (SPECIAL_CODE_NOT_SUPPORTED): no special handling is defined")
    parallel_type: Optional[ParallelType] = Field(
        None, description=("SINGLE_IN (default): one incoming payment; MULTIPLE_IN (a payment plan of "
                           "several) is refused (PAYMENT_PLAN_NOT_SUPPORTED)"))

    def canonical(self) -> str:
        """The inputs as compared on a re-sent pay: parsed values, absent fields left out."""
        return json.dumps(self.model_dump(mode="json", exclude_none=True), sort_keys=True,
                          separators=(",", ":"))
