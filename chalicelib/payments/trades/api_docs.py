"""API documentation of `POST /accounts` and the trade routes: answer models, one `Operation` each.

Request models are those the routes validate with (messages.py); the answer models describe
`service.view` and `accounts.declare` inside the `{"code", "message", "data"}` envelope.
"""
from typing import Dict, List, Literal, Optional

from pydantic import BaseModel, Field

from ...auth.credentials import BUSINESS_LINE
from ...errors import ErrorCode
from ...openapi import Operation, Param, Reply
from .messages import AccountRequest, PayTradeRequest, TradeRequest, TransId

BODY_REFUSALS = (ErrorCode.INVALID_FIELD, ErrorCode.MALFORMED_BODY, ErrorCode.BODY_TOO_LARGE)
RULE_REFUSALS = tuple(code for code in ErrorCode if 2100 < code.number < 2200)


class AccountData(BaseModel):
    account_id: str
    kind: Literal["B", "C"]
    status: Literal["NORMAL", "FROZEN", "CLOSED"]
    currency: Literal["CNY"]


class AccountAnswer(BaseModel):
    """`POST /accounts` (`accounts.declare`)."""
    code: Literal[0]
    message: Literal["success"]
    data: AccountData


class TradeFields(BaseModel):
    trans_id: TransId
    buyer_id: str
    seller_id: str
    cash_amount: int = Field(ge=1, description="fen")
    settlement_type: Literal["REALTIME", "ASYNC"]
    payment_mode: Literal["BALANCE", "CHANNEL"]
    channel_id: Optional[str]
    fee_amount: Optional[int] = Field(ge=0, description="fen (the stored fee, if any)")
    fee_user_id: Optional[str]


class PayModePartView(BaseModel):
    pay_mode: Literal["BALANCE", "CHANNEL"]
    amount: int = Field(ge=1, description="fen")


class SettlementFields(BaseModel):
    """The effective values after rule 3's overrides and the defaults."""
    payment_mode: Literal["BALANCE", "CHANNEL"]
    channel_id: Optional[str]
    settlement_type: Literal["REALTIME", "ASYNC"]
    fee_type: Literal[1, 2]
    fee_settlement_type: Literal["REALTIME", "ASYNC"]
    fee_amount: int = Field(ge=0)
    fee_user_id: Optional[str]
    buyer_fee_amount: int = Field(ge=0)
    buyer_fee_user_id: Optional[str]
    wallet_fee: int = Field(ge=0, description="the part of the fee the fee account (wallet) takes")
    mkt_solution: Optional[Dict[str, int]] = Field(
        description="recorded only (rule 10): total_amount, no_settlement_amount")
    mkt_solution_id: Optional[str] = Field(description="the marketing solution's id, recorded only")
    fee_amount_payer_flag: Literal["SELLER", "BUYER"] = Field(
        description="who bears the fee: SELLER out of the cash, BUYER on top of it")
    pay_mode_var: List[PayModePartView] = Field(
        description="what the buyer paid, by mode (one part unless a combined payment)")
    need_share_profit: Optional[bool] = Field(description="as given (null: not given)")
    is_refund_fee_amount_flag: bool = Field(
        description="whether a refund of this trade returns the fee too (recorded for refunds)")
    client_source_flag: Optional[str] = Field(description="recorded only")
    parallel_type: Literal["SINGLE_IN"] = Field(description="MULTIPLE_IN is refused")


class PostingView(BaseModel):
    account_id: str = Field(description="a user's account, `@transit`, or `@channel:<channel_id>`")
    sub_account: Literal[1, 3]
    amount: int = Field(description="signed fen: negative leaves the account")
    leg: Literal["PAY", "TRADE", "BUYER_FEE", "SHARE", "FEE_WITHHELD", "FEE"]
    phase: Literal["REALTIME", "ASYNC_TRADE", "ASYNC_FEE"]


class TradeData(BaseModel):
    trans_id: TransId
    state: Literal["RECORDED", "SETTLING", "SETTLED"] = Field(
        description="SETTLING: async phases wait for the applier (`pending_phases`)")
    trade: TradeFields
    settlement: Optional[SettlementFields] = None
    postings: Optional[List[PostingView]] = Field(None, description="every posting; they sum to 0")
    pending_phases: Optional[List[Literal["ASYNC_TRADE", "ASYNC_FEE"]]] = None
    settled_at: Optional[str] = Field(None, description="ISO 8601 UTC")


class TradeAnswer(BaseModel):
    """A trade (`trades.service.view`)."""
    code: Literal[0]
    message: Literal["success"]
    data: TradeData


