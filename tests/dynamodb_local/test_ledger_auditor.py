"""The ledger auditor against DynamoDB Local while two tenants' pays, withdraws and aggregator
runs land from many threads: never a false difference; afterwards the books it reads are the
merchants' own; a balance corrupted on purpose is caught."""
import random
import threading

import pytest

from chalicelib.payments import aggregator, auditor
from tests.support.concurrency import THREADS, AggregatorLoops, Merchant, run_concurrently
from tests.support.world import World, pay_request, settle, withdraw_request

pytestmark = pytest.mark.dynamodb_local
MAX_ROUNDS = 12


class AuditorLoop:
    """Audits the whole ledger back to back, from its own thread, until stopped."""

    def __init__(self):
        self.reports = []
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ledger-auditor", daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            try:
                self.reports.append(auditor.audit(page_size=50))
            except Exception as error:  # noqa: BLE001 - surfaced by __exit__
                self.errors.append(error)
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=120)
        assert not self._thread.is_alive(), "the auditor loop did not stop"
        assert not self.errors, f"audits failed: {self.errors!r}"


def _second_tenant(world: World) -> World:
    return World(world.dynamodb, world.sqs, world.provisioned, tenant="m2")


def test_no_false_difference_while_two_tenants_pay_withdraw_and_get_credited(
        world, models, contention, request):
    other = _second_tenant(world)
    worlds = {"default": world, "m2": other}
    on_busy = lambda count: contention.add_busy(request.node.name, count)  # noqa: E731
    merchants = {tenant: Merchant(w, on_busy) for tenant, w in worlds.items()}
    rng = random.Random(18)
    salers = ["alice", "bob", "carol"]
    for w in worlds.values():                       # opening balances, credited
        for saler in salers:
            w.pay(saler, 200)
    aggregator.run(world.ctx())

    def batch():
        operations = []
        for tenant, w in worlds.items():
            operations += [(tenant, pay_request(w.ids.next(), rng.choice(salers), rng.randint(1, 90)))
                           for _ in range(30)]
            operations += [(tenant, withdraw_request(w.ids.next(), rng.choice(salers), rng.randint(1, 120)))
                           for _ in range(20)]
        rng.shuffle(operations)
        return operations

    # Writers keep coming until the auditor has finished three whole audits among them.
    outcomes, rounds = [], 0
    with AuditorLoop() as audits, AggregatorLoops(world.ctx(), count=3):
        while len(audits.reports) < 3 and rounds < MAX_ROUNDS:
            rounds += 1
            outcomes += run_concurrently(lambda op: merchants[op[0]].send(op[1]), batch(), threads=THREADS)
    assert not [o for o in outcomes if isinstance(o, BaseException)]

    assert len(audits.reports) >= 3, "the auditor must have run while the writers ran"
    differences = [d.as_dict() for r in audits.reports for d in r.differences]
    assert differences == []
    # The audits saw the books move (not one state read over and over).
    assert len({tuple(sorted((t, v.balance) for t, v in r.tenants.items())) for r in audits.reports}) > 1
    contention.note(request.node.name, f"{len(audits.reports)} audits during the writes, "
                                       f"{sum(r.snapshot_retries for r in audits.reports)} snapshot "
                                       f"re-reads, {sum(len(r.busy) for r in audits.reports)} busy accounts, "
                                       f"{sum(r.withdrawn for r in audits.reports)} torn reads withdrawn")

    settle(world.ctx())
    final = auditor.audit()
    assert final.clean and not final.busy, final.as_dict()
    for tenant, w in worlds.items():
        # (check_invariants reads every order of the table: it knows one tenant only.)
        assert final.tenants[tenant].balance == sum(w.book.truth().values())
        assert final.tenants[tenant].accounts == len(salers)


def test_a_balance_corrupted_on_purpose_is_caught_on_dynamodb_local(world, models):
    for saler, amount in (("alice", 300), ("bob", 150)):
        world.pay(saler, amount)
    settle(world.ctx())
    assert auditor.audit().clean
    world.dynamodb.update_item(TableName=models["LEDGER_TABLE"],
                               Key={"account": {"S": "default#bob"}, "entry": {"S": "ACCOUNT"}},
                               UpdateExpression="ADD balance :extra",
                               ExpressionAttributeValues={":extra": {"N": "1000"}})
    [difference] = auditor.audit().differences
    assert difference.as_dict() == {"check": "balance", "tenant": "default", "where": "default#bob",
                                    "balance": 1150, "journal_sum": 150, "entries": 1}
