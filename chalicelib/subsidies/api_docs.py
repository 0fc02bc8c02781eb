"""API documentation of the subsidy routes and of the channel's notification."""
from typing import Any, Dict, List, Literal, Optional

from pydantic import BaseModel, Field

from ..auth.credentials import BUSINESS_LINE, CHANNEL
from ..errors import ErrorCode
from ..openapi import Operation, Param, Reply
from .messages import (DigitsId, SubsidyRequest, SubsidyReturnRequest, TransactionNotification)

EXAMPLE_CREATE = {
    "traceId": "10202502d63adaf1c99dfd90ca250d1cacc093f5", "timestamp": 1740125261,
    "productId": 1096, "tenantId": 0, "userId": "1295659", "bizOrderId": "1774303629096779780_1",
    "paymentOrderId": "1326216474909544770", "bizRelOrderId": "1329128496286412800_0",
    "bizSubsidiesId": "1329128824390000640", "amount": 2332, "description": "补差描述1",
    "mchId": "1800007135", "subMchId": "1692608207"}
EXAMPLE_RETURN = {
    "traceId": "1295413502290092034_114", "timestamp": 1740125261, "productId": 1096,
    "userId": "1295659", "bizOrderId": "1774303629096779780_1",
    "paymentOrderId": "1326216474909544770", "bizRelOrderId": "1329128496286412800_0",
    "bizRefundId": "1329128835060391936", "paymentRefundId": "1326216474909544772",
    "bizReturnSubsidiesId": "1329128835244941312", "bizSubsidiesId": "1329128824390000640",
    "paymentSubsidiesId": "1326216474909544771", "amount": "2332", "description": "补差回退",
    "mchId": "1800007135", "subMchId": "1692608207"}


class _Common(BaseModel):
    amount: int = Field(description="fen")
    bizOrderId: Optional[str]
    bizRelOrderId: Optional[str]
    bizSubsidiesId: Optional[str]
    description: Optional[str] = Field(description="as first recorded (sent to the channel)")
    mchId: Optional[str]
    openid: str = Field(description="the payer's openid from the channel's notice")
    paymentOrderId: Optional[str]
    paymentSubsidiesId: str = Field(description="the center's out_subsidy_no: 19 digits, one per "
                                                "bizSubsidiesId for ever")
    proxyChannelSubsidiesId: str = Field(description="the channel's subsidy_id (\"\" until SUCCEEDED)")
    subMchId: Optional[str]
    tenantId: Optional[int]
    traceId: Optional[str]
    userId: Optional[str]


class SubsidyData(_Common):
    """The subsidy (the answer's data)."""


class SubsidyReturnData(_Common):
    """The subsidy return (the answer's data)."""
    bizReturnSubsidiesId: str
    bizRefundId: Optional[str]
    paymentRefundId: str
    paymentReturnSubsidiesId: str = Field(description="the center's out_order_no (19 digits)")
    proxyChannelReturnSubsidiesId: str = Field(description="the channel's subsidy_refund_id")


class SubsidyAnswer(BaseModel):
    code: Literal[0]
    message: Literal["success"]
    data: SubsidyData


class SubsidyReturnAnswer(BaseModel):
    code: Literal[0]
    message: Literal["success"]
    data: SubsidyReturnData


class SubsidyReturnRow(BaseModel):
    """One return of the subsidy, in the channel's shape (with the subsidy's amounts)."""
    state: Literal[0, 1, 2, 3] = Field(description="0 returning or unknown, 1 returned, 2 failed, "
                                                   "3 needs attention")
    state_name: str
    total_amount: int
    returned_amount: int
    returning_amount: int
    returnable_amount: int
    amount: int
    biz_refund_id: str
    payment_refund_id: str
    biz_return_subsidies_id: str
    payment_return_subsidies_id: str
    proxy_channel_return_subsidies_id: str


class SubsidyView(SubsidyData):
    state: Literal["RECEIVED", "IN_FLIGHT", "SUCCEEDED", "FAILED", "UNKNOWN", "NEEDS_ATTENTION"]
    total_amount: int
    returned_amount: int
    returning_amount: int = Field(description="reserved by returns not yet SUCCEEDED or FAILED")
    returnable_amount: int = Field(description="total - returned - returning")
    transactionId: Optional[str]
    sends: int = Field(description="channel calls made for it (all with paymentSubsidiesId)")
    sweeps: int = Field(description="claims made by the subsidy sweeper")
    channelFailure: Optional[Dict[str, Any]] = Field(description="FAILED: the channel's code and message")
    lastError: Optional[str] = Field(description="UNKNOWN: why the outcome is unknown")
    createdAt: str
    updatedAt: str
    returns: List[SubsidyReturnRow]


class SubsidyViewAnswer(BaseModel):
    code: Literal[0]
    message: Literal["success"]
    data: SubsidyView


class NotificationAck(BaseModel):
    """The center's acknowledgement of a channel notice (WeChat style)."""
    code: Literal["SUCCESS"]
    message: Literal["recorded", "replayed"]


