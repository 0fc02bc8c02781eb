"""The reconciliation and audit engine: DuckDB, one SQL pass per file pair, bounded memory.

For each kind (pay, withdraw) the two sides' CSVs are parsed once each, all columns
as VARCHAR (ids are 20-digit strings and must never become numbers), matched by header. Unusable rows are set aside (row errors); the remaining rows
are joined on `response_id`:

* F000 on both sides with equal amounts, F113 only on the payment side,
  F114 only on the merchant side, F115 on both sides with different amounts;
* DUPLICATE: a `response_id` that occurs more than once on either side. Its rows
  (on both sides) are listed one by one and never joined, since a hash join
  would silently multiply them.

The audit sums the merchant's pays minus withdraws per `saler_id` and compares
the sum with the payment side's `balances.csv`: with the balance itself, or, when
the file has an `opening_balance` column (the balance at the window's start), with
`balance - opening_balance`, the account's movement in the window. Every FAIL is
explained by the F113/F114/F115/DUPLICATE differences of that account, and the rest
is shown as unexplained.

DuckDB runs with a memory limit and spills to a temp directory under the
configured work folder, so memory stays bounded whatever the file size.
"""
import csv
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from ..logs import log
from . import rowerrors
from .formats import (AUDIT, DUPLICATE, ERRORS, F000, F113, F114, F115, FAIL, KINDS,
                      MERCHANT, OPENING_BALANCE, PAY_RECON, PAYMENT, SUCCESS, WITHDRAW_RECON,
                      AMOUNT_COLUMN,
                      AMOUNT_PATTERN, BALANCE_PATTERN, FileSpec, file_spec)

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
MAX_LINE_BYTES = 1 << 20
# What the merchant's net is compared with (summary.json's audit.basis).
AUDIT_BASIS_BALANCE = "balance"
AUDIT_BASIS_MOVEMENT = "balance - opening_balance"


@dataclass(frozen=True)
class EngineOptions:
    work_dir: Path                       # DuckDB's temp/spill files and home go here
    memory_limit: Optional[str] = None   # e.g. "512MB"; None: DuckDB's default (80 % of RAM)
    threads: Optional[int] = None        # None: one per core
    report_rows: int = 100               # discrepancies / failing accounts shown in report.html


def _quote(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


class _Session:
    """One DuckDB connection configured to stay inside its limits."""

    def __init__(self, options: EngineOptions):
        Path(options.work_dir).mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="duckdb-", dir=options.work_dir))
        (self.work / "spill").mkdir(parents=True, exist_ok=True)
        (self.work / "home").mkdir(parents=True, exist_ok=True)
        config = {"preserve_insertion_order": "false",
                  "temp_directory": str(self.work / "spill"),
                  "autoinstall_known_extensions": "false",
                  "autoload_known_extensions": "false"}
        if options.memory_limit:
            config["memory_limit"] = options.memory_limit
        if options.threads:
            config["threads"] = str(options.threads)
        import duckdb  # here, not at import time: the API handler imports this package too

        # In memory: what outgrows the memory limit is spilled to the temp directory.
        self.con = duckdb.connect(":memory:", config=config)
        self.con.execute("SET enable_progress_bar = false")
        # Inside Lambda only /tmp is writable: DuckDB must not look at ~.
        self.con.execute(f"SET home_directory = {_quote(self.work / 'home')}")
        # A sequence is nearly free in a parallel scan, where row_number() OVER () is not.
        self.con.execute(f"CREATE SEQUENCE {ROW_IDS}")
        self._rejects = 0

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
        call = (f"read_csv({_quote(spec.path)}, header = true, auto_detect = false, "
                f"columns = {columns}, delim = ',', quote = '\"', escape = '\"', "
                f"strict_mode = true, ignore_errors = true, store_rejects = true, "
                f"rejects_table = '{rejects}', rejects_scan = 'scan_{rejects}', "
                f"max_line_size = {MAX_LINE_BYTES})")
        return call, rejects


