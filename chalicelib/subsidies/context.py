"""The collaborators of the subsidy services, passed in rather than imported."""
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Optional

from .. import clock
from ..channel.http_adapter import HttpChannel
from ..config import subsidy_settings
from ..reentry.drive import ReentryStores
from ..reentry.store import new_outbound_no
from ..tenant_keys import TenantScoped

# The sweeper starts no re-send that could end after this many seconds of its run (its Lambda
# has 120 s: .chalice/config.json; tests/packaging checks the margin).
SWEEPER_BUDGET_SECONDS = 100.0
SUBSIDY = "SUBSIDY"
RETURN = "RETURN"


@dataclass
class Subsidies(ReentryStores, TenantScoped):
    # No table name and no DynamoDB client: the subsidies, returns, guards and paid-order
    # notices are read and written through their models, which bind themselves to the stage's
    # SUBSIDIES_TABLE.
    channel: Any                        # chalicelib.channel.port.Channel
    lease_seconds: float = 12
    wait_seconds: float = 1
    retry_after_seconds: float = 30
    sweeper_max_tries: int = 5
    sweeper_max_records: int = 100
    sweeper_budget_seconds: float = SWEEPER_BUDGET_SECONDS
    now: Callable[[], datetime] = clock.utc_now
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    new_outbound_no: Callable[[datetime], str] = new_outbound_no
    poll_seconds: float = 0.05
    # The caller's tenant (for_tenant); None in the sweeper, which acts under each record's own.
    tenant: Optional[str] = None
    _stores: dict = field(default_factory=dict, repr=False)

    @staticmethod
    def record_model(kind: str):
        from .models import Subsidy, SubsidyReturn      # the models load with the first store
        return {SUBSIDY: Subsidy, RETURN: SubsidyReturn}[kind]


_channels: dict = {}


def _channel(url: str, connect: float, read: float) -> HttpChannel:
    # One connection pool per URL and timeouts for the life of the process (a warm Lambda).
    key = (url, connect, read)
    return _channels.get(key) or _channels.setdefault(key, HttpChannel(url, connect, read))


def from_environment() -> Subsidies:
    config = subsidy_settings()
    return Subsidies(
        channel=_channel(config.channel_url, config.channel_connect_timeout,
                         config.channel_read_timeout),
        lease_seconds=config.lease_seconds, wait_seconds=config.wait_seconds,
        retry_after_seconds=config.retry_after_seconds,
        sweeper_max_tries=config.sweeper_max_tries,
        sweeper_max_records=config.sweeper_max_records)