EXAMPLE_TRADE = {"trans_id": "20240301101500000001", "buyer_id": "buyer1", "seller_id": "seller1",
                 "cash_amount": 10000, "settlement_type": "REALTIME", "payment_mode": "BALANCE",
                 "fee_amount": 300, "fee_user_id": "wallet"}
EXAMPLE_PAY = {"fee_type": 1, "fee_settlement_type": "REALTIME", "pay_mode": "BALANCE",
               "buyer_fee_amount": 50, "buyer_fee_user_id": "buyerfees",
               "up_merchants": [{"user_id": "agent1", "level": 1}],
               "billing_solution": [{"user_id": "agent1", "amount": 0, "fee_amount": 200,
                                     "fee_plus_amount": 0}]}
EXAMPLE_COMBINED = {"fee_type": 1, "fee_settlement_type": "REALTIME", "channel_id": "wx",
                    "pay_mode_var": [{"pay_mode": "BALANCE", "amount": 6000},
                                     {"pay_mode": "CHANNEL", "amount": 4300}],
                    "fee_amount_payer_flag": "BUYER", "need_share_profit": False,
                    "is_refund_fee_amount_flag": True, "client_source_flag": "app"}
IDEMPOTENT = ("`trans_id` is the idempotency key: the same request again returns the original "
              "result and posts nothing; other parameters are refused with 409 / 1030.")

OPERATIONS = [
    Operation(
        "POST", "/accounts", "declareAccount", "Declare an account (kind, status, currency)",
        "trades",
        description=("Idempotent on `account_id`: the same fields again return the account, "
                     "other fields are refused with 409 / 1030. A saler account the payment core "
                     "created by a credit is a B/NORMAL/CNY account; declaring it so adopts it."),
        request=AccountRequest,
        request_examples={"wallet": ("The platform's fee income account",
                                     {"account_id": "wallet", "kind": "C"})},
        ok=Reply("The account.", AccountAnswer,
                 examples={"wallet": {"code": 0, "message": "success", "data": {
                     "account_id": "wallet", "kind": "C", "status": "NORMAL", "currency": "CNY"}}},
                 links={"GetAccount": ("getAccount",
                                       {"saler_id": "$response.body#/data/account_id"})}),
        errors=BODY_REFUSALS + (ErrorCode.REENTRY_MISMATCH, ErrorCode.BUSY), envelope=True,
        signed=True, role=BUSINESS_LINE, scoped=("account_id",)),
    Operation(
        "POST", "/trades", "recordTrade", "Record a trade", "trades",
        description=IDEMPOTENT, request=TradeRequest,
        request_examples={"realtime": ("A realtime trade paid from the buyer's balance",
                                       EXAMPLE_TRADE)},
        ok=Reply("The trade, RECORDED.", TradeAnswer,
                 links={"PayTrade": ("payTrade", {"trans_id": "$response.body#/data/trans_id"})}),
        errors=BODY_REFUSALS + (ErrorCode.REENTRY_MISMATCH, ErrorCode.BUSY), envelope=True,
        signed=True, role=BUSINESS_LINE, scoped=("buyer_id", "seller_id")),
    Operation(
        "GET", "/trades/{trans_id}", "getTrade", "A trade and its settlement", "trades",
        params=[Param("trans_id", TransId)],
        ok=Reply("The trade.", TradeAnswer),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.TRADE_NOT_FOUND, ErrorCode.BUSY),
        envelope=True,
        signed=True, tenant_read=True),
    Operation(
        "POST", "/trades/{trans_id}/pay", "payTrade", "Settle a trade", "trades",
        description=("Validates the trade settlement rules (docs: Trade settlement), then writes the "
                     "REALTIME postings in one transaction with the settlement record; async "
                     "phases are applied by the trade applier, trade before fee. Inputs that "
                     "cannot be acted on (recv_recvable_id, credit_recv, special_code, "
                     "parallel_type MULTIPLE_IN) are refused with their own code, never ignored "
                     "(docs/trade-settlement-inputs.md). " + IDEMPOTENT),
        params=[Param("trans_id", TransId)],
        request=PayTradeRequest,
        request_examples={"one up-merchant": ("Fee deducted at source, a buyer fee, one up-merchant",
                                              EXAMPLE_PAY),
                          "combined payment": ("Part from the buyer's balance, part through the "
                                               "channel; the buyer bears the fee", EXAMPLE_COMBINED),
                          "stored values": ("Everything from the trade", {})},
        ok=Reply("The settled trade, its postings.", TradeAnswer),
        errors=BODY_REFUSALS + RULE_REFUSALS + (ErrorCode.TRADE_NOT_FOUND,
                                                 ErrorCode.REENTRY_MISMATCH, ErrorCode.BUSY),
        envelope=True,
        signed=True, role=BUSINESS_LINE, scoped=("buyer_id", "seller_id"), tenant_read=True),
]
