"""Structured logs: one JSON object per line, one line per event."""
import json
import logging
import re
import sys
from datetime import datetime, timezone

# The lines go out through the handlers of the "paysettle" logger, but are logged on a child:
# Chalice owns "paysettle" (the app's name) and sets its level to ERROR whenever `app.debug` is
# assigned, which would silently drop every INFO event. A propagated record meets only the
# parent's handlers, never the parent's level.
_output = logging.getLogger("paysettle")
if not _output.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _output.addHandler(_handler)
    _output.propagate = False
_logger = logging.getLogger("paysettle.events")
_logger.setLevel(logging.INFO)


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
    record = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
              "level": logging.getLevelName(level), "event": event}
    record.update(_masked(fields))
    _logger.log(level, json.dumps(record, ensure_ascii=False, default=str,
                                  separators=(",", ":")))


def count_metric(event: str, namespace: str, name: str, timestamp_ms: int,
                 dimensions: dict, **fields) -> None:
    """A count of 1 of the metric `namespace`/`name`, as a log line in CloudWatch's embedded
    metric format: CloudWatch Logs publishes it once per dimension set, per `dimensions` and
    (the empty set) for the whole namespace, which is what an alarm watches."""
    directive = {"Namespace": namespace, "Dimensions": [sorted(dimensions), []],
                 "Metrics": [{"Name": name, "Unit": "Count"}]}
    log(event, _aws={"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]},
        **dimensions, **{name: 1}, **fields)
