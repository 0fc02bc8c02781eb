"""The collaborators of the merchant services, passed in rather than imported."""
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from chalicelib import clock
from chalicelib.config import merchant_settings
from .payment_client import PaymentApi
from .signing_key import SecretsManagerKey
from .repository import MerchantOrders
from .request_ids import new_request_id

# An INIT order is taken for stranded (its sender died) once it is this much older
# than the call timeout: a live sender has given up by then and recorded UNKNOWN.
STRANDED_MARGIN_SECONDS = 1.0
# The resolver starts no re-send that could end after this many seconds of its run
# (its Lambda has 60 s: .chalice/config.json).
RESOLVER_BUDGET_SECONDS = 45.0


@dataclass
class Merchant:
    orders: MerchantOrders
    payment: PaymentApi
    now: Callable[[], datetime] = clock.utc_now
    new_request_id: Callable[[datetime], str] = new_request_id
    resolve_after_seconds: float = 60
    resolver_max_orders: int = 100
    resolver_budget_seconds: float = RESOLVER_BUDGET_SECONDS
    monotonic: Callable[[], float] = time.monotonic

    @property
    def stranded_after_seconds(self) -> float:
        return self.payment.timeout_seconds + STRANDED_MARGIN_SECONDS


_payment_apis: dict = {}


def _payment_api(url: str, timeout: float, secret_id: str, cache_seconds: float) -> PaymentApi:
    # One connection pool and one cached signing key per setting for the life of the
    # process (a warm Lambda): the secret is read once, not once per payment.
    key = (url, timeout, secret_id, cache_seconds)
    found = _payment_apis.get(key)
    if found is None:
        found = _payment_apis.setdefault(
            key, PaymentApi(url, timeout, SecretsManagerKey(secret_id, cache_seconds)))
    return found


def from_environment() -> Merchant:
    config = merchant_settings()
    return Merchant(
        orders=MerchantOrders(),        # its models read the table config.orders_table names
        payment=_payment_api(config.payment_api_url, config.payment_timeout_seconds,
                             config.signing_secret_id, config.signing_key_cache_seconds),
        resolve_after_seconds=config.resolve_after_seconds,
        resolver_max_orders=config.resolver_max_orders,
    )
