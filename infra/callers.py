"""The local stack's callers and their credentials.

Every start draws fresh secrets: a key that outlives one stack could be copied into a
script or a commit and then work against the next stack too. Nothing here is ever
written to the repository; the stack lists the credentials in its manifest (out/, not
committed) and seeds them into the embedded AWS.
"""
import json
import secrets
from typing import Dict, List

# Who may do what locally. Two tenants (merchant_id): `demo`, whose merchant system (mch-demo)
# and business line (biz-demo) share its records, and `other`, a second merchant (mch-other)
# that uses the same saler ids and request ids and never sees, blocks or moves demo's money.
# Within its tenant a key may name any saler or account ("*"). The channel's key belongs to no
# tenant (merchant_id null): it may call the channel's notification routes only.
LOCAL_CALLERS = (
    {"key_id": "mch-demo", "merchant_id": "demo", "roles": ["merchant"],
     "salers": ["*"], "sub_mchs": [], "accounts": []},
    {"key_id": "mch-other", "merchant_id": "other", "roles": ["merchant"],
     "salers": ["*"], "sub_mchs": [], "accounts": []},
    {"key_id": "biz-demo", "merchant_id": "demo", "roles": ["business_line"],
     "salers": [], "sub_mchs": ["*"], "accounts": ["*"]},
    {"key_id": "channel-sim", "merchant_id": None, "roles": ["channel"],
     "salers": [], "sub_mchs": [], "accounts": []},
)
MERCHANT_SYSTEM_KEY = "mch-demo"    # the simulated merchant system (merchant_system/vendor/merchantlib) signs as it
CHANNEL_KEY = "channel-sim"         # the channel simulator signs its notifications as it

# Template logical ids of the two secrets (infra/resources.json); the template gives the
# functions their ARNs (CALLER_CREDENTIALS_SECRET, MERCHANT_SIGNING_SECRET).
CALLER_CREDENTIALS = "CallerCredentials"
MERCHANT_SIGNING_KEY = "MerchantSigningKey"


def new_credentials() -> List[dict]:
    """The local callers, each with a fresh 256-bit secret (64 hex characters)."""
    return [dict(caller, secret=secrets.token_hex(32)) for caller in LOCAL_CALLERS]


def by_key_id(credentials: List[dict]) -> Dict[str, dict]:
    return {credential["key_id"]: credential for credential in credentials}


def caller_credentials_secret(credentials: List[dict]) -> str:
    """The SecretString of CallerCredentials: what the center verifies against."""
    return json.dumps({"callers": {
        c["key_id"]: {name: c[name] for name in ("secret", "merchant_id", "roles", "salers",
                                                 "sub_mchs", "accounts")}
        for c in credentials}})


def signing_key_secret(credential: dict) -> str:
    """The SecretString of MerchantSigningKey: one caller's key id and secret."""
    return json.dumps({"key_id": credential["key_id"], "secret": credential["secret"]})
