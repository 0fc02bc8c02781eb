"""TradesTable: one item per trade (hash `pk` = "<tenant>#TRADE#<trans_id>").

A trade is recorded (RECORDED), then settled by `POST /trades/{trans_id}/pay` (SETTLING while an
async phase is pending, else SETTLED). While a phase is pending the trade carries
`pending_tenant`, the hash key of the sparse, keys-only GSI `pending_async` the applier reads.
"""
from pynamodb.attributes import ListAttribute, MapAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from ...data.attributes import FenAttribute
from ...data.binding import TableModel
from .. import keys


class PendingAsyncIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "pending_async"
        projection = KeysOnlyProjection()

    pending_tenant = UnicodeAttribute(hash_key=True)
    settled_at = UnicodeAttribute(range_key=True)


class Trade(TableModel):
    class Meta:
        table_setting = "TRADES_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    tenant = UnicodeAttribute()
    trans_id = UnicodeAttribute()
    buyer_id = UnicodeAttribute()
    seller_id = UnicodeAttribute()
    cash_amount = FenAttribute()
    settlement_type = UnicodeAttribute()
    payment_mode = UnicodeAttribute()
    channel_id = UnicodeAttribute(null=True)
    fee_amount = FenAttribute(null=True)
    fee_user_id = UnicodeAttribute(null=True)
    state = UnicodeAttribute()
    created_at = UnicodeAttribute()
    # Set by the settlement.
    pay_inputs = UnicodeAttribute(null=True)        # canonical JSON of the pay request
    settlement = MapAttribute(null=True)
    postings = ListAttribute(null=True)
    pending_phases = ListAttribute(of=UnicodeAttribute, null=True)
    settled_at = UnicodeAttribute(null=True)
    pending_tenant = UnicodeAttribute(null=True)

    pending_async = PendingAsyncIndex()

    @classmethod
    def key(cls, tenant: str, trans_id: str) -> str:
        return keys.trade_key(tenant, trans_id)
