"""Record keys under a tenant, for the marketing-subsidy and profit-sharing records.

The tenant of a request is the signed caller's `merchant_id`. Every record those services write
is keyed `T#<tenant>#<KIND>#<ids...>`, so two tenants may use the same business ids (a
bizSubsidiesId, a paymentOrderId, a tradeId, a refundId) without blocking or seeing each other:
a key of one tenant can never name a record of another. The tenant is percent-encoded in the
key (`#` and `%` included), so no tenant id can reach into another tenant's key space.

Records read back by the scheduled functions carry their tenant (the `tenant` attribute and
the prefix of their key); those functions act on each record under its own tenant.
"""
import dataclasses
from typing import Optional
from urllib.parse import quote

from .errors import ErrorCode, PaySettleError

PREFIX = "T"


def key(tenant: Optional[str], *parts: str) -> str:
    """`T#<tenant>#<part>#<part>...`; a record without a tenant has no key."""
    if not tenant:
        raise ValueError("a tenant-scoped key needs a tenant")
    return "#".join((PREFIX, quote(tenant, safe=""), *parts))


def tenant_of(caller) -> str:
    """The tenant of a verified caller (its credential's merchant_id). A key that belongs to
    no tenant (the channel's own key) reaches no tenant's records."""
    tenant = getattr(caller, "merchant_id", "") or ""
    if not tenant:
        raise PaySettleError(ErrorCode.ROLE_NOT_ALLOWED, detail="this key belongs to no tenant")
    return tenant


class TenantScoped:
    """For a service's context dataclass with a `tenant` field (None for the scheduled
    functions, which take each record's own tenant)."""

    def for_tenant(self, tenant: str):
        if not tenant:
            raise ValueError("a request context needs a tenant")
        return dataclasses.replace(self, tenant=tenant)

    def key(self, *parts: str) -> str:
        return key(self.tenant, *parts)
