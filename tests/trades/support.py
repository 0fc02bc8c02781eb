"""Helpers of the trade-settlement tests: accounts, funding through the payment core, ledger reads."""
import itertools
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from chalicelib.dynamo import from_item
from chalicelib.payments import aggregator, registry, service
from chalicelib.payments.context import Payments
from chalicelib.payments.keys import ACCOUNT_ENTRY
from chalicelib.payments.messages import PayRequest
from chalicelib.payments.trades import applier, service as trades
from chalicelib.payments.trades.context import Trades
from chalicelib.payments.trades.messages import PayTradeRequest, TradeRequest
from tests.support.tables import reader

_serial = itertools.count(1)


def new_trans_id() -> str:
    return f"20240301101500{next(_serial) % 1_000_000:06d}"


Key = Tuple[str, int]       # (account_id, sub_account)


@dataclass
class Ledger:
    balances: Dict[Key, int]
    journal: Dict[Key, Dict[str, dict]]

    def balance(self, account_id: str, sub: int = 1) -> int:
        return self.balances.get((account_id, sub), 0)

    def trade_entries(self, trans_id: str) -> List[dict]:
        return [e for entries in self.journal.values() for name, e in entries.items()
                if name.startswith(f"TRADE#{trans_id}#")]


def _key_of(tenant: str, partition: str) -> Key:
    rest = partition[len(tenant) + 1:]
    account, _, sub = rest.partition("#")
    return account, int(sub) if sub else 1


class Book:
    """One tenant's accounts and trades, driven through the services (the HTTP tests use the API)."""

    def __init__(self, payments: Payments, trades_ctx: Trades):
        self.payments = payments
        self.ctx = trades_ctx

    def declare(self, account_id: str, kind: str = "B", status: str = "NORMAL") -> None:
        registry.declare(self.ctx.tenant, account_id, kind, status, "CNY", self.ctx.now)

    def fund(self, account_id: str, amount: int) -> None:
        """A pay through the payment core, credited by the aggregator: sub-account 1."""
        service.pay(self.payments, PayRequest(
            request_time="2024-03-01 10:15:00", request_id=new_trans_id(), saler_id=account_id,
            total_fee=amount))
        aggregator.run(self.payments)

    def trade(self, cash: int = 10_000, settlement: str = "REALTIME", mode: str = "BALANCE",
              buyer: str = "buyer", seller: str = "seller", trans_id: Optional[str] = None,
              **stored) -> str:
        trans_id = trans_id or new_trans_id()
        trades.record_trade(self.ctx, TradeRequest(
            trans_id=trans_id, buyer_id=buyer, seller_id=seller, cash_amount=cash,
            settlement_type=settlement, payment_mode=mode, **stored))
        return trans_id

    def pay(self, trans_id: str, **inputs) -> dict:
        return trades.pay_trade(self.ctx, trans_id, PayTradeRequest(**inputs))

    def apply(self) -> applier.ApplierReport:
        return applier.run(self.ctx)

    def read(self) -> Ledger:
        balances: Dict[Key, int] = {}
        journal: Dict[Key, Dict[str, dict]] = defaultdict(dict)
        # Only what the checks read: the whole ledger is scanned twice per property example, and
        # moto's cost is in serialising every attribute of every item it returns.
        names = ("account", "entry", "balance", "amount", "phase", "leg")
        request = {"TableName": self.payments.ledger_table, "ConsistentRead": True,
                   "ProjectionExpression": ", ".join(f"#{n}" for n in names),
                   "ExpressionAttributeNames": {f"#{n}": n for n in names}}
        client = reader("LEDGER_TABLE")
        while True:
            answer = client.scan(**request)
            for item in map(from_item, answer.get("Items", [])):
                key = _key_of(self.ctx.tenant, item["account"])
                if item["entry"] == ACCOUNT_ENTRY:
                    balances[key] = item.get("balance", 0)
                else:
                    journal[key][item["entry"]] = item
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return Ledger(balances, dict(journal))


def movements(before: Ledger, after: Ledger) -> Dict[Key, int]:
    """Every (account, sub-account) whose balance changed, by how much."""
    keys = set(before.balances) | set(after.balances)
    moved = {k: after.balances.get(k, 0) - before.balances.get(k, 0) for k in keys}
    return {k: v for k, v in moved.items() if v}


def assert_journal_matches_balances(ledger: Ledger) -> None:
    for key, balance in ledger.balances.items():
        total = sum(e["amount"] for e in ledger.journal.get(key, {}).values())
        assert balance == total, f"{key}: balance {balance}, journal {total}"
        if not key[0].startswith("@channel:"):
            assert balance >= 0, f"{key}: negative balance {balance}"
