"""The collaborators of trade settlement, passed in rather than imported."""
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Optional

from ... import aws, clock
from ...config import trade_settings


@dataclass
class Trades:
    # Settlement reads and writes only through the models (the trade, the account registry's
    # accounts, the balances and the journal), which bind themselves to the stage's TRADES_TABLE
    # and LEDGER_TABLE; `trades_table` and `ledger_table` name the same tables, and `dynamodb`
    # is a boto3 client on them for the callers that inspect them directly.
    dynamodb: Any
    trades_table: str
    ledger_table: str
    # The signed caller's tenant; None for the applier, which works across every tenant (each
    # trade carries its own).
    tenant: Optional[str]
    now: Callable[[], datetime] = clock.utc_now
    sleep: Callable[[float], None] = time.sleep


def from_environment(tenant: Optional[str] = None) -> Trades:
    config = trade_settings()
    return Trades(dynamodb=aws.client("dynamodb"), trades_table=config.trades_table,
                  ledger_table=config.ledger_table, tenant=tenant)
