"""The event pump: runs the app's schedules and SQS subscriptions the way AWS would.

`chalice local` serves only HTTP routes (aws/chalice#979, #899, #736). The pump
reads what to run from the app's own declared event sources, so the local and
the cloud wiring cannot drift:

* `@app.schedule` (ScheduledEventConfig): the handler is invoked with a
  CloudWatch scheduled-event dict and no context, as Lambda would, every
  LOCAL_SCHEDULE_SECONDS (the local stage shortens the rate), else at its rate.
  A function whose LOCAL_SCHEDULE_SECONDS is "0" is not run on a schedule
  locally (a daily export must not run every 2 s): it is logged once at start
  and can still be run on demand with `run_once`;
* `@app.on_sqs_message` (SQSEventConfig): the queue is polled and the handler
  invoked with a Lambda-shaped SQS event; messages are deleted only when the
  handler returns, so failures come back after the visibility timeout and end
  in the dead-letter queue after the redrive policy's maxReceiveCount.

Each function has a worker thread of its own, as each Lambda function has its own
instances: a reconciliation that runs for minutes never delays the aggregator. A
function's invocations never overlap (one worker, like a reserved concurrency of 1).

Each handler runs with the environment the template gives its own function
(logical id: chalice's CamelCase of the event source name), without swapping
anything: `os.environ` becomes, once, a view that shows each worker thread its
function's variables over the process's own (`ThreadEnvironment`). A thread the
handler itself starts sees the process's variables, so the stack puts what every
function shares (endpoints, region, dummy credentials) there too.
A failing handler is logged as one JSON line and the pump carries on.
"""
import importlib
import logging
import os
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Mapping, MutableMapping, Optional, Tuple

from chalice.app import Rate, ScheduledEventConfig, SQSEventConfig
from chalice.utils import to_cfn_resource_name

from chalicelib.logs import log

SQS_POLL_SECONDS = 0.25
LOCAL_ACCOUNT = "000000000000"
RATE_SECONDS = {Rate.MINUTES: 60, Rate.HOURS: 3600, Rate.DAYS: 86400}


class ThreadEnvironment(MutableMapping):
    """`os.environ` as each thread should see it: the process's variables, under the
    `Environment` a thread applied (its function's settings and removals), if any.

    Writes from a thread with an environment applied stay in that thread's layer; the
    others reach the process's real environment (and, through it, subprocesses)."""

    def __init__(self, base: MutableMapping):
        self.base = base
        self._local = threading.local()

    def _layer(self) -> Optional[Tuple["Environment", Dict[str, Optional[str]]]]:
        return getattr(self._local, "layer", None)

    @contextmanager
    def layered(self, environment: "Environment") -> Iterator[None]:
        previous = self._layer()
        self._local.layer = (environment, {})
        try:
            yield
        finally:
            self._local.layer = previous

    def __getitem__(self, name: str) -> str:
        layer = self._layer()
        if layer is not None:
            environment, written = layer
            if name in written:
                if written[name] is None:
                    raise KeyError(name)
                return written[name]
            if name in environment.variables:
                return environment.variables[name]
            if environment._removed(name):
                raise KeyError(name)
        return self.base[name]

    def __setitem__(self, name: str, value: str) -> None:
        layer = self._layer()
        if layer is None:
            self.base[name] = value
        else:
            layer[1][name] = value

    def __delitem__(self, name: str) -> None:
        layer = self._layer()
        if layer is None:
            del self.base[name]
        else:
            self[name]  # KeyError if this thread does not see it
            layer[1][name] = None

    def _names(self) -> List[str]:
        layer = self._layer()
        if layer is None:
            return list(self.base)
        environment, written = layer
        names = dict.fromkeys(n for n in self.base if not environment._removed(n))
        names.update(dict.fromkeys(environment.variables))
        names.update(dict.fromkeys(written))
        return [n for n in names if written.get(n, "") is not None]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def copy(self) -> Dict[str, str]:
        return dict(self)


_install_lock = threading.Lock()


def thread_environment() -> ThreadEnvironment:
    """Make `os.environ` a `ThreadEnvironment` (once per process) and return it."""
    with _install_lock:
        if not isinstance(os.environ, ThreadEnvironment):
            os.environ = ThreadEnvironment(os.environ)
        return os.environ


