"""`FaultPlan` (tests/support/faults.py) over a PynamoDB model's client, through botocore's events.

PynamoDB makes its own botocore client, so `FaultyClient`'s proxy cannot wrap it; botocore's
event hooks reach it instead: `before-call` takes the plan's next call number (and may die before
the request is sent), `after-call` / `after-call-error` may die once the call took effect. The
plan is the same object the boto3 proxies use, so calls of both count together, in order.
"""
import copy
import json
import random
import threading
from contextlib import ExitStack, contextmanager

from botocore.exceptions import ClientError

from tests.support.faults import FaultPlan

_NUMBER = "fault_plan_call_number"


@contextmanager
def faults_on(client, plan: FaultPlan):
    """Route every call of the botocore `client` through `plan` inside the block."""
    service = client.meta.service_model.service_name

    def before(model, context, **_):
        # No injected error codes here: a refused call would need a parsed error to raise.
        context[_NUMBER] = plan._begin(service, model.name)

    def after(model, context, **_):
        if _NUMBER in context:
            plan._end(context.pop(_NUMBER), service, model.name)

    events = client.meta.events
    handlers = (("before-call.dynamodb.*", before), ("after-call.dynamodb.*", after),
                ("after-call-error.dynamodb.*", after))
    for event, handler in handlers:
        events.register(event, handler, unique_id=f"fault-plan-{id(plan)}-{event}")
    try:
        yield plan
    finally:
        for event, handler in handlers:
            events.unregister(event, handler, unique_id=f"fault-plan-{id(plan)}-{event}")


def payment_models():
    """The models pay and withdraw read and write (each has its own botocore client)."""
    from chalicelib.payments.models.ledger import Account, JournalEntry
    from chalicelib.payments.models.orders import PaymentOrder, ResponseGuard
    return (PaymentOrder, ResponseGuard, Account, JournalEntry)


def trade_models():
    """The models trade settlement reads and writes (the trade, balances, journal entries)."""
    from chalicelib.payments.models.ledger import Account, JournalEntry
    from chalicelib.payments.models.trades import Trade
    return (Trade, Account, JournalEntry)


def subsidy_models():
    """The models marketing subsidies and their returns read and write."""
    from chalicelib.subsidies.models import (BizReturnGuard, ChannelTransaction, Subsidy,
                                             SubsidyOutboundGuard, SubsidyReturn)
    return (Subsidy, SubsidyReturn, BizReturnGuard, ChannelTransaction, SubsidyOutboundGuard)


def _clients(models):
    clients = {}
    for model in models:
        client = model.low_level_client()
        clients[id(client)] = client
    return list(clients.values())


@contextmanager
def faults_on_models(plan: FaultPlan, models=None):
    """`faults_on` over the clients of `models` (the payment models by default): the process the
    plan simulates dies between the models' calls as between its boto3 clients' calls. Enter it
    after the models are bound to the world's tables (`World.bound()`)."""
    with ExitStack() as stack:
        for client in _clients(models or payment_models()):
            stack.enter_context(faults_on(client, plan))
        yield plan


@contextmanager
def _hooked(hooks, event: str, unique: str, first: bool = False):
    """Each (client, handler) of `hooks` registered for `event` inside the block (first in line
    with `first`: a `before-call` answer must come before botocore's own handlers)."""
    hooks = list(hooks)
    for client, handler in hooks:
        register = client.meta.events.register_first if first else client.meta.events.register
        register(event, handler, unique_id=unique)
    try:
        yield
    finally:
        for client, handler in hooks:
            client.meta.events.unregister(event, handler, unique_id=unique)


@contextmanager
def after_each_call(hook, models=None):
    """Call `hook(operation_name)` right after each call of the models' clients answers (before
    the caller sees the answer), inside the block: what a proxy's wrapper did around a boto3
    client's calls, for the clients PynamoDB makes itself."""
    def answered(model, **_):
        hook(model.name)

    with _hooked(((c, answered) for c in _clients(models or payment_models())),
                 "after-call.dynamodb.*", f"after-each-call-{id(hook)}"):
        yield


class _Answer:
    """The HTTP side of an answer made up by a `before-call` handler (botocore reads the status)."""

    def __init__(self, status_code: int):
        self.status_code = status_code
        self.headers = {}
        self.content = b""