def _value(column: int) -> str:
    """Column c<i> without surrounding spaces, NULL if empty. (The reader already makes empty
    fields NULL; trimming only values that start or end with a space is much cheaper.)"""
    c = f"c{column}"
    return (f"CASE WHEN starts_with({c}, ' ') OR ends_with({c}, ' ') "
            f"THEN nullif(trim({c}), '') ELSE {c} END")


def _amount(column: int, negative: bool = False) -> str:
    """Column c<i> as BIGINT if it is 1-18 ASCII digits (after a minus if `negative`),
    spaces around allowed, else NULL. (TRY_CAST alone would also take '+5', '5.0', '1e3',
    '0x10' and '1_000'.)"""
    pattern = BALANCE_PATTERN if negative else AMOUNT_PATTERN
    return (f"CASE WHEN regexp_full_match(c{column}, ' *{pattern} *') "
            f"THEN CAST(c{column} AS BIGINT) END")


ROW_IDS = "row_ids"
ERROR_M, ERROR_P = "ERROR_M", "ERROR_P"   # unusable rows, kept in <kind>_r to be counted
USABLE = f"diff_type NOT IN ('{ERROR_M}', '{ERROR_P}')"


def _orders(session: _Session, spec: FileSpec) -> tuple:
    """A SELECT over one order file: its fields; `k`, the response_id of a usable row
    (NULL for a row without response_id, saler_id or a valid amount); and `row_id`, a
    number no other row of the session has (it tells identical copies of a row apart)."""
    source, rejects = session.read_csv(spec)
    p = spec.positions
    # `k` is the only copy of the id carried through the join (an unusable row's id is not
    # needed: it is only counted, and errors.csv names it by line).
    select = f"""
        SELECT CASE WHEN saler_id IS NOT NULL AND amount IS NOT NULL THEN response_id END AS k,
               request_id, saler_id, amount, nextval('{ROW_IDS}') AS row_id
        FROM (SELECT {_value(p['response_id'])} AS response_id,
                     {_value(p['request_id'])} AS request_id,
                     {_value(p['saler_id'])} AS saler_id,
                     {_amount(p[spec.amount_column])} AS amount
              FROM {source})"""
    return select, rejects


def _load_balances(session: _Session, table: str, spec: FileSpec) -> str:
    source, rejects = session.read_csv(spec)
    p = spec.positions
    # Without an opening_balance column every account opens at 0 (the balance is the movement).
    opening = (_amount(p[OPENING_BALANCE], negative=True) if OPENING_BALANCE in p
               else "CAST(0 AS BIGINT)")
    session.sql(f"""
        CREATE TEMP TABLE {table} AS
        SELECT {_value(p['saler_id'])} AS saler_id, {_amount(p['balance'], negative=True)} AS balance,
               {opening} AS opening_balance
        FROM {source}""")
    return rejects


BALANCE_OK = "saler_id IS NOT NULL AND balance IS NOT NULL AND opening_balance IS NOT NULL"


