"""The one place configuration is read.

Everything comes from environment variables (set by the stage in
`.chalice/config.json`, by the CloudFormation template, or by the local stack)
and is read when asked for, never at import time: `chalice.test.Client` and the
local stack set the environment only around a call.
"""
import os
from dataclasses import dataclass

# The largest amount one pay or withdraw may carry: 100,000,000.00 yuan in fen.
MAX_AMOUNT_FEN = 10_000_000_000
# Request bodies larger than this are refused before they are parsed.
MAX_BODY_BYTES = 4096


class MissingSetting(RuntimeError):
    """A required environment variable is not set."""


@dataclass(frozen=True)
class Settings:
    orders_table: str
    ledger_table: str
    credit_queue_url: str
    default_merchant: str
    credit_grace_seconds: int
    aggregator_max_credits: int
    sweeper_max_orders: int


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise MissingSetting(f"environment variable {name} is not set")
    return value


def _integer(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def settings() -> Settings:
    return Settings(
        orders_table=_required("ORDERS_TABLE"),
        ledger_table=_required("LEDGER_TABLE"),
        credit_queue_url=_required("CREDIT_QUEUE_URL"),
        default_merchant=os.environ.get("DEFAULT_MERCHANT", "default"),
        credit_grace_seconds=_integer("CREDIT_GRACE_SECONDS", 120),
        aggregator_max_credits=_integer("AGGREGATOR_MAX_CREDITS", 2000),
        sweeper_max_orders=_integer("SWEEPER_MAX_ORDERS", 5000),
    )
