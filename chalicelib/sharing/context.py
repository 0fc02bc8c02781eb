"""The collaborators of the profit-sharing services, passed in rather than imported."""
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Optional

from .. import clock
from ..config import sharing_settings
from ..reentry.drive import ReentryStores
from ..reentry.store import new_outbound_no
from ..tenant_keys import TenantScoped
from ..subsidies.context import _channel

SHARING = "SHARING"                 # reentry kind: one profit-sharing order per trade
SHARING_RETURN = "SHARING_RETURN"   # reentry kind: one return order per (refund, receiver)
SHARING_UNFREEZE = "SHARING_UNFREEZE"  # reentry kind: one unfreeze per sharing order (unfreezeOrder 2)
# The scheduler starts no channel call that could end after this many seconds of its run
# (its Lambda has 120 s: .chalice/config.json).
SCHEDULER_BUDGET_SECONDS = 100.0


@dataclass
class Sharing(ReentryStores, TenantScoped):
    # No DynamoDB client: the records, guards and relations are read and written through their
    # models, which bind themselves to the stage's tables. `transactions_table` only says whether
    # the stage has the channel's paid-order notices (TXN#...) at all.
    transactions_table: str
    channel: Any                        # chalicelib.channel.port.Channel
    lease_seconds: float = 12
    wait_seconds: float = 1
    retry_after_seconds: float = 30
    follow_after_seconds: float = 5
    # unfreezeOrder 2: the scheduler unfreezes the rest this long after the sharing is final,
    # unless the business line unfroze it first (POST /sharing/orders/{tradeId}/unfreeze).
    unfreeze_after_seconds: float = 86400
    scheduler_max_records: int = 100
    scheduler_max_tries: int = 5
    # A refund sent over HTTP (API Gateway gives 29 s) or from the queue (a 20 s Lambda) starts no
    # return call that could end after this; the rest is continued by the scheduler.
    request_budget_seconds: float = 15.0
    scheduler_budget_seconds: float = SCHEDULER_BUDGET_SECONDS
    now: Callable[[], datetime] = clock.utc_now
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    new_outbound_no: Callable[[datetime], str] = new_outbound_no
    poll_seconds: float = 0.05
    # The caller's tenant (for_tenant); None in the scheduler, which acts under each record's own.
    tenant: Optional[str] = None
    _stores: dict = field(default_factory=dict, repr=False)

    @staticmethod
    def record_model(kind: str):
        from .models import SharingRecord, SharingReturn, SharingUnfreeze   # loaded at first use
        return {SHARING: SharingRecord, SHARING_RETURN: SharingReturn,
                SHARING_UNFREEZE: SharingUnfreeze}[kind]


def from_environment() -> Sharing:
    config = sharing_settings()
    return Sharing(
        transactions_table=config.transactions_table,
        channel=_channel(config.channel_url, config.channel_connect_timeout,
                         config.channel_read_timeout),
        lease_seconds=config.lease_seconds, wait_seconds=config.wait_seconds,
        retry_after_seconds=config.retry_after_seconds,
        follow_after_seconds=config.follow_after_seconds,
        unfreeze_after_seconds=config.unfreeze_after_seconds,
        scheduler_max_records=config.scheduler_max_records,
        scheduler_max_tries=config.scheduler_max_tries)