def _reconcile(session: _Session, kind: str, merchant: FileSpec, payment: FileSpec) -> tuple:
    """`<kind>_r`: every row of both files, classified, in one pass over the pair.

    Returns the rejects tables of the two files and the number of duplicated ids.

    Unusable rows have no join key, so they never match: they come out of the join
    alone and are marked ERROR_M / ERROR_P (counted, then left out of everything).
    A response_id present more than once on one side makes more than one joined
    row, and only then: such ids are found in the join's output, and their joined
    rows are replaced by the sides' own rows, one per `row_id` of each side, as
    DUPLICATE. Every field of a side's row can be recovered from its joined rows,
    so the files are read once.
    """
    r = f"{kind}_r"
    m_select, m_rejects = _orders(session, merchant)
    p_select, p_rejects = _orders(session, payment)
    # One row per record. request_id and saler_id are the payment side's when it has the
    # record; the merchant's values are kept apart only where they differ ('' standing for
    # a merchant row without request_id).
    session.sql(f"""
        CREATE TEMP TABLE {r} AS
        SELECT coalesce(pu.k, mu.k) AS response_id,
               CASE WHEN pu.row_id IS NOT NULL THEN pu.request_id ELSE mu.request_id END AS request_id,
               coalesce(pu.saler_id, mu.saler_id) AS saler_id,
               CASE WHEN mu.saler_id <> pu.saler_id THEN mu.saler_id END AS m_saler_other,
               CASE WHEN mu.k IS NOT NULL AND pu.k IS NOT NULL
                         AND mu.request_id IS DISTINCT FROM pu.request_id
                    THEN coalesce(mu.request_id, '') END AS m_request_other,
               mu.amount AS m_amount, pu.amount AS p_amount,
               CASE WHEN mu.row_id IS NOT NULL AND mu.k IS NULL THEN '{ERROR_M}'
                    WHEN pu.row_id IS NOT NULL AND pu.k IS NULL THEN '{ERROR_P}'
                    WHEN mu.row_id IS NULL THEN '{F113}'
                    WHEN pu.row_id IS NULL THEN '{F114}'
                    WHEN mu.amount = pu.amount THEN '{F000}'
                    ELSE '{F115}' END AS diff_type,
               mu.row_id AS m_row, pu.row_id AS p_row
        FROM ({m_select}) mu FULL OUTER JOIN ({p_select}) pu ON mu.k = pu.k""")
    # Grouping by the 64-bit hash of the id first keeps the big aggregate small (no spill);
    # only the few candidate ids (hash collisions included) are grouped by the id itself.
    session.sql(f"""
        CREATE TEMP TABLE {kind}_dup AS
        WITH candidates AS (
          SELECT hash(response_id) AS h FROM {r} WHERE {USABLE} GROUP BY 1 HAVING count(*) > 1)
        SELECT response_id FROM {r}
        WHERE {USABLE} AND hash(response_id) IN (SELECT h FROM candidates)
        GROUP BY 1 HAVING count(*) > 1""")
    duplicated = session.sql(f"SELECT count(*) FROM {kind}_dup").fetchone()[0]
    if duplicated:
        session.sql(f"""
            CREATE TEMP TABLE {kind}_dup_rows AS
            SELECT * FROM {r} SEMI JOIN {kind}_dup USING (response_id) WHERE {USABLE}""")
        session.sql(f"DELETE FROM {r} WHERE {USABLE} AND response_id IN (SELECT response_id FROM {kind}_dup)")
        merchant_request = ("CASE WHEN m_request_other IS NULL THEN request_id "
                            "ELSE nullif(m_request_other, '') END")
        session.sql(f"""
            INSERT INTO {r}
            SELECT DISTINCT ON (m_row) response_id, {merchant_request}, coalesce(m_saler_other, saler_id),
                   NULL, NULL, m_amount, NULL, '{DUPLICATE}', m_row, NULL
            FROM {kind}_dup_rows WHERE m_row IS NOT NULL
            UNION ALL
            SELECT DISTINCT ON (p_row) response_id, request_id, saler_id,
                   NULL, NULL, NULL, p_amount, '{DUPLICATE}', NULL, p_row
            FROM {kind}_dup_rows WHERE p_row IS NOT NULL""")
        session.sql(f"DROP TABLE {kind}_dup_rows")
    return m_rejects, p_rejects, int(duplicated)


def _write_recon(session: _Session, kind: str, path: Path) -> None:
    """The discrepancies first, by diff type and response_id, then the F000 records.

    The F000 records (almost all of them) are written in no particular order: sorting
    millions of matched records would cost more than the rest of the pass."""
    amount = AMOUNT_COLUMN[kind]
    columns = f"""request_id, response_id, saler_id,
                 coalesce(p_amount, m_amount) AS {amount},
                 m_amount AS merchant_{amount}, p_amount AS payment_{amount}, diff_type,
                 nullif(concat_ws('; ',
                   'saler_id differs (merchant ' || m_saler_other || ')',
                   CASE m_request_other WHEN '' THEN 'request_id differs (merchant has none)'
                        ELSE 'request_id differs (merchant ' || m_request_other || ')' END
                 ), '') AS note"""
    matched = path.with_name(path.name + ".f000")
    session.sql(f"""
        COPY (SELECT {columns} FROM {kind}_r WHERE diff_type <> '{F000}' AND {USABLE}
              ORDER BY diff_type, response_id, m_amount IS NULL, m_amount, p_amount)
        TO {_quote(path)} (FORMAT csv, HEADER true)""")
    session.sql(f"""
        COPY (SELECT {columns} FROM {kind}_r WHERE diff_type = '{F000}')
        TO {_quote(matched)} (FORMAT csv, HEADER false)""")
    with open(path, "ab") as target, open(matched, "rb") as source:
        shutil.copyfileobj(source, target, 8 << 20)
    matched.unlink()


