"""The merchant system's own credential for signing its calls to the payment API.

It lives in a Secrets Manager secret (the template's `MerchantSigningKey`, env
MERCHANT_SIGNING_SECRET) as `{"key_id": "...", "secret": "..."}`. It is read on the first
call that needs it, never at import time, and kept for `cache_seconds`: one read per warm
Lambda instead of one per payment, and a rotated key is picked up without a redeploy.
The secret never appears in a log line or a repr.
"""
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from chalicelib import aws


class SigningKeyUnavailable(RuntimeError):
    """The secret could not be read or does not hold a key id and a secret."""


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: str = field(repr=False)


class SecretsManagerKey:
    """`key()` -> the current SigningKey; thread-safe (the handler's threads share it)."""

    def __init__(self, secret_id: str, cache_seconds: float = 300,
                 client: Optional[Callable[[], object]] = None,
                 monotonic: Callable[[], float] = time.monotonic):
        self.secret_id = secret_id
        self.cache_seconds = cache_seconds
        # A factory, so no boto3 client exists until the first signed call.
        self._client = client or (lambda: aws.client("secretsmanager"))
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._key: Optional[SigningKey] = None
        self._read_at = 0.0

    def key(self) -> SigningKey:
        with self._lock:
            fresh = self._key is not None and self._monotonic() - self._read_at < self.cache_seconds
            if not fresh:
                self._key = self._read()
                self._read_at = self._monotonic()
            return self._key

    def forget(self) -> None:
        """Read the secret again on the next call (the payment API refused our signature)."""
        with self._lock:
            self._key = None

    def _read(self) -> SigningKey:
        try:
            raw = self._client().get_secret_value(SecretId=self.secret_id)["SecretString"]
            value = json.loads(raw)
            key = SigningKey(key_id=value["key_id"], secret=value["secret"])
        except Exception as error:  # noqa: BLE001 - every failure reads the same to the caller
            # The type only: a parsing error's text could quote the secret.
            raise SigningKeyUnavailable(
                f"merchant signing key {self.secret_id}: {type(error).__name__}") from None
        if not (isinstance(key.key_id, str) and key.key_id and isinstance(key.secret, str) and key.secret):
            raise SigningKeyUnavailable(f"merchant signing key {self.secret_id}: empty key_id or secret")
        return key

    def __repr__(self) -> str:
        return f"SecretsManagerKey({self.secret_id!r})"
