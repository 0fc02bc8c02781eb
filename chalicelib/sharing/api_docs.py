"""API documentation of the profit-sharing routes and of the channel's notice."""
from typing import Any, Dict, List, Literal, Optional

from pydantic import BaseModel, Field

from ..auth.credentials import BUSINESS_LINE, CHANNEL
from ..errors import ErrorCode
from ..openapi import Operation, Param, Reply
from ..subsidies.api_docs import NotificationAck
from ..subsidies.messages import BizId, DigitsId
from .messages import RefundNotification, SharingNotification, SharingRequest, UnfreezeRequest

EXAMPLE_REFUND = {  # the channel's first documented refund notification, as is
    "requestId": "==2d66245d2b4556044722fbd266127031==", "offerId": "1800005801",
    "sessionId": "wechatid", "openid": "o9OaOs-ZfOS1R5_8S7KlhtjMtSjI",
    "outTradeNo": "T1358758504770221747", "amt": "6318", "refundId": "1358848888074551968",
    "reqFrom": "2", "refundReason": "0", "timestamp": "1744027349", "productId": 1019,
    "userId": "535291609", "paymentClassify": 1, "bizOrderId": "1835109860518134549_1",
    "paymentOrderId": "1358758504770221747", "refundType": 1,
    "bizRelOrderId": "1358819040316796928_0", "refundImmediately": True, "mchId": "1800005801",
    "subMchId": "1692608207", "orderTotal": "6318", "payerTotal": "6318"}
EXAMPLE_SHARING = {
    "traceId": "1358758504770221747_share", "timestamp": 1744027000, "productId": 1019,
    "tenantId": 0, "userId": "535291609", "spId": "SP1001", "spName": "运力商A",
    "platformSharingDimension": 1, "paymentOrderId": "1358758504770221747",
    "bizOrderId": "1835109860518134549_1", "bizRelOrderId": "1358819040316796928_0",
    "sharingMode": 1, "unfreezeOrder": 1,
    "receivers": [{"receiveMchId": "1900000109", "receiveType": "MERCHANT_ID", "amount": 1000,
                   "description": "分给运力商"},
                  {"receiveMchId": "1900000110", "receiveType": "MERCHANT_ID", "amount": 800,
                   "description": "分给平台"}]}


class ReceiverRow(BaseModel):
    receiveMchId: str
    receiveType: Optional[Literal["MERCHANT_ID", "PERSONAL_OPENID"]]
    amount: int = Field(description="fen (after any reduction of a delayed plan by refunds)")
    description: Optional[str]
    state: Literal["PENDING", "SUCCESS", "CLOSED"]
    failReason: Optional[str] = Field(description="CLOSED: the channel's fail_reason (REFUNDED: a "
                                                   "refund removed it from a delayed plan)")
    detailId: str
    finishTime: str
    appid: str = Field(description="the request's appid (\"\" when not given)")
    settlementTime: int = Field(description="the request's settlementTime (0 when not given)")
    parentMerchantId: str = Field(description="the paid order's service-provider merchant id (mch_id)")
    investMchId: str = Field(description="the sub-merchant the shared money comes from")


class UnfreezeData(BaseModel):
    tradeId: str
    paymentOrderId: str
    sharingOrderId: str
    state: Literal["FROZEN", "SENDING", "UNFROZEN", "REJECTED", "UNKNOWN", "UNFROZEN_BY_SHARING"] = Field(
        description=("unfreezeOrder 2: FROZEN until unfrozen (scheduledAt: when the scheduler will), "
                     "then UNFROZEN; unfreezeOrder 1: UNFROZEN_BY_SHARING (the channel unfroze the "
                     "rest with the sharing itself)"))
    unfreezeOrderNo: str = Field(description="the unfreeze's own out_order_no (19 digits; \"\" before it is sent)")
    wxUnfreezeOrderId: str = Field(description="the channel's order_id of the unfreeze")
    scheduledAt: str = Field(description="when the scheduled unfreeze is due (\"\" when none is pending)")
    sends: int
    channelFailure: Optional[Dict[str, Any]]


class UnfreezeAnswer(BaseModel):
    code: Literal[0]
    message: Literal["success"]
    data: UnfreezeData


class SharingOrderRow(BaseModel):
    paymentOrderId: str
    sharingOrderId: str
    state: str
    sharedAmount: int


