"""Request schemas of the profit-sharing API (camelCase), the refund notification
(the channel's JSON shape, as is) and the channel's profit-sharing notification."""
from typing import Annotated, List, Literal, Optional

from pydantic import ConfigDict, Field, model_validator

from ..schemas import AmountFen, StrictModel, int_choice
from ..subsidies.messages import BizId, DigitsId, SmallInt, Timestamp

MAX_RECEIVERS = 50          # WeChat's limit per profit-sharing order
Account = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$",
                               description="a merchant id (MERCHANT_ID) or an openid (PERSONAL_OPENID)",
                               examples=["1900000109"])]
SharingDescription = Annotated[str, Field(min_length=1, max_length=80, examples=["分给商户"])]
ShortText = Annotated[str, Field(min_length=1, max_length=32, examples=["运力商A"])]
AmountText = Annotated[str, Field(min_length=1, max_length=12, pattern=r"^[1-9][0-9]{0,11}$",
                                  description="fen, as a string of digits (the channel's shape)",
                                  examples=["6318"])]


class Receiver(StrictModel):
    receiveMchId: Account
    receiveType: Literal["MERCHANT_ID", "PERSONAL_OPENID"]
    amount: AmountFen
    description: SharingDescription


class SharingRequest(StrictModel):
    """`POST /sharing/orders`: share a paid order among receivers (执行分账). Reentry key:
    the trade (`tradeId`: paymentOrderId for dimension 1, bizRelOrderId for dimension 2) and the
    payment order: a business order paid by several payment orders is shared once per payment
    order."""
    traceId: BizId
    timestamp: Timestamp
    productId: SmallInt
    tenantId: SmallInt
    userId: BizId
    spId: ShortText
    spName: ShortText
    platformSharingDimension: int_choice(1, 2)
    paymentOrderId: DigitsId
    bizOrderId: BizId
    bizRelOrderId: BizId
    sharingMode: int_choice(1, 2) = Field(description="1 realtime, 2 delayed (planSharingTime)")
    planSharingTime: Optional[Timestamp] = Field(
        default=None, description="seconds since the epoch; required for sharingMode 2, absent or 0 for 1")
    unfreezeOrder: int_choice(1, 2) = Field(
        description=("1: unfreeze what is not shared (unfreeze_unsplit), 2: keep it frozen until "
                     "POST /sharing/orders/{tradeId}/unfreeze or the scheduled unfreeze"))
    appid: Optional[Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[\x21-\x7e]+$",
                                         examples=["wx8888888888888888"])]] = Field(
        default=None, description="the channel's app id the order was paid in (recorded on the details)")
    settlementTime: Optional[Timestamp] = Field(
        default=None, description="seconds since the epoch: when the business order was completed "
                                  "(recorded on the details; absent or 0: unknown)")
    receivers: List[Receiver] = Field(min_length=1, max_length=MAX_RECEIVERS)

    @model_validator(mode="after")
    def _consistent(self):
        if self.sharingMode == 2 and not self.planSharingTime:
            raise ValueError("planSharingTime: is required for sharingMode 2 (delayed)")
        if self.sharingMode == 1 and self.planSharingTime:
            raise ValueError("planSharingTime: must be absent or 0 for sharingMode 1 (realtime)")
        accounts = [r.receiveMchId for r in self.receivers]
        if len(set(accounts)) != len(accounts):
            raise ValueError("receivers: a receiveMchId appears twice")
        return self

    @property
    def trade_id(self) -> str:
        return self.paymentOrderId if self.platformSharingDimension == 1 else self.bizRelOrderId


class UnfreezeRequest(StrictModel):
    """`POST /sharing/orders/{tradeId}/unfreeze`: unfreeze what a sharing with unfreezeOrder 2
    left frozen (解冻剩余资金). `paymentOrderId` names the sharing order of the trade; it may be
    left out when the trade has one sharing order."""
    paymentOrderId: Optional[DigitsId] = None


class RefundNotification(StrictModel):
    """A refund notice (the channel's JSON, as is). Fields the center does not use are accepted
    and ignored: the notice belongs to the refund system and may grow."""
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    requestId: Annotated[str, Field(min_length=1, max_length=64)]
    refundId: DigitsId
    paymentOrderId: DigitsId
    bizOrderId: BizId
    bizRelOrderId: BizId
    amt: AmountText
    orderTotal: AmountText
    payerTotal: Optional[AmountText] = None
    refundType: int_choice(1, 2) = Field(description="1 full refund, 2 partial refund")
    mchId: DigitsId
    subMchId: DigitsId
    productId: SmallInt
    userId: BizId
    timestamp: Annotated[str, Field(min_length=1, max_length=11, pattern=r"^[0-9]+$")]
    outTradeNo: Optional[BizId] = None
    offerId: Optional[BizId] = None
    openid: Optional[BizId] = None
    refundReason: Optional[Annotated[str, Field(max_length=32)]] = None
    reqFrom: Optional[Annotated[str, Field(max_length=16)]] = None
    refundImmediately: Optional[bool] = None
    paymentClassify: Optional[SmallInt] = None
    sessionId: Optional[Annotated[str, Field(max_length=64)]] = None

    @model_validator(mode="after")
    def _amounts(self):
        if int(self.amt) > int(self.orderTotal):
            raise ValueError("amt: is over orderTotal")
        if self.refundType == 1 and self.amt != self.orderTotal:
            raise ValueError("refundType: 1 (full refund) but amt is not orderTotal")
        return self


class SharingReceiverResult(StrictModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    type: Literal["MERCHANT_ID", "PERSONAL_OPENID"]
    account: Account
    amount: int
    description: Optional[str] = None
    result: Literal["PENDING", "SUCCESS", "CLOSED"]
    fail_reason: Optional[str] = None
    detail_id: Optional[str] = None


class SharingNotification(StrictModel):
    """The channel's notice of one receiver's result (`POST /channel/notifications/profitsharing`)."""
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    sub_mchid: DigitsId
    transaction_id: DigitsId
    order_id: Annotated[str, Field(min_length=1, max_length=64)]
    out_order_no: DigitsId
    receiver: SharingReceiverResult
    success_time: Optional[Annotated[str, Field(max_length=40)]] = None
