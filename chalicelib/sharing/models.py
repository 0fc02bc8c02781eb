"""SharingTable (hash `pk`; sparse GSIs `open` and `follow`): profit sharing and its returns.

Every key but `OUTBOUND#<no>` is under its tenant (`T#<tenant>#...`, chalicelib/tenant_keys.py).

* `SharingRecord` (`SHARING#<trade_id>#<paymentOrderId>`): a reentry record of one sharing order
  (one per trade and payment order), with each receiver's result and the holdings a refund may
  take back;
* `SharingTradeIndex` (`SHARINGS#<trade_id>`): the payment orders a trade was shared for;
* `SharingUnfreeze` (`UNFREEZE#<trade_id>#<paymentOrderId>`): a reentry record of the unfreeze of
  what a sharing with unfreezeOrder 2 left frozen;
* `SharingReturn` (`SRETURN#<trade>#<paymentOrderId>#<refundId>#<mch>`): a reentry record of one
  receiver's return on a refund;
* `RefundRelation` (`REFUND#<trade>#<paymentOrderId>#<refundId>`): a refund and its allocation;
* `RefundIdIndex` (`REFUNDID#<refundId>`): the relations of one refund id;
* `UniqueGuard` (`UK#SO|PO|TX#<trade>#<id>`): a sharing order's ids, each used once;
* `FollowMarker` (`FOLLOW#<record pk>`): query the channel for a record's result (GSI `follow`);
* `SharingOutboundGuard` (`OUTBOUND#<no>`): an outbound number, given to one record.
"""
from pynamodb.attributes import MapAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from ..data.attributes import FenAttribute, WholeNumberAttribute
from ..data.binding import TableModel
from ..reentry.models import OutboundGuardModel, ReentryRecordModel
from ..tenant_keys import key as tenant_key


class SharingRecord(ReentryRecordModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    params = MapAttribute()
    echo = MapAttribute()                # the request's echoed fields: productId, spId, appid, settlementTime...
    trade_id = UnicodeAttribute()
    payment_order_id = UnicodeAttribute()
    transaction_id = UnicodeAttribute()
    sub_mchid = UnicodeAttribute()
    parent_merchant_id = UnicodeAttribute(null=True)   # the paid order's service provider (mch_id)
    order_amount = FenAttribute()
    results = MapAttribute()             # receiver -> result, fail_reason, detail_id, finish_time
    holdings = MapAttribute()            # receiver -> fen a refund may still take back
    shared_success = FenAttribute()
    refunded_amount = FenAttribute()
    wx_order_id = UnicodeAttribute()

    @classmethod
    def key(cls, tenant: str, trade_id: str, payment_order_id: str) -> str:
        return tenant_key(tenant, "SHARING", trade_id, payment_order_id)


class SharingTradeIndex(TableModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    payment_orders = UnicodeSetAttribute()

    @classmethod
    def key(cls, tenant: str, trade_id: str) -> str:
        return tenant_key(tenant, "SHARINGS", trade_id)


class SharingUnfreeze(ReentryRecordModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    sharing_pk = UnicodeAttribute()
    trade_id = UnicodeAttribute()
    payment_order_id = UnicodeAttribute()

    @classmethod
    def key(cls, tenant: str, trade_id: str, payment_order_id: str) -> str:
        return tenant_key(tenant, "UNFREEZE", trade_id, payment_order_id)


class SharingReturn(ReentryRecordModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    params = MapAttribute(null=True)
    echo = MapAttribute(null=True)
    relation_pk = UnicodeAttribute(null=True)
    return_mch_id = UnicodeAttribute(null=True)
    invest_mch_id = UnicodeAttribute(null=True)
    # The return order's columns: business line, service provider, dimension, what it undoes.
    product_id = WholeNumberAttribute(null=True)
    sp_id = UnicodeAttribute(null=True)
    sp_name = UnicodeAttribute(null=True)
    platform_sharing_dimension = WholeNumberAttribute(null=True)
    trade_id = UnicodeAttribute(null=True)
    payment_order_id = UnicodeAttribute(null=True)
    biz_order_id = UnicodeAttribute(null=True)
    proxy_channel_order_id = UnicodeAttribute(null=True)
    sharing_order_id = UnicodeAttribute(null=True)
    payment_refund_id = UnicodeAttribute(null=True)
    biz_refund_id = UnicodeAttribute(null=True)
    settled = MapAttribute(null=True)    # the channel's final result of the return, written once

    @classmethod
    def key(cls, tenant: str, trade_id: str, payment_order_id: str, refund_id: str, mch: str) -> str:
        return tenant_key(tenant, "SRETURN", trade_id, payment_order_id, refund_id, mch)


class RefundRelation(TableModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    tenant = UnicodeAttribute()          # the refund's tenant: the scheduler continues it under it
    trade_id = UnicodeAttribute()
    payment_order_id = UnicodeAttribute()
    biz_order_id = UnicodeAttribute()
    proxy_channel_order_id = UnicodeAttribute()
    payment_refund_id = UnicodeAttribute()
    biz_refund_id = UnicodeAttribute()
    refund_type = WholeNumberAttribute()      # 1 full refund, 2 partial (the notice's refundType)
    apply_amount = FenAttribute()
    refund_amount = FenAttribute()
    actual_base_return_amount = FenAttribute()
    state = WholeNumberAttribute()
    description = UnicodeAttribute()
    params = MapAttribute()
    fingerprint = UnicodeAttribute()
    sharing_pk = UnicodeAttribute()
    allocation = MapAttribute()
    plan_reduced = MapAttribute()
    create_time = UnicodeAttribute()
    update_time = UnicodeAttribute()

    @classmethod
    def key(cls, tenant: str, trade_id: str, payment_order_id: str, refund_id: str) -> str:
        return tenant_key(tenant, "REFUND", trade_id, payment_order_id, refund_id)


class RefundIdIndex(TableModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    relations = UnicodeSetAttribute()

    @classmethod
    def key(cls, tenant: str, refund_id: str) -> str:
        return tenant_key(tenant, "REFUNDID", refund_id)


class UniqueGuard(TableModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    record = UnicodeAttribute()

    @classmethod
    def key(cls, tenant: str, which: str, trade_id: str, value: str) -> str:
        """`which`: SO (sharing order id), PO (payment order id) or TX (transaction id)."""
        if which not in ("SO", "PO", "TX"):
            raise ValueError(f"unknown unique id kind {which!r}")
        return tenant_key(tenant, "UK", which, trade_id, value)


class FollowIndex(GlobalSecondaryIndex):
    """Sparse: the FOLLOW# markers, by kind of record followed and when to look again."""

    class Meta:
        index_name = "follow"
        projection = AllProjection()

    follow_kind = UnicodeAttribute(hash_key=True)
    follow_at = UnicodeAttribute(range_key=True)


class FollowMarker(TableModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    record = UnicodeAttribute()
    follow_kind = UnicodeAttribute()
    follow_at = UnicodeAttribute()

    follow = FollowIndex()

    @classmethod
    def key(cls, record_pk: str) -> str:
        return f"FOLLOW#{record_pk}"


class SharingOutboundGuard(OutboundGuardModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None
