"""API documentation of the payment routes: response models and one `Operation` per route.

The request models are those of messages.py, the ones the routes validate with. The response
models describe what the code returns (`Order.response()`, `accounts.account_view`,
`accounts.journal`); tests/unit/test_openapi_responses.py checks real answers against them.
"""
from typing import Annotated, List, Literal, Optional

from pydantic import BaseModel, Field

from .. import fields
from ..auth.credentials import MERCHANT
from ..errors import ErrorCode
from ..openapi import Operation, Param, Reply
from .accounts import MAX_PAGE
from .messages import PayRequest, RequestId, RequestTime, SalerId, WithdrawRequest

AmountString = Annotated[str, Field(description="The amount in fen, as a string of digits (as in the pay/withdraw contract)",
                                    pattern=fields.AMOUNT_STRING_PATTERN, examples=["100"])]
PageSize = Annotated[int, Field(ge=1, le=MAX_PAGE)]
ResponseTime = Annotated[str, Field(description="When the payment system answered, UTC+8, yyyy-MM-dd HH:mm:ss",
                                    examples=["2019-08-29 17:15:25"],
                                    json_schema_extra={"pattern": fields.REQUEST_TIME_PATTERN})]
ResponseCode = Literal["SUCCESS", "FAIL"]


class PayResponse(BaseModel):
    """The pay response message of the pay/withdraw contract (`Order.response()`)."""
    response_time: ResponseTime
    request_id: RequestId
    response_id: str = Field(description="20 digits, unique across all responses",
                             examples=["20190829171525654321"])
    saler_id: SalerId
    total_fee: AmountString
    response_code: ResponseCode
    response_msg: str = Field(description='"OK", or why the order failed')


class WithdrawResponse(BaseModel):
    """The withdraw response message of the pay/withdraw contract; echoes `request_time`."""
    response_time: ResponseTime
    request_time: RequestTime
    request_id: RequestId
    response_id: str = Field(description="20 digits, unique across all responses",
                             examples=["20190829171630554433"])
    saler_id: SalerId
    withdraw_money: AmountString
    response_code: ResponseCode
    response_msg: str = Field(description='"OK", or "账户余额不足，提款失败" (the balance does not cover it)')


class SubAccountBalance(BaseModel):
    sub_account: Literal[1, 3] = Field(description="1 realtime (the one pay and withdraw move), 3 async")
    balance: int = Field(ge=0, description="fen")


class AccountView(BaseModel):
    """`GET /accounts/{saler_id}` (`accounts.account_view`). A declared account (POST /accounts),
    or one with a sub-account 3, also shows its attributes and both sub-accounts."""
    saler_id: SalerId
    balance: int = Field(ge=0, description="fen, sub-account 1")
    pending_credit_count: int = Field(ge=0, description="successful pays not yet credited")
    pending_credit_amount: int = Field(ge=0, description="their sum, fen")
    account_id: Optional[SalerId] = None
    kind: Optional[Literal["B", "C"]] = None
    status: Optional[Literal["NORMAL", "FROZEN", "CLOSED"]] = None
    currency: Optional[Literal["CNY"]] = None
    sub_accounts: Optional[List[SubAccountBalance]] = None


class JournalEntry(BaseModel):
    entry: str = Field(description="<KIND>#<request_id> (TRADE#<trans_id>#<leg> for a trade leg): "
                                   "the movement's exactly-once key",
                       examples=["PAY#20190829171520123456"])
    amount: int = Field(description="fen: positive for a credited pay, negative for a withdraw; "
                                    "signed trade postings")
    request_id: RequestId
    posted_at: str = Field(description="ISO 8601 UTC with microseconds",
                           examples=["2019-08-29T09:15:27.123456Z"])


class JournalPage(BaseModel):
    """`GET /accounts/{saler_id}/journal` (`accounts.journal`), oldest entry first."""
    saler_id: SalerId
    sub_account: Optional[Literal[1, 3]] = Field(None, description="echoed when asked for")
    entries: List[JournalEntry]
    next_cursor: Optional[str] = Field(description="pass as `cursor` for the next page; null at the end")


EXAMPLE_PAY = {"request_time": "2019-08-29 17:15:20", "request_id": "20190829171520123456",
            "saler_id": "saler2", "total_fee": "100"}
EXAMPLE_PAY_ANSWER = {"response_time": "2019-08-29 17:15:25", "request_id": "20190829171520123456",
                   "response_id": "20190829171525654321", "saler_id": "saler2",
                   "total_fee": "100", "response_code": "SUCCESS", "response_msg": "OK"}
EXAMPLE_WITHDRAW = {"request_time": "2019-08-29 17:16:21", "request_id": "20190829171621334455",
                 "withdraw_money": "100", "saler_id": "saler1"}
EXAMPLE_WITHDRAW_ANSWER = {"response_time": "2019-08-29 17:16:30", "request_time": "2019-08-29 17:16:21",
                        "request_id": "20190829171621334455", "withdraw_money": "100",
                        "saler_id": "saler1", "response_id": "20190829171630554433",
                        "response_code": "FAIL", "response_msg": ErrorCode.INSUFFICIENT_BALANCE.message}

