"""OrdersTable: pay and withdraw orders and their response-id guards (hash `pk`).

* `PaymentOrder` (`pk` = "<tenant>#<KIND>#<request_id>"): the order as answered; successful
  orders carry `success_day` (sparse GSI `successful_by_day`), successful pays `unsettled_account`
  until the sweeper has seen their credit journaled (sparse GSI `unsettled`).
* `ResponseGuard` (`pk` = "RESPONSE#<response_id>"): a response id is given out once.
"""
from pynamodb.attributes import UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from ...data.attributes import FenAttribute
from ...data.binding import TableModel
from .. import keys
from ..orders import Kind


class UnsettledIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = keys.UNSETTLED_INDEX
        projection = AllProjection()

    unsettled_account = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class SuccessfulByDayIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = keys.SUCCESSFUL_INDEX
        projection = AllProjection()

    success_day = UnicodeAttribute(hash_key=True)
    response_time = UnicodeAttribute(range_key=True)

    @classmethod
    def key(cls, tenant: str, kind: Kind, day: str) -> str:
        """The partition of the tenant's orders of `kind` answered SUCCESS on `day` (yyyyMMdd)."""
        return keys.success_day_key(tenant, kind, day)


class PaymentOrder(TableModel):
    class Meta:
        table_setting = "ORDERS_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    tenant = UnicodeAttribute()
    request_id = UnicodeAttribute()
    request_time = UnicodeAttribute()
    saler_id = UnicodeAttribute()
    amount = FenAttribute()
    response_id = UnicodeAttribute()
    response_time = UnicodeAttribute()
    response_code = UnicodeAttribute()
    response_msg = UnicodeAttribute()
    created_at = UnicodeAttribute()
    success_day = UnicodeAttribute(null=True)
    unsettled_account = UnicodeAttribute(null=True)

    unsettled = UnsettledIndex()
    successful_by_day = SuccessfulByDayIndex()

    @classmethod
    def key(cls, tenant: str, kind: Kind, request_id: str) -> str:
        return keys.order_key(tenant, kind, request_id)


class ResponseGuard(TableModel):
    class Meta:
        table_setting = "ORDERS_TABLE"
        table_name = None

    pk = UnicodeAttribute(hash_key=True)
    order = UnicodeAttribute()          # the PaymentOrder's pk

    @classmethod
    def key(cls, response_id: str) -> str:
        return keys.response_guard_key(response_id)
