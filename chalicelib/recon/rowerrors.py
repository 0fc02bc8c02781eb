"""Line numbers of the rows the engine left out because of their values.

DuckDB reports the rows it could not parse (wrong number of fields, bad UTF-8,
unterminated quotes) with their line numbers. Rows it parsed but whose values are
unusable (no response_id, no saler_id, an amount that is not an integer of fen)
are found in SQL, which has no line numbers; only for the files that have any,
this module re-reads the file and names each one by line.

Lines are counted as DuckDB counts them: the header is line 1 and every record
after it adds one (a blank line too); a quoted value spanning several lines
counts once, so the number is the file's line number unless a value holds a
line break. Rows DuckDB rejected (bad UTF-8 among them) are skipped here: they
are reported once, by DuckDB.

The scan reads bytes: a line without a quote character is split on commas (what
RFC 4180 makes of it); only lines with quotes go through Python's csv module.
"""
import csv
import io
from typing import Iterator, List, Optional, Set, Tuple

from .formats import OPENING_BALANCE, FileSpec

MAX_VALUE_CHARS = 200
MAX_AMOUNT_DIGITS = 18


def clip(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "..."


def _quoted(record: bytes) -> List[bytes]:
    text = record.decode("utf-8", errors="surrogateescape")
    row = next(csv.reader(io.StringIO(text, newline="")), [])
    return [field.encode("utf-8", errors="surrogateescape") for field in row]


def records(path) -> Iterator[Tuple[int, Optional[List[bytes]]]]:
    """(line, fields) of every record after the header; fields None if a quote never closes."""
    with open(path, "rb") as stream:
        stream.readline()  # the header
        line, pending = 1, None
        for raw in stream:
            if pending is not None:
                pending += raw
                if pending.count(b'"') % 2 == 0:
                    line += 1
                    yield line, _quoted(pending)
                    pending = None
                continue
            if b'"' in raw:
                if raw.count(b'"') % 2:
                    pending = raw
                    continue
                line += 1
                yield line, _quoted(raw)
                continue
            line += 1
            yield line, raw.rstrip(b"\r\n").split(b",")
        if pending is not None:
            yield line + 1, None


def _amount_ok(value: bytes, balance: bool) -> bool:
    digits = value[1:] if balance and value[:1] == b"-" else value
    return 1 <= len(digits) <= MAX_AMOUNT_DIGITS and digits.isdigit()


def value_errors(spec: FileSpec, rejected_lines: Set[int]) -> Iterator[dict]:
    """Each unusable row of the file: {"file", "line", "error", "column", "value"}."""
    balance = spec.kind == "balances"
    checks = [("saler_id", "MISSING_SALER_ID")] if balance else \
        [("response_id", "MISSING_RESPONSE_ID"), ("saler_id", "MISSING_SALER_ID")]
    checks = [(spec.positions[column], column, error) for column, error in checks]
    amounts = [(spec.positions[c], c) for c in (spec.amount_column, OPENING_BALANCE)
               if c in spec.positions]
    for line, row in records(spec.path):
        if row is None or len(row) != spec.width or line in rejected_lines:
            continue
        for position, column, error in checks:
            if not row[position].strip(b" "):
                yield {"file": spec.label, "line": line, "error": error, "column": column, "value": ""}
        for position, column in amounts:
            raw = row[position]
            if not _amount_ok(raw.strip(b" "), balance):
                yield {"file": spec.label, "line": line, "error": "INVALID_AMOUNT", "column": column,
                       "value": clip(raw.decode("utf-8", errors="replace"))}
