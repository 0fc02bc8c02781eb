"""MerchantOrdersTable (hash `request_id`): the merchant's orders and idempotency keys.

* `MerchantOrderItem`: one order; sparse GSIs `unresolved` (INIT/UNKNOWN orders by kind) and
  `successful_by_day` (SUCCESS orders by kind and day), written from the order's own state.
* `IdempotencyGuard` (`request_id` = "IDEMPOTENCY#<key>"): the caller's key, naming its order.
"""
from pynamodb.attributes import UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.data.attributes import FenAttribute, WholeNumberAttribute
from chalicelib.data.binding import TableModel
from .orders import SUCCESSFUL_BY_DAY_INDEX, UNRESOLVED_INDEX


class UnresolvedIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = UNRESOLVED_INDEX
        projection = AllProjection()

    unresolved_kind = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class SuccessfulByDayIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = SUCCESSFUL_BY_DAY_INDEX
        projection = AllProjection()

    success_day = UnicodeAttribute(hash_key=True)
    response_time = UnicodeAttribute(range_key=True)


class MerchantOrderItem(TableModel):
    class Meta:
        table_setting = "MERCHANT_ORDERS_TABLE"
        table_name = None

    request_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    request_time = UnicodeAttribute()
    saler_id = UnicodeAttribute()
    amount = FenAttribute()
    state = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    attempts = WholeNumberAttribute(default=0)
    response_id = UnicodeAttribute(null=True)
    response_time = UnicodeAttribute(null=True)
    response_code = UnicodeAttribute(null=True)
    response_msg = UnicodeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    unresolved_kind = UnicodeAttribute(null=True)
    success_day = UnicodeAttribute(null=True)

    unresolved = UnresolvedIndex()
    successful_by_day = SuccessfulByDayIndex()

    @classmethod
    def key(cls, request_id: str) -> str:
        return request_id


class IdempotencyGuard(TableModel):
    class Meta:
        table_setting = "MERCHANT_ORDERS_TABLE"
        table_name = None

    request_id = UnicodeAttribute(hash_key=True)
    order_request_id = UnicodeAttribute()
    created_at = UnicodeAttribute()

    @classmethod
    def key(cls, idempotency_key: str) -> str:
        from .repository import key_guard
        return key_guard(idempotency_key)
