"""API documentation of the merchant routes: the merchant order view and one `Operation` per route."""
from typing import Annotated, Literal, Optional

from pydantic import BaseModel, Field

from chalicelib import fields
from chalicelib.errors import ErrorCode
from chalicelib.openapi import Operation, Param, Reply
from chalicelib.schemas import IdempotencyKey, RequestId, RequestTime, SalerId
from .messages import IDEMPOTENCY_KEY_HEADER, MerchantPayRequest, MerchantWithdrawRequest


AmountString = Annotated[str, Field(description="The amount in fen, as a string of digits (as in the pay/withdraw contract)",
                                    pattern=fields.AMOUNT_STRING_PATTERN, examples=["100"])]


class MerchantOrderView(BaseModel):
    """The merchant's own record of an order it sent."""
    request_id: RequestId
    request_time: RequestTime
    kind: Literal["PAY", "WITHDRAW"]
    saler_id: SalerId
    total_fee: Optional[AmountString] = Field(None, description="PAY orders")
    withdraw_money: Optional[AmountString] = Field(None, description="WITHDRAW orders")
    state: Literal["INIT", "UNKNOWN", "SUCCESS", "FAIL"] = Field(
        description="UNKNOWN: the payment API's answer was lost; resolved by re-sending the same message")
    response_id: Optional[str] = Field(description="null until the payment API answered")
    response_time: Optional[str] = Field(description="null until the payment API answered")
    response_code: Optional[Literal["SUCCESS", "FAIL"]] = Field(description="null until answered")
    response_msg: Optional[str] = Field(description="null until answered")
    attempts: int = Field(ge=0, description="messages sent to the payment API for this order")
    idempotency_key: Optional[str] = Field(description="the Idempotency-Key it was placed with, or null")


MERCHANT_PAY_ANSWER = {
    "request_id": "20190829171520123456", "request_time": "2019-08-29 17:15:20", "kind": "PAY",
    "saler_id": "saler2", "total_fee": "100", "state": "SUCCESS",
    "response_id": "20190829171525654321", "response_time": "2019-08-29 17:15:25",
    "response_code": "SUCCESS", "response_msg": "OK", "attempts": 1,
    "idempotency_key": "3f0c5b8e-8d44-4c1e-9a55-1d6c0f2a7b10"}
MERCHANT_WITHDRAW_ANSWER = {
    "request_id": "20190829171621334455", "request_time": "2019-08-29 17:16:21", "kind": "WITHDRAW",
    "saler_id": "saler1", "withdraw_money": "100", "state": "FAIL",
    "response_id": "20190829171630554433", "response_time": "2019-08-29 17:16:30",
    "response_code": "FAIL", "response_msg": ErrorCode.INSUFFICIENT_BALANCE.message, "attempts": 1,
    "idempotency_key": None}
PLACE_REFUSALS = (ErrorCode.INVALID_FIELD, ErrorCode.MALFORMED_BODY, ErrorCode.BODY_TOO_LARGE,
                  ErrorCode.REENTRY_MISMATCH, ErrorCode.REENTRY_IN_PROGRESS, ErrorCode.BUSY)
KEY = [Param(IDEMPOTENCY_KEY_HEADER, IdempotencyKey, location="header", required=False,
             description=("Makes retries safe: the first request with a key places the order; "
                          "a request with the same key and body gets that order (an UNKNOWN one "
                          "resolved first), 409 3002 while it is still being sent, and 409 1030 "
                          "(请求重入参数校验失败) with another kind, saler_id or amount. Without it, every request places a new order."))]
TO_ORDER = {"GetMerchantOrder": ("getMerchantOrder", {"request_id": "$response.body#/request_id"})}

OPERATIONS = [
    Operation(
        "POST", "/merchant/pay", "merchantPay", "The merchant sends a pay to the payment API",
        "merchant",
        description=("Builds the contract's pay request (request_time now, a new request_id), stores "
                     "it (INIT), sends it and stores the answer. A lost answer leaves the order "
                     "UNKNOWN; it is resolved by re-sending the identical message."),
        request=MerchantPayRequest, params=KEY,
        request_examples={"contract": ("The contract's saler and amount",
                                   {"saler_id": "saler2", "total_fee": "100"})},
        ok=Reply("The merchant order.", MerchantOrderView,
                 examples={"answered": MERCHANT_PAY_ANSWER}, links=TO_ORDER),
        errors=PLACE_REFUSALS),
    Operation(
        "POST", "/merchant/withdraw", "merchantWithdraw",
        "The merchant sends a withdraw to the payment API", "merchant",
        request=MerchantWithdrawRequest, params=KEY,
        request_examples={"contract": ("The contract's saler and amount",
                                   {"saler_id": "saler1", "withdraw_money": "100"})},
        ok=Reply("The merchant order (FAIL when the balance does not cover it).", MerchantOrderView,
                 examples={"balance too low": MERCHANT_WITHDRAW_ANSWER}, links=TO_ORDER),
        errors=PLACE_REFUSALS),
    Operation(
        "GET", "/merchant/orders/{request_id}", "getMerchantOrder", "A merchant order", "merchant",
        description="An UNKNOWN order is resolved first, by re-sending its identical message.",
        params=[Param("request_id", RequestId)],
        ok=Reply("The merchant order.", MerchantOrderView, examples={"answered": MERCHANT_PAY_ANSWER}),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.MERCHANT_ORDER_NOT_FOUND, ErrorCode.BUSY)),
]

# The merchant system's own OpenAPI document (GET /openapi.json of its app).
DOCUMENT_MODULES = ("merchantlib.api_docs", "chalicelib.docs_site")
DOCUMENT_INFO = {
    "title": "PaySettle merchant system API",
    "description": ("The simulated merchant's own backend: it builds pay and withdraw messages, "
                    "keeps its orders, sends them to the payment center signed with its own key, "
                    "and resolves those whose answer was lost. In a deployed stage every route "
                    "requires AWS Signature Version 4 (an IAM authorizer); the local stage "
                    "serves it unsigned on loopback."),
}
DOCUMENT_TAGS = (
    ("merchant", "The simulated merchant system: sends pays and withdraws to the payment API "
                 "and keeps its own orders"),
    ("documentation", "This document and its Swagger UI page"),
)