@dataclass(frozen=True)
class Environment:
    """The environment variables one Lambda function sees, plus those it must not see."""
    variables: Mapping[str, str]
    unset: Tuple[str, ...] = ()
    unset_prefixes: Tuple[str, ...] = ()

    def _removed(self, name: str) -> bool:
        return name not in self.variables and (
            name in self.unset or name.startswith(self.unset_prefixes))

    def over(self, base: Mapping[str, str]) -> Dict[str, str]:
        """A complete environment for a subprocess: `base` with these settings applied."""
        merged = {k: v for k, v in base.items() if not self._removed(k)}
        merged.update(self.variables)
        return merged

    @contextmanager
    def applied(self) -> Iterator[None]:
        """What `os.environ` shows the calling thread, for the duration of one invocation;
        other threads, running other functions at the same time, see their own."""
        with thread_environment().layered(self):
            yield


class UnknownEventSource(KeyError):
    """run_once was asked for a name the app does not declare."""


def function_logical_id(event_source_name: str) -> str:
    """The template's logical id of the Lambda function chalice makes for an event source."""
    return to_cfn_resource_name(event_source_name)


def resolve_handler(handler_string: str) -> Callable:
    """`app.run_aggregator` -> the (chalice-wrapped) function object Lambda would call."""
    module_name, _, attribute = handler_string.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


# LOCAL_SCHEDULE_SECONDS of a function the pump does not run on a schedule.
NOT_SCHEDULED_LOCALLY = "0"


def _interval_seconds(config: ScheduledEventConfig, environment: Environment) -> Optional[float]:
    """Seconds between runs; None for a function not run on a schedule locally."""
    shortened = environment.variables.get("LOCAL_SCHEDULE_SECONDS")
    if shortened is not None and shortened.strip() == NOT_SCHEDULED_LOCALLY:
        return None
    if shortened:
        interval = float(shortened)
        if interval <= 0:
            raise ValueError(f"{config.name}: LOCAL_SCHEDULE_SECONDS must be positive, "
                             f'or "{NOT_SCHEDULED_LOCALLY}" not to run it locally')
        return interval
    expression = config.schedule_expression
    if isinstance(expression, Rate):
        return float(expression.value * RATE_SECONDS[expression.unit])
    raise ValueError(f"{config.name}: set LOCAL_SCHEDULE_SECONDS to run "
                     f"{expression!r} locally (only rates are understood)")


def scheduled_event(rule_name: str, region: str) -> dict:
    """What EventBridge hands a scheduled Lambda."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": LOCAL_ACCOUNT,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{LOCAL_ACCOUNT}:rule/{rule_name}"],
        "detail": {},
    }


def _lambda_message_attributes(attributes: Mapping[str, dict]) -> Dict[str, dict]:
    """SQS API spelling (StringValue) to Lambda's event spelling (stringValue)."""
    converted = {}
    for name, value in attributes.items():
        converted[name] = {"dataType": value.get("DataType"),
                           "stringValue": value.get("StringValue"),
                           "binaryValue": value.get("BinaryValue"),
                           "stringListValues": [], "binaryListValues": []}
    return converted


