"""One export file: rows streamed to a temporary file, hashed and counted on the way.

Rows never pile up in memory: they are encoded in small chunks, each chunk hashed
(SHA-256) and appended to the file, so memory stays flat whatever the row count.
UTF-8, no byte-order mark, a header row, `\\n` line ends, RFC 4180 quoting where
needed. A value holding a line break is refused: the manifest's row count is the
number of lines after the header (what the reconciler checks), so one row must be
one line.
"""
import csv
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..payments.orders import Kind

ORDER_COLUMNS = ("request_time", "request_id", "response_time", "response_id", "saler_id")
BALANCE_COLUMNS = ("saler_id", "balance", "opening_balance")
FLUSH_CHARS = 64 << 10


def order_header(kind: Kind) -> tuple:
    """`request_time, request_id, response_time, response_id, saler_id, total_fee|withdraw_money`."""
    return ORDER_COLUMNS + (kind.amount_field,)


class UnexportableValue(ValueError):
    """A value that would break the one-row-one-line rule."""


@dataclass(frozen=True)
class SpooledFile:
    path: Path
    rows: int           # data rows, header excluded
    sha256: str         # of the file's bytes
    size: int


class CsvSpool:
    """`with CsvSpool(tmp_dir, header) as spool: spool.write(row) ...; facts = spool.close()`."""

    def __init__(self, tmp_dir: str, header: Sequence[str]):
        Path(tmp_dir).mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="export-", suffix=".csv", dir=tmp_dir)
        self._file = os.fdopen(handle, "wb")
        self.path = Path(name)
        self._digest = hashlib.sha256()
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self._size = 0
        self.rows = 0
        self._put(header)

    def _put(self, row: Sequence) -> None:
        for value in row:
            if isinstance(value, str) and ("\n" in value or "\r" in value):
                raise UnexportableValue(f"a value holds a line break: {value[:40]!r}")
        self._writer.writerow(row)
        if self._buffer.tell() >= FLUSH_CHARS:
            self._flush()

    def write(self, row: Sequence) -> None:
        self._put(row)
        self.rows += 1

    def write_all(self, rows: Iterable[Sequence]) -> None:
        for row in rows:
            self.write(row)

    def _flush(self) -> None:
        data = self._buffer.getvalue().encode("utf-8")
        self._buffer.seek(0)
        self._buffer.truncate(0)
        self._digest.update(data)
        self._file.write(data)
        self._size += len(data)

    def close(self) -> SpooledFile:
        self._flush()
        self._file.close()
        return SpooledFile(self.path, self.rows, self._digest.hexdigest(), self._size)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "CsvSpool":
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None:
            self.discard()
