"""The reconciliation and audit engine: DuckDB, both kinds' file pairs, then the audit.

The pairs are reconciled by pairing.py (classification, duplicates, buckets). The audit
sums the merchant's pays minus withdraws per `saler_id` and compares the sum with the
payment side's `balances.csv`: with the balance itself, or, when the file has an
`opening_balance` column (the balance at the window's start), with
`balance - opening_balance`, the account's movement in the window. Every FAIL is
explained by the F113/F114/F115/DUPLICATE differences of that account, and the rest
is shown as unexplained.

DuckDB runs with a memory limit and spills to a temp directory under the configured
work folder; pairs larger than the limit's share are joined in buckets, so memory stays
bounded whatever the file size.
"""
import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from ..logs import log
from . import pairing, rowerrors
from .duckdb_session import Session, amount_sql, quote, size_bytes, value_sql
from .formats import (AUDIT, DUPLICATE, ERRORS, F113, F114, F115, FAIL, KINDS, MERCHANT,
                      OPENING_BALANCE, PAY_RECON, PAYMENT, SUCCESS, WITHDRAW_RECON, FileSpec,
                      InvalidBatch, Problem, file_spec)

RECON_FILE = {"pay": PAY_RECON, "withdraw": WITHDRAW_RECON}
ERROR_COLUMNS = ("file", "line", "error", "column", "value")
AUDIT_COLUMNS = ("saler_id", "balance", "result", "audit_amount", "opening_balance",
                 "balance_change", "difference",
                 "f113_amount", "f114_amount", "f115_amount", "duplicate_amount",
                 "saler_mismatch_amount", "unexplained_amount", "note")
# DuckDB's names for the rows it could not parse.
REJECT_NAMES = {"MISSING COLUMNS": "MISSING_COLUMNS", "TOO MANY COLUMNS": "TOO_MANY_COLUMNS",
                "INVALID ENCODING": "INVALID_UTF8", "INVALID UNICODE": "INVALID_UTF8",
                "UNQUOTED VALUE": "BAD_QUOTING",
                "LINE SIZE OVER MAXIMUM": "LINE_TOO_LONG", "CAST": "BAD_VALUE",
                "INVALID STATE": "BAD_QUOTING"}
# What the merchant's net is compared with (summary.json's audit.basis).
AUDIT_BASIS_BALANCE = "balance"
AUDIT_BASIS_MOVEMENT = "balance - opening_balance"
# A file with at most this many unusable rows is searched for them rather than read whole
# by rowerrors: each row's search reads the file's bytes once (~0.05 s per million lines),
# against 1-2 s of Python for the whole file.
SEARCHED_ROWS = 20
# The share of the memory limit one bucket's two input files may take: a bucket's parsed
# tables and its join's hash table together stay inside the limit then.
BUCKET_SHARE_OF_MEMORY = 0.5


@dataclass(frozen=True)
class EngineOptions:
    work_dir: Path                       # DuckDB's temp/spill files and home go here
    memory_limit: Optional[str] = None   # e.g. "512MB"; None: DuckDB's default (80 % of RAM)
    threads: Optional[int] = None        # None: one per core
    report_rows: int = 100               # discrepancies / failing accounts shown in report.html
    # Input bytes of a file pair joined at once; None: BUCKET_SHARE_OF_MEMORY of the memory
    # limit, or no buckets without a limit.
    bucket_bytes: Optional[int] = None

    def pair_bytes(self) -> Optional[int]:
        if self.bucket_bytes:
            return self.bucket_bytes
        limit = size_bytes(self.memory_limit)
        return int(limit * BUCKET_SHARE_OF_MEMORY) if limit else None


def _load_balances(session: Session, table: str, spec: FileSpec) -> str:
    source, rejects = session.read_csv(spec)
    p = spec.positions
    # Without an opening_balance column every account opens at 0 (the balance is the movement).
    opening = (amount_sql(p[OPENING_BALANCE], negative=True) if OPENING_BALANCE in p
               else "CAST(0 AS BIGINT)")
    session.sql(f"""
        CREATE TEMP TABLE {table} AS
        SELECT {value_sql(p['saler_id'])} AS saler_id, {amount_sql(p['balance'], negative=True)} AS balance,
               {opening} AS opening_balance
        FROM {source}""")
    return rejects


