"""SubsidiesTable (hash `pk`, sparse GSI `open`): marketing subsidies and their returns.

Every key but `OUTBOUND#<no>` is under its tenant (`T#<tenant>#...`, chalicelib/tenant_keys.py).

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
from ..tenant_keys import key as tenant_key


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
    def key(cls, tenant: str, biz_subsidies_id: str) -> str:
        return tenant_key(tenant, "SUBSIDY", biz_subsidies_id)


class SubsidyReturn(ReentryRecordModel):
    class Meta:
        table_setting = "SUBSIDIES_TABLE"
        table_name = None

    params = MapAttribute()
    echo = MapAttribute()
    subsidy_pk = UnicodeAttribute()

    @classmethod
    def key(cls, tenant: str, payment_refund_id: str) -> str:
        return tenant_key(tenant, "RETURN", payment_refund_id)


class BizReturnGuard(TableModel):
    class Meta:
        table_setting = "SUBSIDIES_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    payment_refund_id = UnicodeAttribute()
    amount = FenAttribute()

    @classmethod
    def key(cls, tenant: str, biz_return_subsidies_id: str) -> str:
        return tenant_key(tenant, "BIZRETURN", biz_return_subsidies_id)


class ChannelTransaction(TableModel):
    class Meta:
        table_setting = "SUBSIDIES_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    tenant = UnicodeAttribute()          # the notice's `attach`: the tenant that placed the order
    payment_order_id = UnicodeAttribute()
    biz_order_id = UnicodeAttribute()
    mch_id = UnicodeAttribute()
    sub_mchid = UnicodeAttribute()
    transaction_id = UnicodeAttribute()
    openid = UnicodeAttribute()
    amount = FenAttribute()
    success_time = UnicodeAttribute()

    @classmethod
    def key(cls, tenant: str, payment_order_id: str) -> str:
        """The one place a paid order's `TXN#` key is composed (profit sharing reads it too)."""
        return tenant_key(tenant, "TXN", payment_order_id)


class SubsidyOutboundGuard(OutboundGuardModel):
    class Meta:
        table_setting = "SUBSIDIES_TABLE"
        table_name = None
