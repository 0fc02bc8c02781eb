"""The files of one reconciliation batch: names, columns, headers, problems.

A batch folder (S3 `incoming/<batch>/`, or a local folder for the CLI) holds

    merchant/pay.csv  merchant/withdraw.csv  merchant/_manifest.json
    payment/pay.csv   payment/withdraw.csv   payment/balances.csv  payment/_manifest.json

Order files have a header row; columns are matched by name (case and
surrounding spaces ignored), in any order, and extra columns are ignored.
"""
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

MERCHANT, PAYMENT = "merchant", "payment"
SIDES = (MERCHANT, PAYMENT)
MANIFEST = "_manifest.json"
PAY, WITHDRAW = "pay", "withdraw"
KINDS = (PAY, WITHDRAW)
AMOUNT_COLUMN = {PAY: "total_fee", WITHDRAW: "withdraw_money"}
BALANCES = "balances"

# The files each side must list in its manifest (and upload).
REQUIRED_FILES: Dict[str, Tuple[str, ...]] = {
    MERCHANT: ("pay.csv", "withdraw.csv"),
    PAYMENT: ("pay.csv", "withdraw.csv", "balances.csv"),
}

# The columns the engine reads from each kind of file (everything else is ignored).
ORDER_COLUMNS = ("request_id", "response_id", "saler_id")
BALANCE_COLUMNS = ("saler_id", "balance")
# balances.csv may also hold each account's balance at the window's start: the audit then
# compares the merchant's net with balance - opening_balance, the movement in the window
# (without the column, opening balances are 0: the balance itself is compared).
OPENING_BALANCE = "opening_balance"
OPTIONAL_COLUMNS = {BALANCES: (OPENING_BALANCE,)}

# Result files, as written under results/<batch>/ (or the CLI's out folder).
PAY_RECON, WITHDRAW_RECON = "pay_recon.csv", "withdraw_recon.csv"
AUDIT, ERRORS, SUMMARY, REPORT, ERROR = ("audit.csv", "errors.csv", "summary.json",
                                         "report.html", "error.json")
PAY_DUPLICATES, WITHDRAW_DUPLICATES = "pay_duplicates.csv", "withdraw_duplicates.csv"
RESULT_FILES = (PAY_RECON, WITHDRAW_RECON, PAY_DUPLICATES, WITHDRAW_DUPLICATES, AUDIT, ERRORS,
                SUMMARY, REPORT, ERROR)
# The result file's own columns besides the other fields: a file column of one of these names
# is not carried (it would be ambiguous), nor are more than MAX_OTHER_FIELDS fields.
RECON_OWN_COLUMNS = ("request_id", "response_id", "diff_type", "saler_id", "rows", "note", "side")
MAX_OTHER_FIELDS = 32

# Diff types: the contract's four, and duplicates as their own category.
F000, F113, F114, F115, DUPLICATE = "F000", "F113", "F114", "F115", "DUPLICATE"
DIFF_TYPES = (F000, F113, F114, F115, DUPLICATE)
SUCCESS, FAIL = "SUCCESS", "FAIL"

# Amounts are integers of fen written with the digits 0-9 (at most 18, so they fit
# a signed 64-bit integer); balances may carry a leading minus.
AMOUNT_PATTERN = "[0-9]{1,18}"
BALANCE_PATTERN = "-?[0-9]{1,18}"

BATCH_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def valid_batch_name(name: str) -> bool:
    return bool(BATCH_NAME.fullmatch(name or "")) and ".." not in name