BALANCE_OK = "saler_id IS NOT NULL AND balance IS NOT NULL AND opening_balance IS NOT NULL"


def _audit(session: Session) -> None:
    """`audit`: one row per saler_id seen on either side."""
    session.sql(f"""
        CREATE TEMP TABLE audit AS
        WITH merchant AS (
               SELECT saler_id, sum(net) AS net FROM (
                 SELECT * FROM pay_net UNION ALL SELECT * FROM withdraw_net) GROUP BY 1),
             balance AS (
               SELECT saler_id, min(balance) AS balance, min(opening_balance) AS opening,
                      count(*) AS n
               FROM balances_p WHERE {BALANCE_OK} GROUP BY 1),
             explained AS (
               SELECT saler_id,
                      coalesce(sum(amount) FILTER (WHERE category = '{F113}'), 0) AS f113,
                      coalesce(sum(amount) FILTER (WHERE category = '{F114}'), 0) AS f114,
                      coalesce(sum(amount) FILTER (WHERE category = '{F115}'), 0) AS f115,
                      coalesce(sum(amount) FILTER (WHERE category = '{DUPLICATE}'), 0) AS dup,
                      coalesce(sum(amount) FILTER (WHERE category = 'MISMATCH'), 0) AS mismatch
               FROM (SELECT * FROM pay_explained UNION ALL SELECT * FROM withdraw_explained)
               GROUP BY 1),
             salers AS (
               SELECT saler_id FROM merchant UNION SELECT saler_id FROM balance
               UNION SELECT saler_id FROM explained),
             joined AS (
               SELECT s.saler_id,
                      CASE WHEN b.n = 1 THEN b.balance WHEN b.n IS NULL THEN 0 END AS balance,
                      CASE WHEN b.n = 1 THEN b.opening WHEN b.n IS NULL THEN 0 END AS opening_balance,
                      coalesce(m.net, 0) AS audit_amount,
                      coalesce(e.f113, 0) AS f113, coalesce(e.f114, 0) AS f114,
                      coalesce(e.f115, 0) AS f115, coalesce(e.dup, 0) AS dup,
                      coalesce(e.mismatch, 0) AS mismatch,
                      m.saler_id IS NOT NULL AS on_merchant, b.n
               FROM salers s LEFT JOIN merchant m USING (saler_id)
                    LEFT JOIN balance b USING (saler_id) LEFT JOIN explained e USING (saler_id))
        SELECT saler_id, balance,
               CASE WHEN balance IS NOT NULL AND balance - opening_balance = audit_amount
                    THEN '{SUCCESS}' ELSE '{FAIL}' END AS result,
               audit_amount, opening_balance, balance - opening_balance AS balance_change,
               balance - opening_balance - audit_amount AS difference,
               f113 AS f113_amount, f114 AS f114_amount, f115 AS f115_amount,
               dup AS duplicate_amount, mismatch AS saler_mismatch_amount,
               balance - opening_balance - audit_amount - (f113 + f114 + f115 + dup + mismatch)
                 AS unexplained_amount,
               nullif(concat_ws('; ',
                 CASE WHEN n IS NULL THEN 'no row in payment/balances.csv: balance taken as 0' END,
                 CASE WHEN n > 1 THEN 'listed ' || n || ' times in payment/balances.csv' END,
                 CASE WHEN NOT on_merchant THEN 'no order in the merchant files' END), '') AS note
        FROM joined""")


