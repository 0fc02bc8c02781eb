"""A payment world for tests: provisioned resources, the merchant's book, invariant checks.

The merchant's book is the merchant-side truth of the invariants (docs/architecture.md): the final
answer the merchant holds for every request it sent. `check_invariants`
compares the payment side against it: each account's balance equals the sum of
its journal and the merchant's successful pays minus successful withdraws,
each successful pay has exactly one journal entry, each stored order is the
answer the merchant got, and every response id is distinct.
"""
import itertools
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from chalicelib.dynamo import from_item
from chalicelib.payments import accounts, aggregator, service, sweeper
from chalicelib.payments.context import Payments
from chalicelib.payments.keys import ACCOUNT_ENTRY, UNSETTLED_INDEX
from chalicelib.payments.messages import PayRequest, WithdrawRequest
from chalicelib.payments.orders import Kind, Order

from .faults import FaultPlan, FaultyClient
from .tables import reader

REQUEST_TIME = "2024-03-01 10:15:00"
REQUEST_STAMP = "20240301101500"


class RequestIds:
    """20-digit request ids, the first 14 a real yyyyMMddHHmmss; thread-safe."""

    def __init__(self, stamp: str = REQUEST_STAMP):
        self._stamp = stamp
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return f"{self._stamp}{next(self._numbers):06d}"


def pay_request(request_id: str, saler_id: str, amount: int) -> PayRequest:
    return PayRequest(request_time=REQUEST_TIME, request_id=request_id, saler_id=saler_id,
                      total_fee=amount)


def withdraw_request(request_id: str, saler_id: str, amount: int) -> WithdrawRequest:
    return WithdrawRequest(request_time=REQUEST_TIME, request_id=request_id, saler_id=saler_id,
                           withdraw_money=amount)


class MerchantBook:
    """The merchant's final answers, by request id; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.answers: Dict[str, Order] = {}

    def record(self, order: Order) -> None:
        with self._lock:
            known = self.answers.get(order.request_id)
            assert known is None or known == order, (
                f"request {order.request_id} answered twice differently:\n{known}\n{order}")
            self.answers[order.request_id] = order

    def successful(self, kind: Kind) -> List[Order]:
        with self._lock:
            return [o for o in self.answers.values() if o.kind is kind and o.succeeded]

    def truth(self) -> Dict[str, int]:
        """Per saler: successful pays minus successful withdraws."""
        balances: Dict[str, int] = defaultdict(int)
        for order in self.successful(Kind.PAY):
            balances[order.saler_id] += order.amount
        for order in self.successful(Kind.WITHDRAW):
            balances[order.saler_id] -= order.amount
        return dict(balances)


@dataclass
class LedgerState:
    balances: Dict[str, int]                    # saler_id -> balance of the account item
    journal: Dict[str, Dict[str, dict]]         # saler_id -> entry -> journal item

    def journal_sum(self, saler_id: str) -> int:
        return sum(item["amount"] for item in self.journal.get(saler_id, {}).values())


def _scan(client, **request) -> List[dict]:
    items: List[dict] = []
    while True:
        answer = client.scan(**request)
        items += [from_item(item) for item in answer.get("Items", [])]
        if "LastEvaluatedKey" not in answer:
            return items
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def read_ledger(ctx: Payments) -> LedgerState:
    """Every account item and journal entry of the tenant, read strongly consistently."""
    balances: Dict[str, int] = {}
    journal: Dict[str, Dict[str, dict]] = defaultdict(dict)
    prefix = ctx.tenant + "#"
    for item in _scan(reader("LEDGER_TABLE"), TableName=ctx.ledger_table, ConsistentRead=True):
        if not item["account"].startswith(prefix):
            continue
        saler = item["account"][len(prefix):]
        if item["entry"] == ACCOUNT_ENTRY:
            balances[saler] = item.get("balance", 0)
        else:
            journal[saler][item["entry"]] = item
    return LedgerState(balances, dict(journal))


def journal_through_api(ctx: Payments, saler_id: str) -> List[dict]:
    """The account's journal as GET /accounts/{saler_id}/journal pages it."""
    entries, cursor = [], None
    while True:
        page = accounts.journal(ctx, saler_id, "7", cursor)
        entries += page["entries"]
        cursor = page["next_cursor"]
        if not cursor:
            return entries


