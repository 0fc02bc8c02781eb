"""The engine's DuckDB connection and the SQL snippets that read the batch's CSV cells.

Every column is read as VARCHAR (ids are 20-digit strings and must never become
numbers); amounts become BIGINT only through `amount_sql`'s strict pattern.
"""
import re
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Optional

from .formats import (AMOUNT_PATTERN, BALANCE_PATTERN, DUPLICATE, F000, F113, F114, F115,
                      FileSpec)

MAX_LINE_BYTES = 1 << 20
DIFF_TYPE = "diff_type_t"
# In the order of their names, so that sorting by the enum sorts as by the text.
DIFF_LABELS = sorted((F000, F113, F114, F115, DUPLICATE))

_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?i?B)?\s*", re.IGNORECASE)
_UNIT = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def quote(text) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def size_bytes(text: Optional[str]) -> Optional[int]:
    """A DuckDB memory size ("640MB", "1.5GiB") in bytes; None if it is not one."""
    match = _SIZE.fullmatch(text or "")
    if not match:
        return None
    return int(Decimal(match.group(1)) * _UNIT[(match.group(2) or "").upper()])


class Session:
    """One DuckDB connection configured to stay inside its limits."""

    def __init__(self, work_dir: Path, memory_limit: Optional[str], threads: Optional[int]):
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="duckdb-", dir=work_dir))
        for folder in ("spill", "home", "stage"):
            (self.work / folder).mkdir(parents=True, exist_ok=True)
        config = {"preserve_insertion_order": "false",
                  "temp_directory": str(self.work / "spill"),
                  "autoinstall_known_extensions": "false",
                  "autoload_known_extensions": "false"}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if threads:
            config["threads"] = str(threads)
        import duckdb  # here, not at import time: the API handler imports this package too

        # In memory: what outgrows the memory limit is spilled to the temp directory.
        self.con = duckdb.connect(":memory:", config=config)
        self.con.execute("SET enable_progress_bar = false")
        # Inside Lambda only /tmp is writable: DuckDB must not look at ~.
        self.con.execute(f"SET home_directory = {quote(self.work / 'home')}")
        # One byte per row instead of a 16-byte string slot in the biggest table.
        labels = ", ".join(quote(label) for label in DIFF_LABELS)
        self.con.execute(f"CREATE TYPE {DIFF_TYPE} AS ENUM ({labels})")
        self._rejects = 0

    @property
    def stage(self) -> Path:
        """Scratch folder for staged copies of the inputs (removed with the session)."""
        return self.work / "stage"

    def close(self):
        try:
            self.con.close()
        finally:
            shutil.rmtree(self.work, ignore_errors=True)

    def sql(self, text: str):
        return self.con.execute(text)

    def read_csv(self, spec: FileSpec) -> tuple:
        """The `read_csv(...)` call for a file, and the name of its rejects table."""
        self._rejects += 1
        rejects = f"rejects_{self._rejects}"
        columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(spec.width)) + "}"
        call = (f"read_csv({quote(spec.path)}, header = true, auto_detect = false, "
                f"columns = {columns}, delim = ',', quote = '\"', escape = '\"', "
                f"strict_mode = true, ignore_errors = true, store_rejects = true, "
                f"rejects_table = '{rejects}', rejects_scan = 'scan_{rejects}', "
                f"max_line_size = {MAX_LINE_BYTES})")
        return call, rejects


def value_sql(column: int) -> str:
    """Column c<i> without surrounding spaces, NULL if empty. (The reader already makes empty
    fields NULL; trimming only values that start or end with a space is much cheaper.)"""
    c = f"c{column}"
    return (f"CASE WHEN starts_with({c}, ' ') OR ends_with({c}, ' ') "
            f"THEN nullif(trim({c}), '') ELSE {c} END")


def amount_sql(column: int, negative: bool = False) -> str:
    """Column c<i> as BIGINT if it is 1-18 ASCII digits (after a minus if `negative`),
    spaces around allowed, else NULL. (TRY_CAST alone would also take '+5', '5.0', '1e3',
    '0x10' and '1_000'.)"""
    pattern = BALANCE_PATTERN if negative else AMOUNT_PATTERN
    return (f"CASE WHEN regexp_full_match(c{column}, ' *{pattern} *') "
            f"THEN CAST(c{column} AS BIGINT) END")
