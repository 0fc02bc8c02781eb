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

Reading a whole file in Python costs about a second per million lines, so a file with
only a few such rows is searched instead (`search_value_errors`): each row's longest
value, as DuckDB parsed it, is looked up in the file's bytes, and only the lines it
occurs on are read. The answer counts only when it is certain: every line is one record
(the file's line count equals DuckDB's record count, so no blank line and no value with
a line break shifts the numbering), and the lines found are exactly as many as the rows
set aside. Otherwise the whole file is read as before.
"""
import csv
import io
import mmap
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

from .formats import BALANCES, OPENING_BALANCE, FileSpec

MAX_VALUE_CHARS = 200
MAX_AMOUNT_DIGITS = 18


def clip(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "..."


def _quoted(record: bytes) -> List[bytes]:
    text = record.decode("utf-8", errors="surrogateescape")
    row = next(csv.reader(io.StringIO(text, newline="")), [])
    return [field.encode("utf-8", errors="surrogateescape") for field in row]


def _fields(record: bytes) -> List[bytes]:
    """The fields of one complete record."""
    return _quoted(record) if b'"' in record else record.rstrip(b"\r\n").split(b",")


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
            if raw.count(b'"') % 2:
                pending = raw
                continue
            line += 1
            yield line, _fields(raw)
        if pending is not None:
            yield line + 1, None


def _amount_ok(value: bytes, balance: bool) -> bool:
    digits = value[1:] if balance and value[:1] == b"-" else value
    return 1 <= len(digits) <= MAX_AMOUNT_DIGITS and digits.isdigit()


def required_columns(spec: FileSpec) -> List[Tuple[str, str]]:
    """(column, error) of the values a usable row must have."""
    if spec.kind == BALANCES:
        return [("saler_id", "MISSING_SALER_ID")]
    return [("response_id", "MISSING_RESPONSE_ID"), ("saler_id", "MISSING_SALER_ID")]


def amount_columns(spec: FileSpec) -> List[str]:
    """The columns that must hold an amount of fen."""
    return [c for c in (spec.amount_column, OPENING_BALANCE) if c in spec.positions]


def negative_amounts(spec: FileSpec) -> bool:
    """Whether the file's amounts may be negative (a balance may; an order's amount not)."""
    return spec.kind == BALANCES


def _row_errors(spec: FileSpec, line: int, row: List[bytes]) -> Iterator[dict]:
    balance = negative_amounts(spec)
    for column, error in required_columns(spec):
        if not row[spec.positions[column]].strip(b" "):
            yield {"file": spec.label, "line": line, "error": error, "column": column, "value": ""}
    for column in amount_columns(spec):
        raw = row[spec.positions[column]]
        if not _amount_ok(raw.strip(b" "), balance):
            yield {"file": spec.label, "line": line, "error": "INVALID_AMOUNT", "column": column,
                   "value": clip(raw.decode("utf-8", errors="replace"))}


def value_errors(spec: FileSpec, rejected_lines: Set[int]) -> Iterator[dict]:
    """Each unusable row of the file: {"file", "line", "error", "column", "value"}."""
    for line, row in records(spec.path):
        if row is None or len(row) != spec.width or line in rejected_lines:
            continue
        yield from _row_errors(spec, line, row)


# A row is looked up by a value at least this long; a value found on more lines than
# MAX_HITS is too common to narrow the search down.
MIN_KEY_BYTES = 4
MAX_HITS = 64
COUNT_CHUNK = 16 << 20


def _line_numbers(data, starts: Sequence[int]) -> Tuple[Dict[int, int], int]:
    """The line number of each line start (sorted), and the file's number of lines."""
    numbers, position, newlines = {}, 0, 0
    for start in list(starts) + [len(data)]:
        while position < start:   # in chunks: a slice of an mmap is a copy
            end = min(start, position + COUNT_CHUNK)
            newlines += data[position:end].count(b"\n")
            position = end
        numbers[start] = newlines + 1
    ends_open = len(data) > 0 and data[len(data) - 1:] != b"\n"
    return numbers, newlines + (1 if ends_open else 0)


def search_value_errors(spec: FileSpec, rejected_lines: Set[int], set_aside: List[Sequence],
                        records_read: int) -> Optional[List[dict]]:
    """The errors of `set_aside`, the file's unusable rows (every field, as DuckDB parsed it),
    found by searching for one value of each; None when that cannot be sure of the answer.
    `records_read`: the records DuckDB read, parsed or rejected."""
    if not set_aside or not Path(spec.path).stat().st_size:
        return None
    keys = set()
    for row in set_aside:
        values = [v.encode("utf-8", errors="surrogateescape") for v in row if v]
        longest = max(values, key=len, default=b"")
        if len(longest) < MIN_KEY_BYTES:
            return None
        keys.add(longest)
    with open(spec.path, "rb") as stream:
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
            starts = set()
            for key in keys:
                hits, at = 0, data.find(key)
                while at != -1:
                    hits += 1
                    if hits > MAX_HITS:
                        return None
                    starts.add(data.rfind(b"\n", 0, at) + 1)
                    at = data.find(key, at + 1)
            starts.discard(0)   # the header
            starts = sorted(starts)
            numbers, lines = _line_numbers(data, starts)
            if lines - 1 != records_read:
                return None     # a blank line or a line break in a value: lines are not records
            errors, located = [], set()
            for start in starts:
                line = numbers[start]
                if line in rejected_lines:
                    continue
                end = data.find(b"\n", start)
                row = _fields(data[start:end if end != -1 else len(data)])
                if len(row) != spec.width:
                    continue
                found = list(_row_errors(spec, line, row))
                if found:
                    located.add(line)
                    errors.extend(found)
    return errors if len(located) == len(set_aside) else None
