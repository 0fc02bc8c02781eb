"""How payment records are keyed in DynamoDB (one definition, used by every module)."""
from .orders import Kind

ACCOUNT_ENTRY = "ACCOUNT"             # sort key of the account item in the ledger table
UNSETTLED_INDEX = "unsettled"         # orders GSI: successful pays whose credit is not yet known applied
POSTED_INDEX = "by_posted"            # ledger LSI: an account's journal in posting order
SUCCESSFUL_INDEX = "successful_by_day"  # orders GSI: successful orders by tenant, kind and day


def order_key(tenant: str, kind: Kind, request_id: str) -> str:
    return f"{tenant}#{kind.value}#{request_id}"


def response_guard_key(response_id: str) -> str:
    return f"RESPONSE#{response_id}"


def account_key(tenant: str, saler_id: str) -> str:
    return f"{tenant}#{saler_id}"


def journal_entry(kind: Kind, request_id: str) -> str:
    """The journal entry of an order: its key is the exactly-once guard of that movement."""
    return f"{kind.value}#{request_id}"


def success_day_key(tenant: str, kind: Kind, day: str) -> str:
    """The `successful_by_day` hash key of one day (`yyyyMMdd`): `<tenant>#<KIND>#<yyyyMMdd>`."""
    return f"{tenant}#{kind.value}#{day}"


def success_day(tenant: str, kind: Kind, response_time: str) -> str:
    """The `successful_by_day` hash key of a successful order: the China-time day of its
    `response_time` (`yyyy-MM-dd HH:mm:ss`)."""
    return success_day_key(tenant, kind, response_time[:10].replace("-", ""))
