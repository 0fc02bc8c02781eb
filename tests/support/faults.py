"""A fault-injecting proxy for boto3 clients: "the process dies between two AWS calls".

`FaultPlan` is shared by every client of one simulated process (DynamoDB and
SQS count together, in order). Each API call through a `FaultyClient` takes the
next number; the plan may

* die BEFORE call n (the call is never sent),
* die AFTER call n (the call took effect, the process dies before using the
  answer, whether that answer is a result or an error),
* make chosen operations fail with a `ClientError` (e.g. SendMessage refused).

Death is `ProcessDied`, a BaseException, so no `except Exception` or
`except ClientError` in the code under test can swallow it. Once dead, the
process stays dead: every later call through the plan raises `ProcessDied`
again. Thread-safe: the counter and the log are guarded by one lock.
"""
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from botocore.exceptions import ClientError

from tests.support.proxy import ClientProxy

BEFORE = "before"
AFTER = "after"


class ProcessDied(BaseException):
    """The simulated Lambda process died; nothing after this point ran."""


@dataclass
class FaultPlan:
    die_at: Optional[int] = None             # call number (1-based, all services together)
    when: str = AFTER
    # Or: die at the k-th call of one operation, e.g. ("TransactWriteItems", 2).
    die_on: Optional[Tuple[str, int]] = None
    # operation name (botocore's, e.g. "SendMessage") -> error code to answer with
    failures: Dict[str, str] = field(default_factory=dict)
    calls: List[str] = field(default_factory=list)
    dead: bool = False

    def __post_init__(self):
        if self.when not in (BEFORE, AFTER):
            raise ValueError(f"when must be {BEFORE!r} or {AFTER!r}")
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.calls)

    def _begin(self, service: str, operation: str) -> int:
        with self._lock:
            if self.dead:
                raise ProcessDied(f"already dead; {service}.{operation} was not sent")
            self.calls.append(f"{service}.{operation}")
            number = len(self.calls)
            if self.die_on and self.die_on[0] == operation and self.die_at is None:
                occurrence = sum(c.endswith("." + operation) for c in self.calls)
                if occurrence == self.die_on[1]:
                    self.die_at = number
            if self.when == BEFORE and number == self.die_at:
                self.dead = True
                raise ProcessDied(f"died before call {number} ({service}.{operation})")
            return number

    def _end(self, number: int, service: str, operation: str) -> None:
        if self.when == AFTER and number == self.die_at:
            with self._lock:
                self.dead = True
            raise ProcessDied(f"died after call {number} ({service}.{operation})")

    def invoke(self, service: str, operation: str, method, *args, **kwargs):
        number = self._begin(service, operation)
        try:
            error_code = self.failures.get(operation)
            if error_code:
                # The request never reaches AWS; the caller sees AWS's refusal.
                raise ClientError({"Error": {"Code": error_code, "Message": "injected fault"},
                                   "ResponseMetadata": {"HTTPStatusCode": 500}}, operation)
            return method(*args, **kwargs)
        finally:
            # An error is an answer too (a cancelled transaction, a refused send):
            # the process may die before it reads either kind.
            self._end(number, service, operation)


class FaultyClient(ClientProxy):
    """Wraps a boto3 client; API calls go through `plan`, everything else passes through."""

    def __init__(self, client, plan: FaultPlan):
        super().__init__(client)
        self._plan = plan
        self._service = client.meta.service_model.service_name

    def _call(self, operation, method, *args, **kwargs):
        return self._plan.invoke(self._service, operation, method, *args, **kwargs)


class AnswerLostClient(ClientProxy):
    """Each chosen call is sent twice and only the second answer is seen.

    What an SDK retry after a lost response does: the first request took effect,
    its answer never arrived, the identical request (same ClientRequestToken,
    if any) is sent again.
    """

    def _call(self, operation, method, *args, **kwargs):
        try:
            method(*args, **kwargs)
        except ClientError:
            pass
        return method(*args, **kwargs)


class ConflictingClient(ClientProxy):
    """Refuses a share of TransactWriteItems with TransactionConflict, as DynamoDB does under contention.

    DynamoDB Local serializes transactions and never answers TransactionConflict;
    real DynamoDB cancels a transaction when another one holds one of its items.
    The refused request is not sent. Thread-safe; seeded.
    """

    def __init__(self, client, rate: float, seed: int = 1):
        super().__init__(client, {"TransactWriteItems"})
        import random
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.rate = rate
        self.injected = 0

    def _call(self, operation, method, *args, **kwargs):
        items = kwargs.get("TransactItems", [])
        with self._lock:
            refuse = self._random.random() < self.rate
            victim = self._random.randrange(len(items)) if items else 0
            if refuse:
                self.injected += 1
        if not refuse:
            return method(*args, **kwargs)
        codes = ["None"] * len(items)
        codes[victim] = "TransactionConflict"
        raise ClientError({
            "Error": {"Code": "TransactionCanceledException",
                      "Message": "Transaction cancelled, please refer cancellation reasons for "
                                 f"specific reasons [{', '.join(codes)}]"},
            "CancellationReasons": [
                {"Code": c, "Message": "Transaction is ongoing for the item"} if c != "None"
                else {"Code": c} for c in codes],
            "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)