def sqs_event(messages: List[dict], queue_arn: str, region: str) -> dict:
    """What the SQS event source mapping hands a Lambda."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": dict(m.get("Attributes", {})),
        "messageAttributes": _lambda_message_attributes(m.get("MessageAttributes", {})),
        "md5OfBody": m.get("MD5OfBody"), "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": region,
    } for m in messages]}


@dataclass(frozen=True)
class QueueRef:
    url: str
    arn: str


@dataclass
class Subscription:
    """One event source the pump drives."""
    name: str
    function: str                      # template logical id, e.g. "Aggregator"
    handler: Callable
    environment: Environment
    interval: Optional[float]          # None: never due (run only by run_once)
    invoke: Callable[["Subscription"], Any] = field(repr=False)
    queue: Optional[QueueRef] = None   # SQS subscriptions only
    batch_size: int = 10
    next_due: float = 0.0
    # One invocation at a time per function, whoever asks (its worker or run_once).
    running: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Pump:
    """Drives every schedule and SQS subscription of a chalice app against one endpoint."""

    def __init__(self, app: Any, environments: Callable[[str], Environment],
                 find_queue: Callable[[SQSEventConfig], Optional[QueueRef]], sqs: Any,
                 region: str, resolve: Callable[[str], Callable] = resolve_handler):
        """`environments(name)` gives the environment of the function chalice
        makes for event source `name`; `find_queue(config)` the provisioned
        queue an SQS event source is subscribed to, or None; `resolve` turns a
        handler string into the callable Lambda would invoke."""
        self._resolve = resolve
        self._sqs = sqs
        self._region = region
        self._find_queue = find_queue
        self._stop = threading.Event()
        self._workers: List[threading.Thread] = []
        self.subscriptions: Dict[str, Subscription] = {}
        self.unresolved: List[str] = []   # SQS sources whose queue was not found
        for config in app.event_sources:
            self._subscribe(config, environments)

    def _subscribe(self, config, environments: Callable[[str], Environment]) -> None:
        function = function_logical_id(config.name)
        environment = environments(config.name)
        handler = self._resolve(config.handler_string)
        if isinstance(config, ScheduledEventConfig):
            interval = _interval_seconds(config, environment)
            subscription = Subscription(config.name, function, handler, environment, interval,
                                        invoke=self._invoke_schedule)
            if interval is None:
                log("pump.schedule_not_run_locally", source=config.name, function=function,
                    schedule=str(config.schedule_expression),
                    reason=f'LOCAL_SCHEDULE_SECONDS is "{NOT_SCHEDULED_LOCALLY}"')
        elif isinstance(config, SQSEventConfig):
            queue = self._find_queue(config)
            if queue is None:
                # Loud, but the rest of the stack still serves: one unwired
                # subscription should not take the HTTP API down with it.
                log("pump.queue_not_provisioned", level=logging.ERROR, source=config.name,
                    function=function, queue=config.queue, queue_arn=config.queue_arn)
                self.unresolved.append(config.name)
                return
            subscription = Subscription(config.name, function, handler, environment,
                                        SQS_POLL_SECONDS, invoke=self._invoke_sqs,
                                        queue=queue,
                                        # One receive returns at most 10 messages.
                                        batch_size=min(config.batch_size or 10, 10))
        else:
            log("pump.unsupported_event_source", level=logging.WARNING, name=config.name,
                kind=type(config).__name__)
            return
        self.subscriptions[config.name] = subscription

    # -- invoking handlers ------------------------------------------------

    def _call(self, subscription: Subscription, event: dict) -> Any:
        with subscription.environment.applied():
            return subscription.handler(event, None)

    def _invoke_schedule(self, subscription: Subscription) -> Any:
        return self._call(subscription, scheduled_event(subscription.name, self._region))

    def _invoke_sqs(self, subscription: Subscription) -> Any:
        queue = subscription.queue
        answer = self._sqs.receive_message(
            QueueUrl=queue.url, MaxNumberOfMessages=subscription.batch_size,
            WaitTimeSeconds=0, AttributeNames=["All"], MessageAttributeNames=["All"])
        messages = answer.get("Messages", [])
        if not messages:
            return None
        result = self._call(subscription, sqs_event(messages, queue.arn, self._region))
        # Only after the handler returned: a failure leaves the messages for SQS to redeliver.
        self._sqs.delete_message_batch(QueueUrl=queue.url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
        log("pump.delivered", source=subscription.name, function=subscription.function,
            messages=len(messages))
        return result

    def run_once(self, name: str) -> Any:
        """Run one event source now; a handler's exception propagates to the caller."""
        subscription = self.subscriptions.get(name)
        if subscription is None:
            raise UnknownEventSource(name)
        with subscription.running:
            return subscription.invoke(subscription)

    def _run_guarded(self, subscription: Subscription) -> None:
        try:
            self.run_once(subscription.name)
        except Exception as error:  # noqa: BLE001 - one failing handler must not stop the pump
            log("pump.handler_failed", level=logging.ERROR, source=subscription.name,
                function=subscription.function, error_type=type(error).__name__,
                error=str(error), traceback=traceback.format_exc())

    # -- the loop ----------------------------------------------------------

    def _looped(self) -> List[Subscription]:
        """What the workers drive: SQS polls and schedules with an interval."""
        return [s for s in self.subscriptions.values() if s.interval is not None]

    def _work(self, subscription: Subscription) -> None:
        """One function's worker: run it whenever it is due, until stopped."""
        subscription.next_due = time.monotonic() + subscription.interval
        while not self._stop.wait(max(0.0, subscription.next_due - time.monotonic())):
            self._run_guarded(subscription)
            # Rate semantics: the next run is an interval after this one was due.
            subscription.next_due = max(subscription.next_due + subscription.interval,
                                        time.monotonic())

    def start(self) -> "Pump":
        self._stop.clear()
        thread_environment()
        self._workers = [threading.Thread(target=self._work, args=(subscription,),
                                          name=f"pump-{subscription.function}", daemon=True)
                         for subscription in self._looped()]
        for worker in self._workers:
            worker.start()
        log("pump.started", sources={s.name: {"function": s.function, "every_seconds": s.interval}
                                     for s in self._looped()},
            not_scheduled=[s.name for s in self.subscriptions.values() if s.interval is None])
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the running invocations, if any, finish (at most `timeout` in all)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        self._workers = []
