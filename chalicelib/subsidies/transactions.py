"""Paid channel transactions, as the channel notified them: paymentOrderId -> transaction_id,
openid, sub_mchid, amount (item `T#<tenant>#TXN#<payment_order_id>`).

The notice's tenant is its `attach`: the tenant that placed the order, returned unchanged by the
channel (whose signature vouches for the notice). A tenant's subsidies and sharings find only
their own tenant's paid orders, so two tenants may use the same paymentOrderId.

Outcomes of `record`: `recorded` (new), `replayed` (the same notice again: idempotent),
TRANSACTION_CONFLICT (409: another transaction for a known payment_order_id; nothing changes).
"""
from typing import Optional

from botocore.exceptions import ClientError

from ..dynamo import condition_failed, from_item, to_item
from ..errors import ErrorCode, PaySettleError
from ..logs import log
from ..tenant_keys import key
from .context import Subsidies
from .messages import TransactionNotification

IDENTITY = ("payment_order_id", "biz_order_id", "mch_id", "sub_mchid", "transaction_id", "amount")


def transaction_key(tenant: str, payment_order_id: str) -> str:
    return key(tenant, "TXN", payment_order_id)


def record(ctx: Subsidies, notice: TransactionNotification) -> str:
    """File the notice under its own tenant (`attach`), whatever the context's tenant."""
    item = {"pk": transaction_key(notice.attach, notice.payment_order_id),
            "tenant": notice.attach, **notice.model_dump()}
    try:
        ctx.dynamodb.put_item(TableName=ctx.table, Item=to_item(item),
                              ConditionExpression="attribute_not_exists(pk)",
                              ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as error:
        if not condition_failed(error):
            raise
        old = error.response.get("Item")
        stored = from_item(old) if old else find_for(ctx, notice.attach, notice.payment_order_id)
        if stored and all(stored.get(name) == item[name] for name in IDENTITY):
            return "replayed"
        log("transaction.conflict", tenant=notice.attach, payment_order_id=notice.payment_order_id,
            stored=stored and stored.get("transaction_id"), notified=notice.transaction_id)
        raise PaySettleError(ErrorCode.TRANSACTION_CONFLICT, field="payment_order_id",
                             detail=(f"already notified as transaction {stored and stored.get('transaction_id')}"
                                     ", with other fields")) from None
    log("transaction.recorded", tenant=notice.attach, payment_order_id=notice.payment_order_id,
        transaction_id=notice.transaction_id, amount=notice.amount)
    return "recorded"


def find(ctx: Subsidies, payment_order_id: str) -> Optional[dict]:
    """The caller's tenant's notice of this paid order, or None (another tenant's is none)."""
    return find_for(ctx, ctx.tenant, payment_order_id)


def find_for(ctx, tenant: str, payment_order_id: str, table: Optional[str] = None) -> Optional[dict]:
    answer = ctx.dynamodb.get_item(TableName=table or ctx.table, ConsistentRead=True,
                                   Key=to_item({"pk": transaction_key(tenant, payment_order_id)}))
    item = answer.get("Item")
    return from_item(item) if item else None