class ModelConflicts:
    """`ConflictingClient` over the models' clients: refuses a share of TransactWriteItems with
    TransactionConflict on one item, as DynamoDB does under contention (the request is not sent).
    A `before-call` handler that answers short-circuits botocore's send. Thread-safe; seeded."""

    def __init__(self, rate: float, seed: int = 1):
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.rate = rate
        self.injected = 0

    def _before(self, params, **_):
        items = json.loads(params.get("body") or b"{}").get("TransactItems", [])
        with self._lock:
            refuse = self._random.random() < self.rate
            victim = self._random.randrange(len(items)) if items else 0
            if refuse:
                self.injected += 1
        if not refuse:
            return None
        codes = ["None"] * len(items)
        codes[victim] = "TransactionConflict"
        return _Answer(400), {
            "Error": {"Code": "TransactionCanceledException",
                      "Message": "Transaction cancelled, please refer cancellation reasons for "
                                 f"specific reasons [{', '.join(codes)}]"},
            "CancellationReasons": [
                {"Code": c, "Message": "Transaction is ongoing for the item"} if c != "None"
                else {"Code": c} for c in codes],
            "ResponseMetadata": {"HTTPStatusCode": 400}}

    @contextmanager
    def on(self, models=None):
        with _hooked(((c, self._before) for c in _clients(models or payment_models())),
                     "before-call.dynamodb.TransactWriteItems", f"conflicts-{id(self)}", first=True):
            yield self


class ModelAnswersLost:
    """`AnswerLostClient` over the models' clients: each chosen call is sent twice and only the
    second answer is seen (the first took effect, its answer was lost, the SDK sent the identical
    request again). The caller's own parameters are resent (`provide-client-params`, before
    botocore fills in a missing idempotency token), exactly as calling the method twice does."""

    def __init__(self, operations):
        self.operations = set(operations)
        self._resending = threading.local()

    def _make(self, client):
        def first_send(params, model, **_):
            if model.name not in self.operations or getattr(self._resending, "on", False):
                return None
            self._resending.on = True
            try:
                client._make_api_call(model.name, copy.deepcopy(params))
            except ClientError:
                pass
            finally:
                self._resending.on = False
            return None
        return first_send

    @contextmanager
    def on(self, models=None):
        with _hooked(((c, self._make(c)) for c in _clients(models or payment_models())),
                     "provide-client-params.dynamodb.*", f"answers-lost-{id(self)}"):
            yield self


@contextmanager
def observed_models(observed, models=None):
    """Count the models' calls and their transactions' cancellation reasons into `observed`
    (tests/support/concurrency.py's ObservedClient), beside its boto3 client's."""
    def after(model, parsed, **_):
        error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
        reasons = [r.get("Code") for r in parsed.get("CancellationReasons", [])] if error else []
        with observed._lock:
            observed.calls[model.name] += 1
            if error.get("Code"):
                observed.errors[error["Code"]] += 1
                observed.cancellations.update(r for r in reasons if r and r != "None")

    with _hooked(((c, after) for c in _clients(models or payment_models())),
                 "after-call.dynamodb.*", f"observed-{id(observed)}"):
        yield observed


@contextmanager
def refused_on_models(operation: str, error_code: str, models=None):
    """Every `operation` call of the models' clients is refused with `error_code` (never sent),
    as `FaultPlan.failures` refuses a boto3 client's."""
    def refuse(**_):
        return _Answer(400), {"Error": {"Code": error_code, "Message": "injected fault"},
                              "ResponseMetadata": {"HTTPStatusCode": 400}}

    with _hooked(((c, refuse) for c in _clients(models or payment_models())),
                 f"before-call.dynamodb.{operation}", f"refused-{operation}-{error_code}", first=True):
        yield


@contextmanager
def requests_sent(models=None):
    """The operations the models' clients call inside the block, by name, in order (counted
    before each is sent, so a refused or failed call counts too)."""
    names = []

    def seen(model, **_):
        names.append(model.name)

    with _hooked(((c, seen) for c in _clients(models or payment_models())),
                 "before-call.dynamodb.*", f"requests-{id(names)}"):
        yield names


@contextmanager
def transaction_sizes(models=None):
    """The number of items of every TransactWriteItems the models' clients send, in order."""
    sizes = []

    def seen(params, **_):
        sizes.append(len(json.loads(params.get("body") or b"{}").get("TransactItems", [])))

    with _hooked(((c, seen) for c in _clients(models or payment_models())),
                 "before-call.dynamodb.TransactWriteItems", f"sizes-{id(sizes)}"):
        yield sizes