class SharingData(BaseModel):
    tradeId: str = Field(description="paymentOrderId (dimension 1) or bizRelOrderId (dimension 2)")
    sharingOrderId: str = Field(description=("the center's out_order_no: 19 digits, one per (trade, "
                                             "payment order), for ever"))
    wxSharingOrderId: str = Field(description="the channel's order_id (\"\" until accepted)")
    state: Literal["SCHEDULED", "SENDING", "PROCESSING", "FINISHED", "CANCELLED", "REJECTED", "UNKNOWN"]
    traceId: Optional[str]
    productId: Optional[int]
    tenantId: Optional[int]
    userId: Optional[str]
    spId: Optional[str]
    spName: Optional[str]
    platformSharingDimension: Optional[int]
    paymentOrderId: Optional[str]
    bizOrderId: Optional[str]
    bizRelOrderId: Optional[str]
    sharingMode: Optional[int]
    planSharingTime: int
    unfreezeOrder: Optional[int]
    appid: str
    settlementTime: int
    parentMerchantId: str
    transactionId: str
    sharedAmount: int = Field(description="the SUCCESS receivers' total")
    refundedAmount: int = Field(description="refunds of the order applied to this sharing")
    holdings: Dict[str, int] = Field(description="per receiver: what refunds may still take back")
    sends: int
    channelFailure: Optional[Dict[str, Any]]
    lastError: Optional[str]
    receivers: List[ReceiverRow]
    unfreeze: Optional[UnfreezeData] = Field(default=None, description="GET only: the unfreeze of the rest")
    sharingOrders: Optional[List[SharingOrderRow]] = Field(
        default=None, description="GET only: the trade's sharing orders, one per payment order")


class SharingAnswer(BaseModel):
    code: Literal[0]
    message: Literal["success"]
    data: SharingData


class ReturnRow(BaseModel):
    returnMchId: str
    amount: int
    sharingReturnNo: str = Field(description="the center's out_return_no (19 digits), never re-numbered")
    wxSharingReturnId: str
    state: Literal[0, 1, 2, 3] = Field(description="0 init, 1 processing (or unknown), 2 succeeded, 3 failed")
    result: Literal["INIT", "PROCESSING", "SUCCESS", "FAILED"]
    failReason: Optional[str]
    finishTime: str
    sends: Optional[int] = None
    productId: Optional[int] = None
    spId: Optional[str] = None
    spName: Optional[str] = None
    platformSharingDimension: Optional[int] = None
    sharingOrderId: Optional[str] = None
    wxSharingOrderId: Optional[str] = None
    investMchId: Optional[str] = None


class RelationData(BaseModel):
    tradeId: str
    paymentOrderId: str
    bizOrderId: str
    proxyChannelOrderId: str
    paymentRefundId: str
    bizRefundId: str = Field(description="the refund's own id (refundId), not the notice's requestId")
    refundType: int
    state: Literal[0, 1, 2, 3] = Field(description="0 init, 1 done, 2 failed, 3 nothing to return")
    applyAmount: int
    refundAmount: int
    actualBaseReturnAmount: int
    planReduced: Dict[str, int] = Field(description="a delayed sharing not yet sent: fen taken off its plan")
    description: str
    createTime: str
    updateTime: str
    returns: List[ReturnRow]


class RefundData(RelationData):
    relations: List[RelationData] = Field(description="one per sharing of the payment order "
                                                      "(the top-level fields are the first's)")


class RefundAnswer(BaseModel):
    code: Literal[0]
    message: Literal["success"]
    data: RefundData


CHANGING = (ErrorCode.INVALID_FIELD, ErrorCode.MALFORMED_BODY, ErrorCode.BODY_TOO_LARGE,
            ErrorCode.REENTRY_MISMATCH, ErrorCode.REENTRY_IN_PROGRESS, ErrorCode.BUSY)

