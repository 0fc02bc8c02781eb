"""The collaborators of trade settlement, passed in rather than imported."""
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

from ... import clock
from ...config import trade_settings


@dataclass
class Trades:
    # Settlement reads and writes only through the models (the trade, the account registry's
    # accounts, the balances and the journal), which bind themselves to the stage's TRADES_TABLE
    # and LEDGER_TABLE: no table name and no DynamoDB client here.
    # The signed caller's tenant; None for the applier, which works across every tenant (each
    # trade carries its own).
    tenant: Optional[str]
    now: Callable[[], datetime] = clock.utc_now
    sleep: Callable[[float], None] = time.sleep


def from_environment(tenant: Optional[str] = None) -> Trades:
    # A stage that names no trades or ledger table fails here, before any request is read.
    trade_settings()
    return Trades(tenant=tenant)
