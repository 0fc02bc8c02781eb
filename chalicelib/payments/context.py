"""The collaborators of the payment services, passed in rather than imported."""
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from .. import aws, clock
from ..config import settings


@dataclass
class Payments:
    dynamodb: Any
    sqs: Any
    orders_table: str
    ledger_table: str
    credit_queue_url: str
    tenant: str
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


def from_environment() -> Payments:
    config = settings()
    return Payments(
        dynamodb=aws.client("dynamodb"),
        sqs=aws.client("sqs"),
        orders_table=config.orders_table,
        ledger_table=config.ledger_table,
        credit_queue_url=config.credit_queue_url,
        tenant=config.default_merchant,
        credit_grace_seconds=config.credit_grace_seconds,
        aggregator_max_credits=config.aggregator_max_credits,
        sweeper_max_orders=config.sweeper_max_orders,
    )