OPERATIONS = [
    Operation(
        "POST", "/sharing/orders", "createSharing", "Share a paid order among receivers (执行分账)",
        "sharing",
        description=("Reentrant on the trade (tradeId: paymentOrderId for dimension 1, bizRelOrderId "
                     "for 2) and the payment order: one sharing order per (trade, paymentOrderId), "
                     "each receiver at most once in it; a business order paid by several payment "
                     "orders is shared once per payment order. Same parameters: the records, no "
                     "second channel call; other "
                     "parameters: 1030; after a channel rejection or an unknown outcome: re-sent with "
                     "the same sharingOrderId. sharingMode 2 is executed by sharing_scheduler at "
                     "planSharingTime. Receivers settle asynchronously (PENDING -> SUCCESS | CLOSED). "
                     "Tenant-scoped: the trade, its guards and the paid order it names are the "
                     "caller's tenant's (the key's merchant_id); another tenant may use the same "
                     "tradeId and paymentOrderId independently, and another tenant's paid order "
                     "answers 4047 exactly like one never paid. sharingOrderId is unique across "
                     "every tenant."),
        request=SharingRequest, request_examples={"realtime": ("Two receivers, realtime", EXAMPLE_SHARING)},
        ok=Reply("Accepted by the channel (or scheduled): the sharing and its receivers.", SharingAnswer),
        errors=CHANGING + (ErrorCode.PAYMENT_ORDER_NOT_FOUND, ErrorCode.SHARING_EXCEEDS_ORDER,
                           ErrorCode.CHANNEL_REJECTED, ErrorCode.OUTCOME_UNKNOWN), envelope=True,
        signed=True, role=BUSINESS_LINE),
    Operation(
        "GET", "/sharing/orders/{tradeId}", "getSharing", "A profit sharing and its receivers", "sharing",
        params=[Param("tradeId", BizId),
                Param("paymentOrderId", DigitsId, location="query", required=False,
                      description=("which sharing order of the trade (one per payment order); "
                                   "absent: the trade's own for dimension 1, else the first"))],
        description=("Scoped to the caller's tenant (the key's merchant_id): another tenant's "
                     "sharing answers 404 (4049) with exactly the body of a missing one. "
                     "`sharingOrders` lists every sharing order of the trade; `unfreeze` says "
                     "whether what the sharing left frozen is unfrozen."),
        ok=Reply("The sharing as recorded.", SharingAnswer),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.SHARING_NOT_FOUND, ErrorCode.BUSY), envelope=True,
        signed=True),
    Operation(
        "POST", "/sharing/orders/{tradeId}/unfreeze", "unfreezeSharing",
        "Unfreeze what a sharing with unfreezeOrder 2 left frozen (解冻剩余资金)", "sharing",
        params=[Param("tradeId", BizId)],
        description=("Calls the channel's unfreeze for the sharing order of (tradeId, paymentOrderId) "
                     "(paymentOrderId may be left out when the trade has one sharing order). "
                     "Reentrant on the unfreeze's own out_order_no: asked again (or after the "
                     "scheduled unfreeze) it answers the record, with no second channel call; after an "
                     "unknown outcome it re-sends the same number. Only once the sharing is over "
                     "(FINISHED, REJECTED or CANCELLED), else 3006. A sharing with unfreezeOrder 1 "
                     "answers UNFROZEN_BY_SHARING without a call. Without this call the sharing "
                     "scheduler unfreezes SHARING_UNFREEZE_AFTER_SECONDS after the sharing is final. "
                     "Tenant-scoped: another tenant's sharing answers 404 (4049) exactly like a "
                     "missing one; the key must hold the paid order's sub-merchant (403)."),
        request=UnfreezeRequest,
        request_examples={"one": ("The trade's one sharing order", {})},
        ok=Reply("Unfrozen (or unfrozen by the sharing itself).", UnfreezeAnswer),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.MALFORMED_BODY, ErrorCode.BODY_TOO_LARGE,
                ErrorCode.SHARING_NOT_FOUND, ErrorCode.SHARING_IN_PROGRESS, ErrorCode.REENTRY_IN_PROGRESS,
                ErrorCode.CHANNEL_REJECTED, ErrorCode.OUTCOME_UNKNOWN, ErrorCode.BUSY),
        envelope=True, signed=True, role=BUSINESS_LINE, scoped=("tradeId",), tenant_read=True),
    Operation(
        "POST", "/sharing/refunds", "refundSharing", "Return profit sharing on a refund (分账回退)",
        "sharing",
        description=("Takes the refund notification as is (the same as the RefundQueue's messages). "
                     "One relation per (trade, paymentOrderId, refundId); one return order per "
                     "receiver with its own sharingReturnNo. Partial refunds return in proportion, "
                     "largest remainder in whole fen; full refunds everything still held. Re-sent: "
                     "the records; other amounts for the same refundId: 1030. Tenant-scoped: the "
                     "refund sees only the caller's tenant's sharings of the payment order (none: "
                     "state 3) and its records are the tenant's; another tenant may use the same "
                     "refundId. RefundQueue messages carry their tenant in the message attribute "
                     "`tenant`; one without it is refused (logged, then dead-lettered)."),
        request=RefundNotification, request_examples={"channel": ("The channel's documented refund", EXAMPLE_REFUND)},
        ok=Reply("The relation(s) and the return orders.", RefundAnswer),
        errors=CHANGING + (ErrorCode.SHARING_IN_PROGRESS, ErrorCode.REFUND_EXCEEDS_ORDER), envelope=True,
        signed=True, role=BUSINESS_LINE, scoped=("subMchId",)),
    Operation(
        "GET", "/sharing/refunds/{refundId}", "getSharingRefund", "The profit-sharing returns of a refund",
        "sharing", params=[Param("refundId", DigitsId)],
        description=("Scoped to the caller's tenant (the key's merchant_id): another tenant's "
                     "refund answers 404 (4050) with exactly the body of a missing one."),
        ok=Reply("The relation(s) and the return orders.", RefundAnswer),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.SHARING_REFUND_NOT_FOUND, ErrorCode.BUSY),
        envelope=True,
        signed=True),
    Operation(
        "POST", "/channel/notifications/profitsharing", "notifyProfitSharing",
        "The channel's notice of one receiver's sharing result", "sharing",
        description=("Idempotent; a final result is never moved (PENDING -> SUCCESS | CLOSED once). "
                     "Mapped to its tenant by out_order_no (unique across every tenant), and only "
                     "when transaction_id and sub_mchid are that sharing's: a notice never touches "
                     "another tenant's record (otherwise 4049)."),
        request=SharingNotification,
        ok=Reply("Recorded, or nothing new.", NotificationAck),
        errors=(ErrorCode.INVALID_FIELD, ErrorCode.MALFORMED_BODY, ErrorCode.BODY_TOO_LARGE,
                ErrorCode.SHARING_NOT_FOUND, ErrorCode.BUSY), envelope=True,
        signed=True, role=CHANNEL),
]
