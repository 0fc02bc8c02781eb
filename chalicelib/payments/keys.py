"""How payment records are keyed in DynamoDB (one definition, used by every module)."""
from .orders import Kind

ACCOUNT_ENTRY = "ACCOUNT"             # sort key of the account item in the ledger table
UNSETTLED_INDEX = "unsettled"         # orders GSI: successful pays whose credit is not yet known applied
POSTED_INDEX = "by_posted"            # ledger LSI: an account's journal in posting order
SUCCESSFUL_INDEX = "successful_by_day"  # orders GSI: successful orders by tenant, kind and day


def tenant_part(tenant) -> str:
    """The tenant as the first part of a record key: a service asked to key a record without
    one (a scheduled run's context used for a request) is a bug, never a shared "None#" key."""
    if not isinstance(tenant, str) or not tenant or "#" in tenant:
        raise ValueError(f"a record key needs a tenant, got {tenant!r}")
    return tenant


def order_key(tenant: str, kind: Kind, request_id: str) -> str:
    return f"{tenant_part(tenant)}#{kind.value}#{request_id}"


def response_guard_key(response_id: str) -> str:
    return f"RESPONSE#{response_id}"


def account_key(tenant: str, saler_id: str) -> str:
    return f"{tenant_part(tenant)}#{saler_id}"


def journal_entry(kind: Kind, request_id: str) -> str:
    """The journal entry of an order: its key is the exactly-once guard of that movement."""
    return f"{kind.value}#{request_id}"


def success_day_key(tenant: str, kind: Kind, day: str) -> str:
    """The `successful_by_day` hash key of one day (`yyyyMMdd`): `<tenant>#<KIND>#<yyyyMMdd>`."""
    return f"{tenant_part(tenant)}#{kind.value}#{day}"


def success_day(tenant: str, kind: Kind, response_time: str) -> str:
    """The `successful_by_day` hash key of a successful order: the China-time day of its
    `response_time` (`yyyy-MM-dd HH:mm:ss`)."""
    return success_day_key(tenant, kind, response_time[:10].replace("-", ""))


# -- Sub-accounts and trade settlement (chalicelib/payments/trades) ------------------------
#
# Each sub-account is its own ledger partition with its own balance item and journal:
# sub-account 1 (realtime) IS the core's account partition `<tenant>#<id>`, so every saler
# account of pay/withdraw is sub-account 1 of a B account, unchanged; sub-account 3 (async)
# is `<tenant>#<id>#3`. `#` cannot occur in an account id, so the keys never collide.
REALTIME_SUB_ACCOUNT = 1
ASYNC_SUB_ACCOUNT = 3
SUB_ACCOUNTS = (REALTIME_SUB_ACCOUNT, ASYNC_SUB_ACCOUNT)
# System accounts of the settlement, outside the users' id space ('@' is not allowed in ids).
TRANSIT_ACCOUNT = "@transit"            # money paid, waiting for its async settlement


def channel_clearing_account(channel_id: str) -> str:
    """What a payment channel collected for the platform and owes it (may be negative)."""
    return f"@channel:{channel_id}"


def sub_account_key(tenant: str, account_id: str, sub_account: int) -> str:
    if sub_account == REALTIME_SUB_ACCOUNT:
        return account_key(tenant, account_id)
    return f"{account_key(tenant, account_id)}#{sub_account}"


def trade_key(tenant: str, trans_id: str) -> str:
    return f"{tenant_part(tenant)}#TRADE#{trans_id}"


def trade_entry(trans_id: str, leg: str) -> str:
    """A trade leg's journal entry in one sub-account: the exactly-once guard of that posting."""
    return f"TRADE#{trans_id}#{leg}"
