"""Who may call: every caller's credential, read from the CallerCredentials secret.

SecretString: {"callers": {"<key_id>": {"secret", "merchant_id", "roles", "salers", "sub_mchs",
"accounts"}}}. A scope is a list of patterns: an exact id, or a prefix ending in one `*` ("*"
alone matches everything, for platform-level callers). A missing list matches nothing.

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
from ..config import auth_settings
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
    merchant_id: str
    roles: FrozenSet[str]
    scopes: Mapping[str, Tuple[str, ...]]


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
        found[key_id] = Credential(
            key_id=key_id, secret=secret, merchant_id=str(entry.get("merchant_id") or ""),
            roles=frozenset(role for role in _strings(entry.get("roles")) if role in ROLES),
            scopes={scope: _strings(entry.get(scope)) for scope in SCOPES})
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
