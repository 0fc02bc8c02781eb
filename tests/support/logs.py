"""The JSON log lines PaySettle writes, captured where every event goes out."""
import json
import logging
from contextlib import contextmanager
from typing import Iterator, List

from chalicelib.logs import output_formatter


@contextmanager
def captured_log_lines() -> Iterator[List[dict]]:
    """Every event logged inside the block, decoded (the `paysettle` logger does not propagate)."""
    lines: List[dict] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(self.format(record)))

    handler = Collect()
    handler.setFormatter(output_formatter())
    logger = logging.getLogger("paysettle")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