SUBSIDY_DATA = {
    "amount": 2332, "bizOrderId": "1774303629096779780_1", "bizRelOrderId": "1329128496286412800_0",
    "bizSubsidiesId": "1329128824390000640", "description": "补差描述1", "mchId": "1800007135",
    "openid": "ou8xs5WjMpzd59eYy7JNF3CuLG0g", "paymentOrderId": "1326216474909544770",
    "paymentSubsidiesId": "1763790000123456789", "proxyChannelSubsidiesId": "40000307692025011501593491216",
    "subMchId": "1692608207", "tenantId": 0, "traceId": "10202502d63adaf1c99dfd90ca250d1cacc093f5",
    "userId": "1295659"}
CHANGING = (ErrorCode.INVALID_FIELD, ErrorCode.MALFORMED_BODY, ErrorCode.BODY_TOO_LARGE,
            ErrorCode.REENTRY_MISMATCH, ErrorCode.REENTRY_IN_PROGRESS, ErrorCode.CHANNEL_REJECTED,
            ErrorCode.OUTCOME_UNKNOWN, ErrorCode.BUSY)

OPERATIONS = [
    Operation(
        "POST", "/subsidies", "createSubsidy", "Subsidise a paid order (营销补差)", "subsidies",
        description=("Reentrant on bizSubsidiesId. Same parameters after SUCCESS: the stored answer, "
                     "no channel call. Other parameters: 1030. After a channel rejection: executed "
                     "again. After an unknown outcome: the identical request is re-sent with the same "
                     "paymentSubsidiesId (out_subsidy_no). Concurrent duplicates wait for the one "
                     "call in flight, or get 3002. Tenant-scoped: the subsidy and the paid order it "
                     "names are the caller's tenant's (the key's merchant_id; not the body's "
                     "tenantId, a business field echoed as is); another tenant may use the same "
                     "bizSubsidiesId and paymentOrderId independently, and another tenant's paid "
                     "order answers 4047 exactly like one never paid. paymentSubsidiesId is unique "
                     "across every tenant."),
        request=SubsidyRequest, request_examples={"first": ("A first subsidy", EXAMPLE_CREATE)},
        ok=Reply("SUCCEEDED: the subsidy moved on the channel.", SubsidyAnswer,
                 examples={"first": {"code": 0, "message": "success", "data": SUBSIDY_DATA}}),
        errors=CHANGING + (ErrorCode.PAYMENT_ORDER_NOT_FOUND,), envelope=True,
        signed=True, role=BUSINESS_LINE, scoped=("subMchId",)),
    Operation(
        "POST", "/subsidies/returns", "returnSubsidy", "Take a subsidy back on a refund (补差回退)",
        "subsidies",
        description=("Reentrant on paymentRefundId + bizReturnSubsidiesId (one return per refund; "
                     "one bizReturnSubsidiesId, one amount). The amount is checked against what is "
                     "left of the subsidy, counting returns still in flight or unknown. "
                     "Tenant-scoped: the subsidy is the caller's tenant's (another tenant's answers "
                     "4048 like a missing one) and the return ids are unique within the tenant."),
        request=SubsidyReturnRequest, request_examples={"first": ("A return of it", EXAMPLE_RETURN)},
        ok=Reply("SUCCEEDED: the amount came back on the channel.", SubsidyReturnAnswer),
        errors=CHANGING + (ErrorCode.SUBSIDY_NOT_FOUND, ErrorCode.SUBSIDY_NOT_RETURNABLE,
                           ErrorCode.RETURN_EXCEEDS_SUBSIDY),
        envelope=True,
        signed=True, role=BUSINESS_LINE, scoped=("subMchId",)),
    Operation(
        "GET", "/subsidies/{bizSubsidiesId}", "getSubsidy", "A subsidy with its returns", "subsidies",
        params=[Param("bizSubsidiesId", DigitsId)],
        description=("Scoped to the caller's tenant (the key's merchant_id): another tenant's "
                     "subsidy answers 404 (4048) with exactly the body of a missing one."),
        ok=Reply("The subsidy, its amounts and its returns (one row per return).", SubsidyViewAnswer),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.SUBSIDY_NOT_FOUND, ErrorCode.BUSY), envelope=True,
        signed=True),
    Operation(
        "POST", "/channel/notifications/transactions", "notifyTransaction",
        "The channel's notice of a paid order", "subsidies",
        description=("Stores paymentOrderId -> transaction_id, openid, sub_mchid, amount under the "
                     "tenant named by `attach` (set by the center when the order was placed, returned "
                     "unchanged by the channel); a notice without it is 400 (field attach) and "
                     "writes nothing. Idempotent on (tenant, payment_order_id); another transaction "
                     "for a known one is 1031."),
        request=TransactionNotification,
        request_examples={"paid": ("A paid order", {
            "attach": "demo", "payment_order_id": "1326216474909544770",
            "biz_order_id": "1774303629096779780_1", "mch_id": "1800007135", "sub_mchid": "1692608207",
            "transaction_id": "4200000000000000000000000001", "openid": "ou8xs5WjMpzd59eYy7JNF3CuLG0g",
            "amount": 10000, "success_time": "2026-11-22T14:00:00+08:00"})},
        ok=Reply("Recorded, or the same notice again.", NotificationAck,
                 examples={"recorded": {"code": "SUCCESS", "message": "recorded"}}),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.MALFORMED_BODY, ErrorCode.BODY_TOO_LARGE,
                ErrorCode.TRANSACTION_CONFLICT, ErrorCode.BUSY), envelope=True,
        signed=True, role=CHANNEL),
]