@dataclass(frozen=True)
class Problem:
    """One reason a batch is INVALID."""
    side: Optional[str]
    file: Optional[str]
    problem: str
    detail: str
    expected: object = None
    found: object = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class InvalidBatch(Exception):
    """The batch's inputs are incomplete or inconsistent: nothing is reconciled."""

    def __init__(self, problems: List[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{p.side or ''}/{p.file or ''}: {p.detail}" for p in problems))


@dataclass(frozen=True)
class FileSpec:
    """One input file to read: where it is and which of its columns hold what."""
    side: str
    name: str                   # pay.csv, withdraw.csv, balances.csv
    path: Path
    width: int                  # number of columns in the header
    positions: Dict[str, int] = field(default_factory=dict)   # wanted column -> index
    # The record's other fields carried into the result files (name -> index), in header order.
    others: Dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.side}/{self.name}"

    @property
    def kind(self) -> str:
        return self.name[:-len(".csv")]

    @property
    def amount_column(self) -> str:
        return "balance" if self.kind == BALANCES else AMOUNT_COLUMN[self.kind]


def wanted_columns(name: str) -> Tuple[str, ...]:
    kind = name[:-len(".csv")]
    if kind == BALANCES:
        return BALANCE_COLUMNS
    return ORDER_COLUMNS + (AMOUNT_COLUMN[kind],)


def normalise(column: str) -> str:
    return column.strip().strip("\ufeff").strip().lower()


# The longest header row read (the engine's longest line too): ~20,000 columns of ordinary names.
MAX_HEADER_BYTES = 1 << 20


class HeaderTooLong(ValueError):
    """The first line does not end within MAX_HEADER_BYTES."""


def read_header(path: Path) -> List[str]:
    """The header row, decoded as UTF-8 (a byte-order mark is dropped)."""
    with open(path, "rb") as raw:
        first = raw.readline(MAX_HEADER_BYTES + 1)
        if len(first) > MAX_HEADER_BYTES or (len(first) == MAX_HEADER_BYTES + 1
                                             and not first.endswith(b"\n")):
            raise HeaderTooLong(path)
    text = first.decode("utf-8-sig")          # raises UnicodeDecodeError
    row = next(csv.reader(io.StringIO(text)), None)
    return row or []


def file_spec(side: str, name: str, path: Path) -> FileSpec:
    """Match the wanted columns by header; raise InvalidBatch naming what is missing."""
    try:
        header = read_header(path)
    except UnicodeDecodeError:
        raise InvalidBatch([Problem(side, name, "HEADER_NOT_UTF8",
                                    "the header row is not UTF-8 text")]) from None
    except HeaderTooLong:
        raise InvalidBatch([Problem(side, name, "HEADER_TOO_LONG",
                                    f"the header row is longer than {MAX_HEADER_BYTES} bytes")]) from None
    if not header or all(not c.strip() for c in header):
        raise InvalidBatch([Problem(side, name, "NO_HEADER", "the file has no header row")])
    names = [normalise(c) for c in header]
    positions, problems = {}, []
    optional = OPTIONAL_COLUMNS.get(name[:-len(".csv")], ())
    for wanted in wanted_columns(name) + optional:
        found = [i for i, n in enumerate(names) if n == wanted]
        if not found and wanted in optional:
            continue
        if not found:
            # The header itself is never echoed: it can be megabytes of the uploader's text.
            problems.append(Problem(side, name, "MISSING_COLUMN",
                                    f"the header has no column {wanted}", expected=wanted))
        elif len(found) > 1:
            problems.append(Problem(side, name, "DUPLICATE_COLUMN",
                                    f"the header names column {wanted} {len(found)} times",
                                    expected=wanted, found=len(found)))
        else:
            positions[wanted] = found[0]
    if problems:
        raise InvalidBatch(problems)
    return FileSpec(side=side, name=name, path=path, width=len(header), positions=positions,
                    others=_other_fields(name, names))


def _other_fields(name: str, names: List[str]) -> Dict[str, int]:
    """The columns an order file's records carry into the result file beside the ones the
    engine reads (request_time and response_time, say): each name once, in header order."""
    kind = name[:-len(".csv")]
    if kind == BALANCES:
        return {}
    amount = AMOUNT_COLUMN[kind]
    reserved = set(RECON_OWN_COLUMNS) | {amount, f"merchant_{amount}", f"payment_{amount}"}
    seen, others = set(), {}
    for index, column in enumerate(names):
        if not column or column in reserved or column in seen:
            seen.add(column)
            continue
        seen.add(column)
        others[column] = index
    return dict(list(others.items())[:MAX_OTHER_FIELDS])