def read_orders(ctx: Payments) -> Tuple[Dict[str, dict], Dict[str, str]]:
    """The tenant's orders by key, and their response guards (response id -> order key); other
    tenants' records in the same table are left out."""
    orders, guards = {}, {}
    prefix = ctx.tenant + "#"
    for item in _scan(reader("ORDERS_TABLE"), TableName=ctx.orders_table, ConsistentRead=True):
        if item["pk"].startswith("RESPONSE#"):
            if item["order"].startswith(prefix):
                guards[item["pk"][len("RESPONSE#"):]] = item["order"]
        elif item["pk"].startswith(prefix):
            orders[item["pk"]] = item
    return orders, guards


def partition(ctx: Payments, saler_id: str) -> List[dict]:
    """The account's whole ledger partition (account item and journal), strongly consistent."""
    items: List[dict] = []
    request = {"TableName": ctx.ledger_table, "ConsistentRead": True,
               "KeyConditionExpression": "account = :account",
               "ExpressionAttributeValues": {":account": {"S": f"{ctx.tenant}#{saler_id}"}}}
    client = reader("LEDGER_TABLE")
    while True:
        answer = client.query(**request)
        items += [from_item(item) for item in answer.get("Items", [])]
        if "LastEvaluatedKey" not in answer:
            return items
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def unsettled_orders(ctx: Payments) -> List[dict]:
    return _scan(reader("ORDERS_TABLE"), TableName=ctx.orders_table, IndexName=UNSETTLED_INDEX)


