"""The local stack's callers and their credentials (the issue-8 contract's "Local callers").

Every start draws fresh secrets: a key that outlives one stack could be copied into a
script or a commit and then work against the next stack too. Nothing here is ever
written to the repository; the stack lists the credentials in its manifest (out/, not
committed) and seeds them into the embedded AWS.
"""
import json
import secrets
from typing import Dict, List

# Who may do what locally. mch-demo is the one merchant system of the local stack: it owns
# every saler the tests and `make run` invent. mch-other owns only salers starting "other",
# so acting on anyone else's is the 403 the tests look for.
LOCAL_CALLERS = (
    {"key_id": "mch-demo", "merchant_id": "mch-demo", "roles": ["merchant"],
     "salers": ["*"], "sub_mchs": [], "accounts": []},
    {"key_id": "mch-other", "merchant_id": "mch-other", "roles": ["merchant"],
     "salers": ["other*"], "sub_mchs": [], "accounts": []},
    {"key_id": "biz-demo", "merchant_id": "biz-demo", "roles": ["business_line"],
     "salers": [], "sub_mchs": ["*"], "accounts": ["*"]},
    {"key_id": "channel-sim", "merchant_id": "channel-sim", "roles": ["channel"],
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
