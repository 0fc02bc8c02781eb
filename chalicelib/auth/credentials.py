"""Who may call: every caller's credential, read from the CallerCredentials secret.

SecretString: {"callers": {"<key_id>": {"secret", "merchant_id", "roles", "salers", "sub_mchs",
"accounts"}}}.

`merchant_id` is the key's tenant: every record a request of this key writes or reads is keyed
under it, and several keys (a merchant system, a business line) may share one. It is part of
every record key, so it is 1-64 characters of A-Z a-z 0-9 _ - . ; an entry with any other
merchant_id is left out. A key without one (the payment channel's) belongs to no tenant: it
may call the channel's routes and nothing that reads or writes a tenant's records.

Within its tenant a key may name any saler or account. A scope (`salers`, `sub_mchs`,
`accounts`) only narrows that: when present it is a list of patterns, an exact id or a prefix
ending in one `*` ("*" alone matches everything); a present list that is empty or malformed
matches nothing (a typo in the secret must narrow access, never widen it). An absent scope
does not narrow.

The secret is read through a per-process cache: one Secrets Manager call per
CALLER_CREDENTIALS_CACHE_SECONDS, not one per request. A key id the cache does not know
forces a re-read (a merchant onboarded a moment ago), but at most once per
UNKNOWN_KEY_REFRESH_SECONDS, so a flood of made-up key ids cannot turn into a flood of
GetSecretValue calls. Secrets are never logged, nor shown by repr.
"""
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, Iterable, Mapping, Optional, Tuple

from .. import aws
from ..config import TENANT_PATTERN, auth_settings, caller_credentials_secret
from ..logs import log

MERCHANT = "merchant"
BUSINESS_LINE = "business_line"
CHANNEL = "channel"
ROLES = (MERCHANT, BUSINESS_LINE, CHANNEL)

SALERS = "salers"           # pay / withdraw saler_id, GET /accounts/{saler_id}
SUB_MCHS = "sub_mchs"       # subsidies' and refunds' subMchId
ACCOUNTS = "accounts"       # trade settlement's account_id, buyer_id, seller_id
SCOPES = (SALERS, SUB_MCHS, ACCOUNTS)

UNKNOWN_KEY_REFRESH_SECONDS = 5


@dataclass(frozen=True)
class Credential:
    key_id: str
    secret: str = field(repr=False)
    merchant_id: str                                # the tenant; "" for a tenant-less key
    roles: FrozenSet[str]
    scopes: Mapping[str, Optional[Tuple[str, ...]]]  # None: the scope does not narrow


def pattern_matches(pattern: str, subject: str) -> bool:
    """An exact id, or a prefix and one trailing `*`; any other `*` matches nothing (a typo in
    the secret must narrow access, never widen it)."""
    if pattern.endswith("*") and "*" not in pattern[:-1]:
        return subject.startswith(pattern[:-1])
    return "*" not in pattern and pattern == subject


def in_scope(patterns: Iterable[str], subject: str) -> bool:
    return any(pattern_matches(pattern, subject) for pattern in patterns)


def _strings(value) -> Tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str) and item)


def _scope(entry: dict, scope: str) -> Optional[Tuple[str, ...]]:
    """None when the entry does not name the scope (no narrowing), else its patterns."""
    if entry.get(scope) is None:
        return None
    return _strings(entry.get(scope))


def parse(text: str) -> Dict[str, Credential]:
    """The credentials of a SecretString. An entry without a usable secret is left out (logged
    by key id), so one bad entry cannot lock every other caller out."""
    callers = json.loads(text).get("callers") or {}
    found: Dict[str, Credential] = {}
    for key_id, entry in callers.items():
        secret = entry.get("secret") if isinstance(entry, dict) else None
        if not isinstance(secret, str) or not secret:
            log("auth.credential_skipped", key_id=str(key_id)[:64])
            continue
        merchant_id = entry.get("merchant_id") or ""
        if merchant_id and not (isinstance(merchant_id, str) and TENANT_PATTERN.fullmatch(merchant_id)):
            log("auth.credential_skipped", key_id=str(key_id)[:64], reason="merchant_id")
            continue
        found[key_id] = Credential(
            key_id=key_id, secret=secret, merchant_id=merchant_id,
            roles=frozenset(role for role in _strings(entry.get("roles")) if role in ROLES),
            scopes={scope: _scope(entry, scope) for scope in SCOPES})
    return found


class CredentialCache:
    """The parsed secret, re-read after `ttl_seconds`; thread-safe (chalice local serves
    requests on threads)."""

    def __init__(self, read: Callable[[], str], ttl_seconds: float,
                 clock: Callable[[], float] = time.monotonic):
        self._read = read
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._credentials: Dict[str, Credential] = {}
        self._read_at: Optional[float] = None

    def _refresh(self, now: float) -> None:
        self._credentials = parse(self._read())
        self._read_at = now

    def find(self, key_id: str) -> Optional[Credential]:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._ttl:
                self._refresh(now)
            found = self._credentials.get(key_id)
            if found is None and now - self._read_at >= UNKNOWN_KEY_REFRESH_SECONDS:
                self._refresh(now)
                found = self._credentials.get(key_id)
            return found


_caches: Dict[Tuple[str, int], CredentialCache] = {}
_caches_lock = threading.Lock()


def _reader(secret_id: str) -> Callable[[], str]:
    return lambda: aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]


def find(key_id: str) -> Optional[Credential]:
    """The credential of `key_id` in the configured secret, or None."""
    settings = auth_settings()
    cache_key = (settings.credentials_secret, settings.cache_seconds)
    with _caches_lock:
        cache = _caches.get(cache_key)
        if cache is None:
            cache = _caches[cache_key] = CredentialCache(_reader(settings.credentials_secret),
                                                         settings.cache_seconds)
    return cache.find(key_id)


def reset() -> None:
    """Forget every cached secret (tests, between AWS fakes)."""
    with _caches_lock:
        _caches.clear()


def tenants(credentials: Iterable[Credential]) -> Tuple[str, ...]:
    """Every tenant that holds at least one key, sorted."""
    return tuple(sorted({c.merchant_id for c in credentials if c.merchant_id}))


def all_tenants() -> Tuple[str, ...]:
    """The tenants of the configured secret, read now (not from the cache: a scheduled run is
    rare, and must see a tenant onboarded a moment ago)."""
    return tenants(parse(_reader(caller_credentials_secret())()).values())