def queue_depth(sqs, queue_url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def poll(condition: Callable[[], bool], timeout: float, interval: float = 0.05,
         message: str = "condition") -> None:
    """Bounded polling: the one place these suites wait for time to pass."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not reached within {timeout} s")
        time.sleep(interval)


@dataclass
class SettleReport:
    rounds: int = 0
    aggregator_runs: List[aggregator.AggregatorReport] = field(default_factory=list)
    sweeper_runs: List[sweeper.SweeperReport] = field(default_factory=list)


def settle(ctx: Payments, timeout: float = 60.0) -> SettleReport:
    """Run the sweeper (grace 0) and the aggregator until quiescent.

    Quiescent: the credit queue holds no message (visible, in flight or
    delayed) and no successful pay is still marked unsettled. Messages taken by
    a process that died come back after the queue's visibility timeout, so
    this polls (bounded) rather than running once.
    """
    report = SettleReport()

    def quiescent() -> bool:
        report.rounds += 1
        report.sweeper_runs.append(sweeper.run(ctx, grace_seconds=0))
        report.aggregator_runs.append(aggregator.run(ctx))
        return queue_depth(ctx.sqs, ctx.credit_queue_url) == 0 and not unsettled_orders(ctx)

    poll(quiescent, timeout, interval=0.1, message="quiescence (queue empty, nothing unsettled)")
    return report


class World:
    """Provisioned tables and queues, raw clients, and the merchant who uses them. The raw
    DynamoDB client made the tables; the services reach them only through the models."""

    def __init__(self, dynamodb, sqs, provisioned, tenant: str = "default", **settings):
        self.dynamodb = dynamodb
        self.sqs = sqs
        self.provisioned = provisioned
        self.tenant = tenant
        self.settings = settings
        self.book = MerchantBook()
        self.ids = RequestIds()

    def bound(self, host: Optional[str] = None):
        """A `with` block in which the PynamoDB models use this world's tables (on `host`, if
        given): the services reach DynamoDB only through the models."""
        from chalicelib.data import binding, catalog

        tables = {model.Meta.table_setting: self.provisioned.tables[logical]
                  for logical, models in catalog.models_by_table().items()
                  if logical in self.provisioned.tables for model in models}
        return binding.override(tables, host=host)

    @property
    def queue_url(self) -> str:
        return self.provisioned.queues["CreditQueue"]

    @property
    def dead_letter_url(self) -> str:
        return self.provisioned.queues["CreditDeadLetterQueue"]

    def ctx(self, plan: Optional[FaultPlan] = None, **overrides) -> Payments:
        # The plan reaches the models' DynamoDB calls through their clients' events
        # (tests/support/model_faults.py's `faults_on_models`); the SQS client is proxied here.
        sqs = self.sqs if plan is None else FaultyClient(self.sqs, plan)
        values = dict(self.settings, **overrides)
        values.setdefault("tenant", self.tenant)    # tenant=None: a scheduled run's context
        return Payments(sqs=sqs,
                        orders_table=self.provisioned.tables["OrdersTable"],
                        ledger_table=self.provisioned.tables["LedgerTable"],
                        credit_queue_url=self.queue_url, **values)

    # The merchant: sends a request, keeps the final answer.
    def pay(self, saler_id: str, amount: int, request_id: str = None, ctx: Payments = None) -> Order:
        request = pay_request(request_id or self.ids.next(), saler_id, amount)
        return self.send(request, ctx)

    def withdraw(self, saler_id: str, amount: int, request_id: str = None,
                 ctx: Payments = None) -> Order:
        request = withdraw_request(request_id or self.ids.next(), saler_id, amount)
        return self.send(request, ctx)

    def send(self, request, ctx: Payments = None) -> Order:
        return self.submit(request, ctx).order

    def submit(self, request, ctx: Payments = None) -> service.Outcome:
        """Send a request; the answer (order and whether it was a replay) goes in the book."""
        call = service.pay if isinstance(request, PayRequest) else service.withdraw
        outcome = call(ctx or self.ctx(), request)
        self.book.record(outcome.order)
        return outcome


def check_invariants(world: World, ctx: Payments = None, *, through_api: bool = True,
                     dead_letters: int = 0) -> LedgerState:
    """Payment side == merchant side == journal; returns the ledger read.

    `through_api` also reads each journal the way GET /accounts/{id}/journal
    pages it (the posting-order index) and compares it with the table.
    """
    ctx = ctx or world.ctx()
    ledger = read_ledger(ctx)
    truth = world.book.truth()
    salers = set(truth) | set(ledger.balances) | set(ledger.journal)
    problems = []
    for saler in sorted(salers):
        balance = ledger.balances.get(saler, 0)
        journal_sum = ledger.journal_sum(saler)
        expected = truth.get(saler, 0)
        if not balance == journal_sum == expected:
            problems.append(f"{saler}: balance {balance}, journal sum {journal_sum}, "
                            f"merchant truth {expected}")
        if balance < 0:
            problems.append(f"{saler}: negative balance {balance}")
    # Each successful movement has exactly one journal entry, of its amount; nothing else.
    expected_entries = {}
    for order in world.book.successful(Kind.PAY):
        expected_entries[(order.saler_id, f"PAY#{order.request_id}")] = order.amount
    for order in world.book.successful(Kind.WITHDRAW):
        expected_entries[(order.saler_id, f"WITHDRAW#{order.request_id}")] = -order.amount
    actual_entries = {(saler, entry): item["amount"]
                      for saler, entries in ledger.journal.items() for entry, item in entries.items()}
    if actual_entries != expected_entries:
        missing = sorted(set(expected_entries) - set(actual_entries))
        extra = sorted(set(actual_entries) - set(expected_entries))
        wrong = sorted(k for k in set(expected_entries) & set(actual_entries)
                       if expected_entries[k] != actual_entries[k])
        problems.append(f"journal entries: missing {missing}, unexpected {extra}, wrong amount {wrong}")
    # Stored orders are the answers the merchant holds; response ids are distinct and guarded.
    orders, guards = read_orders(ctx)
    for order in world.book.answers.values():
        stored = orders.get(f"{ctx.tenant}#{order.kind.value}#{order.request_id}")
        if stored is None or Order.from_record(stored) != order:
            problems.append(f"stored order of {order.request_id} is not the merchant's answer: "
                            f"{stored} vs {order}")
    response_ids = Counter(o.response_id for o in world.book.answers.values())
    repeated = [r for r, n in response_ids.items() if n > 1]
    if repeated:
        problems.append(f"response ids answered more than once: {repeated}")
    if len(orders) != len(guards) or set(guards) != {o["response_id"] for o in orders.values()}:
        problems.append(f"{len(orders)} orders but {len(guards)} response guards")
    # A request id names one order of its tenant, pay or withdraw.
    shared = sorted(r for r, n in Counter(o["request_id"] for o in orders.values()).items() if n > 1)
    if shared:
        problems.append(f"request ids naming both a pay and a withdraw: {shared}")
    known = {f"{ctx.tenant}#{o.kind.value}#{o.request_id}" for o in world.book.answers.values()}
    unknown = sorted(set(orders) - known)
    if unknown:
        problems.append(f"orders the merchant never got an answer for: {unknown}")
    if through_api:
        for saler, entries in ledger.journal.items():
            paged = journal_through_api(ctx, saler)
            listed = Counter((e["entry"], e["amount"]) for e in paged)
            stored = Counter((entry, item["amount"]) for entry, item in entries.items())
            if listed != stored:
                problems.append(f"{saler}: journal API lists {sorted(listed.elements())}, "
                                f"table holds {sorted(stored.elements())}")
    parked = queue_depth(ctx.sqs, world.dead_letter_url)
    if parked != dead_letters:
        problems.append(f"{parked} messages in the dead-letter queue, expected {dead_letters}")
    assert not problems, "invariants broken:\n  " + "\n  ".join(problems)
    return ledger


def distinct(values) -> bool:
    values = list(values)
    return len(values) == len(set(values))

