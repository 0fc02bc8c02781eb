"""Structured logs: one JSON object per line, one line per event."""
import json
import logging
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


def log(event: str, level: int = logging.INFO, **fields) -> None:
    record = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
              "level": logging.getLevelName(level), "event": event}
    record.update(fields)
    _logger.log(level, json.dumps(record, ensure_ascii=False, default=str,
                                  separators=(",", ":")))
