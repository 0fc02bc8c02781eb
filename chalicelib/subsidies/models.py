"""SubsidiesTable (hash `pk`, sparse GSI `open`): marketing subsidies and their returns.

* `Subsidy` (`SUBSIDY#<bizSubsidiesId>`): a reentry record, plus what is left to return;
* `SubsidyReturn` (`RETURN#<paymentRefundId>`): a reentry record of one return;
* `BizReturnGuard` (`BIZRETURN#<bizReturnSubsidiesId>`): a business line's return id, once;
* `ChannelTransaction` (`TXN#<payment_order_id>`): a paid order as the channel notified it
  (profit sharing reads it too);
* `SubsidyOutboundGuard` (`OUTBOUND#<no>`): an outbound number, given to one record.
"""
from pynamodb.attributes import MapAttribute, UnicodeAttribute

from ..data.attributes import FenAttribute
from ..data.binding import TableModel
from ..reentry.models import OutboundGuardModel, ReentryRecordModel


class Subsidy(ReentryRecordModel):
    class Meta:
        table_setting = "SUBSIDIES_TABLE"
        table_name = None

    params = MapAttribute()
    echo = MapAttribute()
    openid = UnicodeAttribute()
    transaction_id = UnicodeAttribute()
    total_amount = FenAttribute()
    returnable_amount = FenAttribute()      # not yet reserved by a return
    returning_amount = FenAttribute()       # reserved by returns still in flight
    returned_amount = FenAttribute()        # settled returns
    returns = MapAttribute()                # return pk -> its amount and state

    @classmethod
    def key(cls, biz_subsidies_id: str) -> str:
        from .service import subsidy_key
        return subsidy_key(biz_subsidies_id)


class SubsidyReturn(ReentryRecordModel):
    class Meta:
        table_setting = "SUBSIDIES_TABLE"
        table_name = None

    params = MapAttribute()
    echo = MapAttribute()
    subsidy_pk = UnicodeAttribute()

    @classmethod
    def key(cls, payment_refund_id: str) -> str:
        from .service import return_key
        return return_key(payment_refund_id)


class BizReturnGuard(TableModel):
    class Meta:
        table_setting = "SUBSIDIES_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    payment_refund_id = UnicodeAttribute()
    amount = FenAttribute()

    @classmethod
    def key(cls, biz_return_subsidies_id: str) -> str:
        from .service import biz_return_key
        return biz_return_key(biz_return_subsidies_id)


class ChannelTransaction(TableModel):
    class Meta:
        table_setting = "SUBSIDIES_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    payment_order_id = UnicodeAttribute()
    biz_order_id = UnicodeAttribute()
    mch_id = UnicodeAttribute()
    sub_mchid = UnicodeAttribute()
    transaction_id = UnicodeAttribute()
    openid = UnicodeAttribute()
    amount = FenAttribute()
    success_time = UnicodeAttribute()

    @classmethod
    def key(cls, payment_order_id: str) -> str:
        from .transactions import transaction_key
        return transaction_key(payment_order_id)


class SubsidyOutboundGuard(OutboundGuardModel):
    class Meta:
        table_setting = "SUBSIDIES_TABLE"
        table_name = None
