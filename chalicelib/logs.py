"""Structured logs: one JSON object per line, one line per event."""
import json
import logging
import sys
from datetime import datetime, timezone

_logger = logging.getLogger("paysettle")
if not _logger.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _logger.addHandler(_handler)
    _logger.setLevel(logging.INFO)
    _logger.propagate = False


def log(event: str, level: int = logging.INFO, **fields) -> None:
    record = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
              "level": logging.getLevelName(level), "event": event}
    record.update(fields)
    _logger.log(level, json.dumps(record, ensure_ascii=False, default=str,
                                  separators=(",", ":")))
