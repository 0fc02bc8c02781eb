"""SharingTable (hash `pk`; sparse GSIs `open` and `follow`): profit sharing and its returns.

* `SharingRecord` (`SHARING#<trade_id>`): a reentry record of one sharing order, with each
  receiver's result and the holdings a refund may take back;
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


class SharingRecord(ReentryRecordModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    params = MapAttribute()
    echo = MapAttribute()
    trade_id = UnicodeAttribute()
    payment_order_id = UnicodeAttribute()
    transaction_id = UnicodeAttribute()
    sub_mchid = UnicodeAttribute()
    order_amount = FenAttribute()
    results = MapAttribute()             # receiver -> result, fail_reason, detail_id, finish_time
    holdings = MapAttribute()            # receiver -> fen a refund may still take back
    shared_success = FenAttribute()
    refunded_amount = FenAttribute()
    wx_order_id = UnicodeAttribute()

    @classmethod
    def key(cls, trade_id: str) -> str:
        from .orders import sharing_key
        return sharing_key(trade_id)


class SharingReturn(ReentryRecordModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    params = MapAttribute(null=True)
    echo = MapAttribute(null=True)

    @classmethod
    def key(cls, trade_id: str, payment_order_id: str, refund_id: str, mch: str) -> str:
        from .refunds import return_key
        return return_key(trade_id, payment_order_id, refund_id, mch)


class RefundRelation(TableModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    trade_id = UnicodeAttribute()
    payment_order_id = UnicodeAttribute()
    biz_order_id = UnicodeAttribute()
    proxy_channel_order_id = UnicodeAttribute()
    payment_refund_id = UnicodeAttribute()
    biz_refund_id = UnicodeAttribute()
    refund_type = UnicodeAttribute()
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
    def key(cls, trade_id: str, payment_order_id: str, refund_id: str) -> str:
        from .refunds import relation_key
        return relation_key(trade_id, payment_order_id, refund_id)


class RefundIdIndex(TableModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    relations = UnicodeSetAttribute()

    @classmethod
    def key(cls, refund_id: str) -> str:
        return f"REFUNDID#{refund_id}"


class UniqueGuard(TableModel):
    class Meta:
        table_setting = "SHARING_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    record = UnicodeAttribute()

    @classmethod
    def key(cls, which: str, trade_id: str, value: str) -> str:
        """`which`: SO (sharing order id), PO (payment order id) or TX (transaction id)."""
        if which not in ("SO", "PO", "TX"):
            raise ValueError(f"unknown unique id kind {which!r}")
        return f"UK#{which}#{trade_id}#{value}"


class FollowIndex(GlobalSecondaryIndex):
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
