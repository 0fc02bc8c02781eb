"""Paid channel transactions, as the channel notified them: paymentOrderId -> transaction_id,
openid, sub_mchid, amount (model `ChannelTransaction`, item `T#<tenant>#TXN#<payment_order_id>`).

The notice's tenant is its `attach`: the tenant that placed the order, returned unchanged by the
channel (whose signature vouches for the notice). A tenant's subsidies and sharings find only
their own tenant's paid orders, so two tenants may use the same paymentOrderId.

Outcomes of `record`: `recorded` (new), `replayed` (the same notice again: idempotent),
TRANSACTION_CONFLICT (409: another transaction for a known payment_order_id; nothing changes).
A notice is never changed or deleted once filed: a refused write returns the one that was there
first (or, where the endpoint does not return it, a consistent read finds it).
"""
from typing import Optional

from ..dynamo import put_new
from ..logs import log
from ..errors import ErrorCode, PaySettleError
from .messages import TransactionNotification
from .models import ChannelTransaction

IDENTITY = ("payment_order_id", "biz_order_id", "mch_id", "sub_mchid", "transaction_id", "amount")


def record(ctx, notice: TransactionNotification) -> str:
    """File the notice under its own tenant (`attach`), whatever the context's tenant."""
    fields = notice.model_dump()
    tenant = fields.pop("attach")
    item = ChannelTransaction(ChannelTransaction.key(tenant, notice.payment_order_id),
                              tenant=tenant, **fields)
    stored = put_new(item)          # the notice already filed comes back with the refusal
    if stored is not None:
        stored = stored or find_for(ctx, tenant, notice.payment_order_id)
        if stored and all(stored.get(name) == getattr(notice, name) for name in IDENTITY):
            return "replayed"
        log("transaction.conflict", tenant=tenant, payment_order_id=notice.payment_order_id,
            stored=stored and stored.get("transaction_id"), notified=notice.transaction_id)
        raise PaySettleError(ErrorCode.TRANSACTION_CONFLICT, field="payment_order_id",
                             detail=(f"already notified as transaction {stored and stored.get('transaction_id')}"
                                     ", with other fields")) from None
    log("transaction.recorded", tenant=tenant, payment_order_id=notice.payment_order_id,
        transaction_id=notice.transaction_id, amount=notice.amount)
    return "recorded"


def find(ctx, payment_order_id: str) -> Optional[dict]:
    """The caller's tenant's notice of this paid order, or None (another tenant's is none)."""
    return find_for(ctx, ctx.tenant, payment_order_id)


def find_for(ctx, tenant: str, payment_order_id: str) -> Optional[dict]:
    """`tenant`'s notice of this paid order as a plain dict (amount in whole fen), or None."""
    try:
        stored = ChannelTransaction.get(ChannelTransaction.key(tenant, payment_order_id),
                                        consistent_read=True)
    except ChannelTransaction.DoesNotExist:
        return None
    return stored.to_simple_dict()
