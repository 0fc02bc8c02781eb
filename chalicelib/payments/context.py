"""The collaborators of the payment services, passed in rather than imported."""
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Optional

from .. import aws, clock
from ..config import settings


@dataclass
class Payments:
    # No DynamoDB client: every read and write goes through the PynamoDB models, which bind
    # themselves to the stage's tables (`orders_table` and `ledger_table` name the same ones).
    sqs: Any
    orders_table: str
    ledger_table: str
    credit_queue_url: str
    # The signed caller's tenant: every record a request writes or reads is keyed under it.
    # None for the scheduled functions, which work across every tenant (each credit and order
    # carries its own).
    tenant: Optional[str]
    now: Callable[[], datetime] = clock.utc_now
    new_response_id: Callable[[datetime], str] = clock.new_response_id
    credit_grace_seconds: int = 120
    aggregator_max_credits: int = 2000
    sweeper_max_orders: int = 5000
    sleep: Callable[[float], None] = field(default=None)

    def __post_init__(self):
        if self.sleep is None:
            import time
            self.sleep = time.sleep


def from_environment(tenant: Optional[str] = None) -> Payments:
    """The services' collaborators for one request of `tenant` (the caller's), or, without a
    tenant, for a scheduled run across every tenant."""
    config = settings()
    return Payments(
        sqs=aws.client("sqs"),
        orders_table=config.orders_table,
        ledger_table=config.ledger_table,
        credit_queue_url=config.credit_queue_url,
        tenant=tenant,
        credit_grace_seconds=config.credit_grace_seconds,
        aggregator_max_credits=config.aggregator_max_credits,
        sweeper_max_orders=config.sweeper_max_orders,
    )