def _rejects(session: Session, rejects: str, spec: FileSpec) -> List[dict]:
    # DISTINCT: a file read again (for its duplicated ids' rows) reports its rejects again.
    rows = session.sql(f"SELECT DISTINCT line, error_type, column_name, csv_line FROM {rejects} "
                       f"ORDER BY line").fetchall()
    return [{"file": spec.label, "line": int(line), "error": REJECT_NAMES.get(str(kind), str(kind)),
             "column": "" if column is None or str(column).startswith("c") else column,
             "value": rowerrors.clip((text or "").strip("\r\n"))}
            for line, kind, column, text in rows]


def _set_aside_rows(session: Session, spec: FileSpec) -> List[tuple]:
    """Every field of the file's unusable rows (by rowerrors' rules, in SQL), as parsed."""
    source, _ = session.read_csv(spec)
    p, negative = spec.positions, rowerrors.negative_amounts(spec)
    unusable = " OR ".join(
        [f"{value_sql(p[column])} IS NULL" for column, _ in rowerrors.required_columns(spec)]
        + [f"{amount_sql(p[column], negative=negative)} IS NULL"
           for column in rowerrors.amount_columns(spec)])
    columns = ", ".join(f"c{i}" for i in range(spec.width))
    return session.sql(f"SELECT {columns} FROM {source} WHERE {unusable} "
                       f"LIMIT {SEARCHED_ROWS + 1}").fetchall()


def _errors_for(session: Session, spec: FileSpec, rejects: str, parsed: int, usable: int) -> tuple:
    """(row counts, error rows) of one file: DuckDB's rejects, then the unusable rows by line."""
    errors = _rejects(session, rejects, spec)
    rejected_lines = {e["line"] for e in errors}
    rejected = len(rejected_lines)
    if parsed != usable:
        found = None
        if parsed - usable <= SEARCHED_ROWS:
            found = rowerrors.search_value_errors(spec, rejected_lines, _set_aside_rows(session, spec),
                                                  int(parsed) + rejected)
        if found is None:
            found = list(rowerrors.value_errors(spec, rejected_lines))
        located = len({e["line"] for e in found})
        if located != parsed - usable:
            # Python and DuckDB read some odd line differently: say so rather than
            # fail the batch; the counts stay DuckDB's.
            log("recon.line_scan_mismatch", file=spec.label, set_aside=parsed - usable, located=located)
        errors.extend(found)
    counts = {"rows": int(parsed) + rejected, "usable": int(usable),
              "row_errors": int(parsed - usable) + rejected}
    return counts, errors


def run(batch_dir: Path, out_dir: Path, options: EngineOptions) -> dict:
    """Reconcile and audit the batch in `batch_dir` (manifests already checked).

    Writes pay_recon.csv, withdraw_recon.csv, audit.csv and errors.csv (when any)
    into `out_dir`; returns the figures summary.json is made of, and what the
    report needs. Raises InvalidBatch if a file lacks a column it needs.
    """
    batch_dir, out_dir = Path(batch_dir), Path(out_dir)
    specs = {(side, name): file_spec(side, name, batch_dir / side / name)
             for side, name in ((MERCHANT, "pay.csv"), (PAYMENT, "pay.csv"),
                                (MERCHANT, "withdraw.csv"), (PAYMENT, "withdraw.csv"),
                                (PAYMENT, "balances.csv"))}
    timings: Dict[str, int] = {}
    session = Session(options.work_dir, options.memory_limit, options.threads)
    try:
        return _run(session, specs, out_dir, options, timings)
    except Exception as error:
        unreadable = _unreadable_file(error, specs.values())
        if unreadable is None:
            raise
        raise unreadable from None
    finally:
        session.close()


def _unreadable_file(error: Exception, specs) -> Optional[InvalidBatch]:
    """An INVALID reason for a file DuckDB's CSV reader gave up on as a whole (its state
    machine can reach an invalid state on some malformed bytes even when told to set bad
    rows aside); None if the error is not that."""
    text = str(error)
    if type(error).__name__ != "InvalidInputException" or "CSV" not in text:
        return None
    for spec in specs:
        if f"file = {spec.path}" in text:
            first = text.strip().splitlines()[0][:200]
            return InvalidBatch([Problem(spec.side, spec.name, "UNREADABLE_CSV",
                                         f"the file cannot be read as CSV ({first})")])
    return None