def _condense(session: _Session, kind: str, report_rows: int) -> list:
    """Keep what the audit and the report need of `<kind>_r`, then drop it (memory).

    `<kind>_net`: the merchant's sum per saler_id (pays positive, withdrawals negative);
    `<kind>_explained`: per saler_id and category, how much the discrepancies move the
    payment side's figure away from the merchant's. Returns the largest discrepancies."""
    sign, minus = ("", "-") if kind == "pay" else ("-", "")
    where = f"(diff_type <> '{F000}' OR m_saler_other IS NOT NULL) AND {USABLE}"
    category = f"CASE WHEN diff_type = '{F000}' THEN 'MISMATCH' ELSE diff_type END"
    session.sql(f"""
        CREATE TEMP TABLE {kind}_net AS
        SELECT coalesce(m_saler_other, saler_id) AS saler_id, {sign}sum(m_amount) AS net FROM {kind}_r
        WHERE m_amount IS NOT NULL AND {USABLE} GROUP BY 1""")
    session.sql(f"""
        CREATE TEMP TABLE {kind}_explained AS
        SELECT saler_id, category, sum(amount) AS amount FROM (
          SELECT saler_id, {category} AS category, {sign}p_amount AS amount
          FROM {kind}_r WHERE p_amount IS NOT NULL AND {where}
          UNION ALL
          SELECT coalesce(m_saler_other, saler_id), {category}, {minus}m_amount
          FROM {kind}_r WHERE m_amount IS NOT NULL AND {where}) GROUP BY ALL""")
    cursor = session.sql(f"""
        SELECT diff_type, response_id, request_id, saler_id, m_amount, p_amount
        FROM {kind}_r WHERE diff_type <> '{F000}' AND {USABLE}
        ORDER BY abs(coalesce(p_amount, 0) - coalesce(m_amount, 0)) DESC, response_id
        LIMIT {int(report_rows)}""")
    top = [dict(zip(("diff_type", "response_id", "request_id", "saler_id",
                     "merchant_amount", "payment_amount"), row)) for row in cursor.fetchall()]
    session.sql(f"DROP TABLE {kind}_r")
    session.sql(f"DROP TABLE {kind}_dup")
    return top


def _audit(session: _Session) -> None:
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


def _rejects(session: _Session, rejects: str, spec: FileSpec) -> List[dict]:
    rows = session.sql(f"SELECT line, error_type, column_name, csv_line FROM {rejects} "
                       f"ORDER BY line").fetchall()
    return [{"file": spec.label, "line": int(line), "error": REJECT_NAMES.get(str(kind), str(kind)),
             "column": "" if column is None or str(column).startswith("c") else column,
             "value": rowerrors.clip((text or "").strip("\r\n"))}
            for line, kind, column, text in rows]


def _errors_for(session: _Session, spec: FileSpec, rejects: str, parsed: int, usable: int) -> tuple:
    """(row counts, error rows) of one file: DuckDB's rejects, then the unusable rows by line."""
    errors = _rejects(session, rejects, spec)
    rejected = len({e["line"] for e in errors})
    if parsed != usable:
        found = list(rowerrors.value_errors(spec, {e["line"] for e in errors}))
        located = len({e["line"] for e in found})
        if located != parsed - usable:
            # Python and DuckDB read some odd line differently: say so rather than
            # fail the batch; the counts stay DuckDB's.
            log("recon.line_scan_mismatch", file=spec.label, set_aside=parsed - usable, located=located)
        errors.extend(found)
    counts = {"rows": int(parsed) + rejected, "usable": int(usable),
              "row_errors": int(parsed - usable) + rejected}
    return counts, errors