BODY_REFUSALS = (ErrorCode.INVALID_FIELD, ErrorCode.MALFORMED_BODY, ErrorCode.BODY_TOO_LARGE)
IDEMPOTENCY = ("`request_id` is the idempotency key and names one order of the tenant: the same "
               "request again returns the original answer and moves nothing; the same `request_id` "
               "with other parameters, or a pay's `request_id` on a withdraw (and the reverse), is "
               "refused with 409 / 1030, `response_msg` \"请求重入参数校验失败: request_id <id> was "
               "already used with other parameters: <the parameters that differ>\", and writes "
               "nothing. A 503 recorded nothing: retry with the same `request_id`.")
TO_ACCOUNT = ("getAccount", {"saler_id": "$response.body#/saler_id"})

OPERATIONS = [
    Operation(
        "POST", "/pay", "pay", "Pay into a saler's account", "payments",
        description=("Records the pay order and queues its credit; the balance rises at the "
                     "aggregator's next run. " + IDEMPOTENCY),
        request=PayRequest, request_examples={"contract": ("The contract's pay request", EXAMPLE_PAY)},
        ok=Reply("The pay order's answer (a replay returns the original answer).", PayResponse,
                 examples={"contract": ("The contract's pay answer", EXAMPLE_PAY_ANSWER)},
                 links={"GetPayOrder": ("getPayOrder", {"request_id": "$response.body#/request_id"}),
                        "GetAccount": TO_ACCOUNT}),
        errors=BODY_REFUSALS + (ErrorCode.REENTRY_MISMATCH, ErrorCode.BUSY),
        signed=True, role=MERCHANT, scoped=("saler_id",)),
    Operation(
        "POST", "/withdraw", "withdraw", "Withdraw from a saler's account", "payments",
        description=("Debits the balance if it covers the amount, in one transaction with the "
                     "order and its journal entry; otherwise answers 200 with `response_code` FAIL "
                     '"账户余额不足，提款失败" (recorded too). ' + IDEMPOTENCY),
        request=WithdrawRequest,
        request_examples={"contract": ("The contract's withdraw request", EXAMPLE_WITHDRAW)},
        ok=Reply("The withdraw order's answer, SUCCESS or FAIL (a replay returns the original).",
                 WithdrawResponse,
                 examples={"contract": ("The contract's withdraw answer (balance too low)", EXAMPLE_WITHDRAW_ANSWER)},
                 links={"GetWithdrawOrder": ("getWithdrawOrder",
                                             {"request_id": "$response.body#/request_id"}),
                        "GetAccount": TO_ACCOUNT}),
        errors=BODY_REFUSALS + (ErrorCode.REENTRY_MISMATCH, ErrorCode.BUSY),
        signed=True, role=MERCHANT, scoped=("saler_id",)),
    Operation(
        "GET", "/orders/pay/{request_id}", "getPayOrder", "A pay order's answer", "payments",
        params=[Param("request_id", RequestId)],
        ok=Reply("The order's response message.", PayResponse,
                 examples={"contract": EXAMPLE_PAY_ANSWER}),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.ORDER_NOT_FOUND, ErrorCode.BUSY),
        signed=True, tenant_read=True),
    Operation(
        "GET", "/orders/withdraw/{request_id}", "getWithdrawOrder", "A withdraw order's answer",
        "payments",
        params=[Param("request_id", RequestId)],
        ok=Reply("The order's response message.", WithdrawResponse,
                 examples={"contract": EXAMPLE_WITHDRAW_ANSWER}),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.ORDER_NOT_FOUND, ErrorCode.BUSY),
        signed=True, tenant_read=True),
    Operation(
        "GET", "/accounts/{saler_id}", "getAccount", "A saler's balance and pending credits",
        "payments",
        params=[Param("saler_id", SalerId)],
        ok=Reply("The account.", AccountView,
                 examples={"after the contract's pay": {"saler_id": "saler2", "balance": 100,
                                                    "pending_credit_count": 0,
                                                    "pending_credit_amount": 0}},
                 links={"GetJournal": ("getAccountJournal",
                                       {"saler_id": "$response.body#/saler_id"})}),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.ACCOUNT_NOT_FOUND, ErrorCode.BUSY),
        signed=True, scoped=("saler_id",), tenant_read=True),
    Operation(
        "GET", "/accounts/{saler_id}/journal", "getAccountJournal", "A saler's journal, paged",
        "payments",
        params=[Param("saler_id", SalerId),
                Param("limit", PageSize, "query", required=False,
                      description=f"entries per page, 1-{MAX_PAGE} (default 50)"),
                Param("cursor", str, "query", required=False,
                      description="`next_cursor` of the previous page, as it was given; any other "
                                  "value is refused (400, field `cursor`)"),
                Param("sub_account", Literal["1", "3"], "query", required=False,
                      description="the sub-account's journal: 1 (default) or 3")],
        ok=Reply("One page of the journal (empty for an unknown saler, and so for another "
                 "tenant's).", JournalPage,
                 examples={"one credit": {"saler_id": "saler2", "next_cursor": None, "entries": [
                     {"entry": "PAY#20190829171520123456", "amount": 100,
                      "request_id": "20190829171520123456",
                      "posted_at": "2019-08-29T09:15:27.123456Z"}]}}),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.BUSY),
        signed=True, scoped=("saler_id",), tenant_read=True),
]
