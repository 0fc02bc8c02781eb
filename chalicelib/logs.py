"""Structured logs: one JSON object per line, one line per event.

Powertools for AWS Lambda's Logger writes the lines; `lambda_context_middleware` (registered on
the app as Chalice middleware for every kind of event) adds to each line of an invocation the
Lambda request id, whether it is the process's cold start, the function's name and a
correlation id: the caller's X-Request-Id when it sent a usable one, else the Lambda request id.
"""
import logging
import re
import sys
import threading

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from chalice.app import Request

# The lines go out through the handler of the "paysettle" logger (Powertools' handler), but are
# logged on a child: Chalice owns "paysettle" (the app's name) and sets its level to ERROR
# whenever `app.debug` is assigned, which would silently drop every INFO event. A propagated
# record meets only the parent's handlers, never the parent's level.
SERVICE = "paysettle"
# An event's own fields travel in the record under this one name (the names of LogRecord's
# attributes, such as `name` or `module`, stay free for fields) and are put at the top level.
_FIELDS = "paysettle_fields"
# Powertools' names, read by CloudWatch Logs Insights queries written for Powertools.
REQUEST_ID, COLD_START, FUNCTION_NAME, CORRELATION_ID = (
    "function_request_id", "cold_start", "function_name", "correlation_id")


class EventFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON line in this project's shape: `ts`, `level`, `event`, the invocation's
    keys, then the event's own fields."""

    def serialize(self, log: dict) -> str:
        line = {"ts": log.pop("timestamp", None), "level": log.pop("level", None),
                "event": log.pop("message", None)}
        fields = log.pop(_FIELDS, None) or {}
        for noise in ("location", "sampling_rate"):
            log.pop(noise, None)
        line.update(log)
        line.update(fields)
        return self.json_serializer(line)


_powertools = Logger(service=SERVICE, level="INFO", logger_handler=logging.StreamHandler(sys.stdout),
                     logger_formatter=EventFormatter(utc=True, use_rfc3339=True))
_output = logging.getLogger(SERVICE)
_output.propagate = False
_logger = logging.getLogger(SERVICE + ".events")
_logger.setLevel(logging.INFO)


def output_formatter() -> logging.Formatter:
    """The formatter that turns a record of an event into its JSON line."""
    return _powertools.registered_formatter


# A caller's X-Request-Id becomes the correlation id only if it is a plain token of at most 64
# characters: anything else (a body, a secret, a line break) must not reach a log line.
_CALLER_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:;=/+-]{0,63}")
_cold_start = True
_cold_start_lock = threading.Lock()


def _first_invocation() -> bool:
    global _cold_start
    with _cold_start_lock:
        cold, _cold_start = _cold_start, False
    return cold


def invocation_keys(lambda_context, caller_request_id=None) -> dict:
    """The keys every line of one invocation carries."""
    request_id = getattr(lambda_context, "aws_request_id", None)
    if not (isinstance(caller_request_id, str) and _CALLER_REQUEST_ID.fullmatch(caller_request_id)):
        caller_request_id = None
    return {REQUEST_ID: request_id, COLD_START: _first_invocation(),
            FUNCTION_NAME: getattr(lambda_context, "function_name", None),
            CORRELATION_ID: caller_request_id or request_id}


def lambda_context_middleware(event, get_response):
    """Chalice middleware: the invocation's keys on every line logged while it runs."""
    if isinstance(event, Request):
        keys = invocation_keys(event.lambda_context, (event.headers or {}).get("x-request-id"))
    else:
        keys = invocation_keys(getattr(event, "context", None))
    _powertools.thread_safe_append_keys(**keys)
    try:
        return get_response(event)
    finally:
        _powertools.thread_safe_clear_keys()


# Fields that name where money is kept: a receiver or sub-merchant at the channel, an account of
# the center's books. A run of 12 or more digits there is an account or card number (WeChat's
# merchant ids have 10 digits and pass as they are): the log keeps only its last 4 digits, enough
# to tell accounts apart. Order and transaction ids are not accounts and are logged in full.
ACCOUNT_FIELDS = frozenset({"account", "account_id", "next_receiver", "receive_mch_id",
                            "return_mch_id", "sub_mchid", "sub_mch_id", "mch_id", "buyer_id",
                            "seller_id", "fee_user_id", "user_id"})
_ACCOUNT_NUMBER = re.compile(r"[0-9]{12,}")


def masked_account(value):
    """`value` with every run of 12 or more digits reduced to its last 4."""
    if not isinstance(value, str):
        return value
    return _ACCOUNT_NUMBER.sub(lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], value)


def _masked(fields: dict) -> dict:
    return {name: masked_account(value) if name in ACCOUNT_FIELDS
            else _masked(value) if isinstance(value, dict)
            else [_masked(v) if isinstance(v, dict) else v for v in value] if isinstance(value, list)
            else value
            for name, value in fields.items()}


def log(event: str, level: int = logging.INFO, **fields) -> None:
    _logger.log(level, event, extra={_FIELDS: _masked(fields)})


def count_metric(event: str, namespace: str, name: str, timestamp_ms: int,
                 dimensions: dict, **fields) -> None:
    """A count of 1 of the metric `namespace`/`name`, as a log line in CloudWatch's embedded
    metric format: CloudWatch Logs publishes it once per dimension set, per `dimensions` and
    (the empty set) for the whole namespace, which is what an alarm watches."""
    directive = {"Namespace": namespace, "Dimensions": [sorted(dimensions), []],
                 "Metrics": [{"Name": name, "Unit": "Count"}]}
    log(event, _aws={"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]},
        **dimensions, **{name: 1}, **fields)