def _side_counts(session: _Session, kind: str) -> dict:
    """(rows parsed, rows usable) of each side's file, from `<kind>_r`."""
    row = session.sql(f"""
        SELECT count(*) FILTER (diff_type IN ('{F000}', '{F114}', '{F115}')
                                OR (diff_type = '{DUPLICATE}' AND m_amount IS NOT NULL)),
               count(*) FILTER (diff_type = '{ERROR_M}'),
               count(*) FILTER (diff_type IN ('{F000}', '{F113}', '{F115}')
                                OR (diff_type = '{DUPLICATE}' AND p_amount IS NOT NULL)),
               count(*) FILTER (diff_type = '{ERROR_P}')
        FROM {kind}_r""").fetchone()
    return {MERCHANT: (row[0] + row[1], row[0]), PAYMENT: (row[2] + row[3], row[2])}


def _diff_summary(session: _Session, kind: str, duplicated: int) -> dict:
    rows = session.sql(f"""
        SELECT diff_type, count(*), coalesce(sum(m_amount), 0), coalesce(sum(p_amount), 0)
        FROM {kind}_r GROUP BY 1""").fetchall()
    found = {r[0]: r for r in rows}
    out = {}
    for diff in (F000, F113, F114, F115, DUPLICATE):
        _, count, merchant, payment = found.get(diff, (diff, 0, 0, 0))
        out[diff] = {"count": int(count), "merchant_amount": int(merchant),
                     "payment_amount": int(payment)}
    out[DUPLICATE]["response_ids"] = duplicated
    return out


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
    session = _Session(options)
    try:
        errors: List[dict] = []
        files: Dict[str, dict] = {}
        kinds: Dict[str, dict] = {}
        discrepancies: Dict[str, list] = {}
        for kind in KINDS:
            started = time.monotonic()
            merchant, payment = specs[(MERCHANT, f"{kind}.csv")], specs[(PAYMENT, f"{kind}.csv")]
            m_rejects, p_rejects, duplicated = _reconcile(session, kind, merchant, payment)
            counts = _side_counts(session, kind)
            for spec, rejects in ((merchant, m_rejects), (payment, p_rejects)):
                files[spec.label], found = _errors_for(session, spec, rejects, *counts[spec.side])
                errors.extend(found)
            _write_recon(session, kind, out_dir / RECON_FILE[kind])
            kinds[kind] = _diff_summary(session, kind, duplicated)
            discrepancies[kind] = _condense(session, kind, options.report_rows)
            timings[kind] = int((time.monotonic() - started) * 1000)
        started = time.monotonic()
        spec = specs[(PAYMENT, "balances.csv")]
        rejects = _load_balances(session, "balances_p", spec)
        parsed, usable = session.sql(
            f"SELECT count(*), count(*) FILTER ({BALANCE_OK}) FROM balances_p").fetchone()
        files[spec.label], found = _errors_for(session, spec, rejects, parsed, usable)
        errors.extend(found)
        _audit(session)
        session.sql(f"COPY (SELECT {', '.join(AUDIT_COLUMNS)} FROM audit ORDER BY saler_id) "
                    f"TO {_quote(out_dir / AUDIT)} (FORMAT csv, HEADER true)")
        audit = _audit_summary(session)
        audit["basis"] = (AUDIT_BASIS_MOVEMENT if OPENING_BALANCE in spec.positions
                          else AUDIT_BASIS_BALANCE)
        timings["audit"] = int((time.monotonic() - started) * 1000)
        if errors:
            _write_errors(out_dir / ERRORS, errors)
        report = {"discrepancies": discrepancies,
                  "failing_accounts": _failing_accounts(session, options.report_rows)}
    finally:
        session.close()
    return {"files": files, "recon": kinds, "audit": audit, "row_errors": len(errors),
            "timings_ms": timings, "report": report}


def _audit_summary(session: _Session) -> dict:
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


def _failing_accounts(session: _Session, limit: int) -> list:
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
