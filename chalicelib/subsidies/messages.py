"""Request schemas of the subsidy API (camelCase) and of the channel's notification."""
from typing import Annotated, Optional

from pydantic import Field

from ..schemas import AmountFen, StrictModel

# The channel's ids: digits (bizSubsidiesId, paymentOrderId, mchId, ...), at most 32 (WeChat's limit
# for the numbers the channel gets).
DigitsId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9]+$",
                                description="1-32 digits", examples=["1329128824390000640"])]
# Business ids such as "1774303629096779780_1": printable ASCII, no spaces.
BizId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$",
                             description="1-64 printable ASCII characters, no spaces",
                             examples=["1774303629096779780_1"])]
Description = Annotated[str, Field(min_length=1, max_length=80,
                                   description="1-80 characters, sent to the channel",
                                   examples=["补差描述1"])]
Timestamp = Annotated[int, Field(ge=0, le=99_999_999_999, description="seconds since the epoch",
                                 examples=[1740125261])]
SmallInt = Annotated[int, Field(ge=0, le=2_147_483_647, examples=[1096])]


class _Envelope(StrictModel):
    """What every business-line request carries."""
    traceId: BizId
    timestamp: Timestamp
    productId: SmallInt
    userId: BizId
    bizOrderId: BizId
    paymentOrderId: DigitsId
    bizRelOrderId: BizId
    bizSubsidiesId: DigitsId
    amount: AmountFen
    description: Description
    mchId: DigitsId
    subMchId: DigitsId


class SubsidyRequest(_Envelope):
    """`POST /subsidies`: subsidise a paid order (营销补差). Reentry key: bizSubsidiesId."""
    tenantId: SmallInt


class SubsidyReturnRequest(_Envelope):
    """`POST /subsidies/returns`: take (part of) a subsidy back on a refund (补差回退).
    Reentry key: paymentRefundId + bizReturnSubsidiesId (amount bound one to one)."""
    tenantId: Optional[SmallInt] = None
    bizRefundId: BizId
    paymentRefundId: DigitsId
    bizReturnSubsidiesId: DigitsId
    paymentSubsidiesId: DigitsId


# A tenant id (a caller's merchant_id) as it travels in the channel's `attach` field.
TenantId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$",
                                description="the tenant (merchant_id) that placed the order",
                                examples=["demo"])]


class TransactionNotification(StrictModel):
    """The channel's notice of a paid order (`POST /channel/notifications/transactions`).
    `attach` is WeChat's free field, set when the order was placed and returned unchanged in
    the notice: the center puts the tenant there, so the notice is filed under that tenant."""
    attach: TenantId
    payment_order_id: DigitsId
    biz_order_id: BizId
    mch_id: DigitsId
    sub_mchid: DigitsId
    transaction_id: DigitsId
    openid: BizId
    amount: AmountFen
    success_time: Annotated[str, Field(min_length=1, max_length=40, examples=["2026-11-22T14:00:00+08:00"])]