def _run(session: Session, specs: dict, out_dir: Path, options: EngineOptions,
         timings: Dict[str, int]) -> dict:
    errors: List[dict] = []
    files: Dict[str, dict] = {}
    kinds: Dict[str, dict] = {}
    discrepancies: Dict[str, list] = {}
    buckets: Dict[str, int] = {}
    for kind in KINDS:
        started = time.monotonic()
        merchant, payment = specs[(MERCHANT, f"{kind}.csv")], specs[(PAYMENT, f"{kind}.csv")]
        result = pairing.reconcile(session, kind, merchant, payment, out_dir / RECON_FILE[kind],
                                   options.pair_bytes(), options.report_rows)
        for spec in (merchant, payment):
            files[spec.label], found = _errors_for(session, spec, result.rejects[spec.side],
                                                   *result.counts[spec.side])
            errors.extend(found)
        kinds[kind] = result.summary
        discrepancies[kind] = result.top
        timings[kind] = int((time.monotonic() - started) * 1000)
        buckets[kind] = result.buckets
    started = time.monotonic()
    spec = specs[(PAYMENT, "balances.csv")]
    rejects = _load_balances(session, "balances_p", spec)
    parsed, usable = session.sql(
        f"SELECT count(*), count(*) FILTER ({BALANCE_OK}) FROM balances_p").fetchone()
    files[spec.label], found = _errors_for(session, spec, rejects, parsed, usable)
    errors.extend(found)
    _audit(session)
    session.sql(f"COPY (SELECT {', '.join(AUDIT_COLUMNS)} FROM audit ORDER BY saler_id) "
                f"TO {quote(out_dir / AUDIT)} (FORMAT csv, HEADER true)")
    audit = _audit_summary(session)
    audit["basis"] = (AUDIT_BASIS_MOVEMENT if OPENING_BALANCE in spec.positions
                      else AUDIT_BASIS_BALANCE)
    timings["audit"] = int((time.monotonic() - started) * 1000)
    if errors:
        _write_errors(out_dir / ERRORS, errors)
    report = {"discrepancies": discrepancies,
              "failing_accounts": _failing_accounts(session, options.report_rows)}
    return {"files": files, "recon": kinds, "audit": audit, "row_errors": len(errors),
            "timings_ms": timings, "buckets": buckets, "report": report}


def _audit_summary(session: Session) -> dict:
    (accounts, ok, failed, merchant_only, payment_only, unexplained,
     difference) = session.sql(f"""
        SELECT count(*), count(*) FILTER (result = '{SUCCESS}'), count(*) FILTER (result = '{FAIL}'),
               count(*) FILTER (note LIKE '%no row in payment/balances.csv%'),
               count(*) FILTER (note LIKE '%no order in the merchant files%'),
               coalesce(sum(abs(unexplained_amount)) FILTER (result = '{FAIL}'), 0),
               coalesce(sum(abs(difference)) FILTER (result = '{FAIL}'), 0)
        FROM audit""").fetchone()
    return {"accounts": int(accounts), SUCCESS: int(ok), FAIL: int(failed),
            "merchant_only": int(merchant_only), "payment_only": int(payment_only),
            "fail_abs_difference": int(difference), "fail_abs_unexplained": int(unexplained)}


def _failing_accounts(session: Session, limit: int) -> list:
    """The failing accounts with the largest differences, for report.html."""
    cursor = session.sql(f"""
        SELECT {', '.join(AUDIT_COLUMNS)} FROM audit WHERE result = '{FAIL}'
        ORDER BY abs(coalesce(difference, 0)) DESC, saler_id LIMIT {int(limit)}""")
    return [dict(zip(AUDIT_COLUMNS, row)) for row in cursor.fetchall()]


def _write_errors(path: Path, errors: List[dict]) -> None:
    errors.sort(key=lambda e: (e["file"], e["line"], e["error"]))
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=ERROR_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(errors)


def dumps(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n"
