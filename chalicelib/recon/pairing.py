"""One kind's file pair (pay or withdraw) joined on response_id, in buckets of the id's hash.

Every row of both files is classified:

* F000 on both sides with equal amounts, F113 only on the payment side,
  F114 only on the merchant side, F115 on both sides with different amounts;
* DUPLICATE: a `response_id` that occurs more than once on either side. Its rows
  (on both sides) are listed one by one and never joined, since a hash join
  would silently multiply them;
* ERROR_M / ERROR_P: an unusable row (no response_id, saler_id or valid amount).
  It has no join key, so it never matches; it is counted, and errors.csv names it.

A join whose two files do not fit in the memory limit's share spills its hash table
and its output, which costs more than copying the inputs once. So when the pair is
larger than `bucket_bytes`, each side is first copied into Parquet files partitioned
by `hash(response_id) % buckets` (the stage), and the buckets are joined one after
another, each in memory. A response_id's rows all fall in one bucket, so duplicates
are found per bucket. A small pair is joined straight from the CSV files (one bucket).

Per bucket, the matched F000 records are copied straight into a part of the result
file; only the discrepancies (a few per cent) are kept, for the sorted head of the
result file, the audit's explanations and the report.
"""
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .duckdb_session import (DIFF_TYPE, ERROR_M, ERROR_P, ROW_IDS, USABLE, Session, amount_sql,
                             quote, value_sql)
from .formats import (AMOUNT_COLUMN, DUPLICATE, F000, F113, F114, F115, MERCHANT, PAYMENT,
                      FileSpec)

REPORTED_TYPES = (F000, F113, F114, F115, DUPLICATE)
STAGED_FIELDS = "k, request_id, saler_id, amount"
_EMPTY_SIDE = ("SELECT NULL::VARCHAR AS k, NULL::VARCHAR AS request_id, NULL::VARCHAR AS saler_id, "
               "NULL::BIGINT AS amount, NULL::BIGINT AS row_id WHERE false")


@dataclass
class KindResult:
    """What the engine needs of one kind once its result file is written."""
    rejects: Dict[str, str]                       # side -> DuckDB rejects table
    counts: Dict[str, List[int]]                  # side -> [rows parsed, rows usable]
    summary: Dict[str, dict]                      # diff type -> count, sums (DUPLICATE: ids too)
    duplicated: int = 0                           # response_ids listed as DUPLICATE
    top: List[dict] = field(default_factory=list)  # the largest discrepancies
    buckets: int = 1


def bucket_count(merchant: FileSpec, payment: FileSpec, bucket_bytes: Optional[int]) -> int:
    """How many buckets keep each join's share of the two files under `bucket_bytes`."""
    if not bucket_bytes:
        return 1
    size = Path(merchant.path).stat().st_size + Path(payment.path).stat().st_size
    return max(1, -(-size // bucket_bytes))


def orders_select(session: Session, spec: FileSpec, numbered: bool = True) -> Tuple[str, str]:
    """A SELECT over one order file: its fields; `k`, the response_id of a usable row
    (NULL for a row without response_id, saler_id or a valid amount); and, if `numbered`,
    `row_id`, a number no other row of the session has (it tells identical copies of a
    row apart). Returns it with the name of the file's rejects table."""
    source, rejects = session.read_csv(spec)
    p = spec.positions
    # `k` is the only copy of the id carried through the join (an unusable row's id is not
    # needed: it is only counted, and errors.csv names it by line).
    row_id = f", nextval('{ROW_IDS}') AS row_id" if numbered else ""
    select = f"""
        SELECT CASE WHEN saler_id IS NOT NULL AND amount IS NOT NULL THEN response_id END AS k,
               request_id, saler_id, amount{row_id}
        FROM (SELECT {value_sql(p['response_id'])} AS response_id,
                     {value_sql(p['request_id'])} AS request_id,
                     {value_sql(p['saler_id'])} AS saler_id,
                     {amount_sql(p[spec.amount_column])} AS amount
              FROM {source})"""
    return select, rejects


def _stage(session: Session, select: str, folder: Path, buckets: int) -> List[str]:
    """Copy one side into Parquet partitioned by bucket; the SELECT of each bucket, its rows
    numbered by file and position (unique within the side's bucket, which is all the
    duplicates need).

    The stage is written uncompressed: it is read once, from the page cache, and snappy
    cost more time than the smaller files save (benchmarks/RESULTS.md)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    session.sql(f"""
        COPY (SELECT {STAGED_FIELDS}, CAST(hash(k) % {buckets} AS INTEGER) AS bucket
              FROM ({select}))
        TO {quote(folder)} (FORMAT parquet, PARTITION_BY (bucket), COMPRESSION uncompressed)""")
    sources = []
    for index in range(buckets):
        files = sorted((folder / f"bucket={index}").glob("*.parquet"))
        sources.append(" UNION ALL ".join(
            f"SELECT {STAGED_FIELDS}, file_row_number + {number << 40} AS row_id "
            f"FROM read_parquet({quote(path)}, file_row_number = true, hive_partitioning = false)"
            for number, path in enumerate(files)) or _EMPTY_SIDE)
    return sources


def _join(session: Session, r: str, m_source: str, p_source: str) -> None:
    """`r`: one row per record of the bucket. request_id and saler_id are the payment
    side's when it has the record; the merchant's values are kept apart only where they
    differ ('' standing for a merchant row without request_id)."""
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
                    ELSE '{F115}' END::{DIFF_TYPE} AS diff_type,
               mu.row_id AS m_row, pu.row_id AS p_row
        FROM ({m_source}) mu FULL OUTER JOIN ({p_source}) pu ON mu.k = pu.k""")


def _split_duplicates(session: Session, r: str) -> int:
    """Replace the joined rows of every duplicated response_id by the sides' own rows, one
    per `row_id` of each side, as DUPLICATE; the number of such ids.

    A response_id present more than once on one side makes more than one joined row, and
    only then. Every field of a side's row can be recovered from its joined rows."""
    dup = f"{r}_dup"
    # Grouping by the 64-bit hash of the id keeps the big aggregate small (no spill); one
    # more scan takes the rows of the candidate hashes (the duplicates and any collisions),
    # and only those few rows are grouped by the id itself and removed, by their rowid.
    session.sql(f"""
        CREATE TEMP TABLE {dup} AS
        SELECT *, rowid AS r_rowid FROM {r}
        WHERE {USABLE} AND hash(response_id) IN (
          SELECT hash(response_id) FROM {r} WHERE {USABLE} GROUP BY 1 HAVING count(*) > 1)""")
    session.sql(f"""
        DELETE FROM {dup} WHERE response_id IN (
          SELECT response_id FROM {dup} GROUP BY 1 HAVING count(*) = 1)""")
    duplicated = session.sql(f"SELECT count(DISTINCT response_id) FROM {dup}").fetchone()[0]
    if duplicated:
        session.sql(f"DELETE FROM {r} WHERE rowid IN (SELECT r_rowid FROM {dup})")
        merchant_request = ("CASE WHEN m_request_other IS NULL THEN request_id "
                            "ELSE nullif(m_request_other, '') END")
        session.sql(f"""
            INSERT INTO {r}
            SELECT DISTINCT ON (m_row) response_id, {merchant_request}, coalesce(m_saler_other, saler_id),
                   NULL, NULL, m_amount, NULL, '{DUPLICATE}', m_row, NULL
            FROM {dup} WHERE m_row IS NOT NULL
            UNION ALL
            SELECT DISTINCT ON (p_row) response_id, request_id, saler_id,
                   NULL, NULL, NULL, p_amount, '{DUPLICATE}', NULL, p_row
            FROM {dup} WHERE p_row IS NOT NULL""")
    session.sql(f"DROP TABLE {dup}")
    return int(duplicated)


def _tally(session: Session, r: str, result: KindResult) -> None:
    """Add the bucket's rows to the side counts and the per-type counts and sums."""
    rows = session.sql(f"""
        SELECT diff_type::VARCHAR, m_amount IS NOT NULL, p_amount IS NOT NULL, count(*),
               coalesce(sum(m_amount), 0), coalesce(sum(p_amount), 0)
        FROM {r} GROUP BY ALL""").fetchall()
    for diff, has_m, has_p, count, m_sum, p_sum in rows:
        if diff == ERROR_M:
            result.counts[MERCHANT][0] += count
        elif diff == ERROR_P:
            result.counts[PAYMENT][0] += count
        else:
            for side, present in ((MERCHANT, has_m), (PAYMENT, has_p)):
                if present:
                    result.counts[side][0] += count
                    result.counts[side][1] += count
            totals = result.summary[diff]
            totals["count"] += int(count)
            totals["merchant_amount"] += int(m_sum)
            totals["payment_amount"] += int(p_sum)


def _append_rows(session: Session, table: str, select: str, first: bool) -> None:
    session.sql(f"CREATE TEMP TABLE {table} AS {select}" if first
                else f"INSERT INTO {table} {select}")


def _recon_columns(kind: str) -> str:
    amount = AMOUNT_COLUMN[kind]
    return f"""request_id, response_id, saler_id,
               coalesce(p_amount, m_amount) AS {amount},
               m_amount AS merchant_{amount}, p_amount AS payment_{amount}, diff_type,
               nullif(concat_ws('; ',
                 'saler_id differs (merchant ' || m_saler_other || ')',
                 CASE m_request_other WHEN '' THEN 'request_id differs (merchant has none)'
                      ELSE 'request_id differs (merchant ' || m_request_other || ')' END
               ), '') AS note"""


def reconcile(session: Session, kind: str, merchant: FileSpec, payment: FileSpec,
              path: Path, bucket_bytes: Optional[int], report_rows: int) -> KindResult:
    """Write the kind's result file to `path`; leave `<kind>_net` (the merchant's sum per
    saler_id, withdrawals negative) and `<kind>_explained` (per saler_id and category, how
    much the discrepancies move the payment side's figure away from the merchant's) for the
    audit; return the counts, sums and largest discrepancies."""
    buckets = bucket_count(merchant, payment, bucket_bytes)
    # Staged rows are numbered when read back: drawing from the sequence while the files
    # are parsed costs more (benchmarks/RESULTS.md).
    numbered = buckets == 1
    m_select, m_rejects = orders_select(session, merchant, numbered)
    p_select, p_rejects = orders_select(session, payment, numbered)
    result = KindResult(rejects={MERCHANT: m_rejects, PAYMENT: p_rejects},
                        counts={MERCHANT: [0, 0], PAYMENT: [0, 0]},
                        summary={d: {"count": 0, "merchant_amount": 0, "payment_amount": 0}
                                 for d in REPORTED_TYPES},
                        buckets=buckets)
    stage = session.stage / kind   # the staged inputs and the matched records' parts
    stage.mkdir(parents=True, exist_ok=True)
    if buckets == 1:
        sources = [(m_select, p_select)]
    else:
        sources = list(zip(_stage(session, m_select, stage / MERCHANT, buckets),
                           _stage(session, p_select, stage / PAYMENT, buckets)))
    sign = "" if kind == "pay" else "-"
    r, columns, parts = f"{kind}_r", _recon_columns(kind), []
    for index, (m_source, p_source) in enumerate(sources):
        _join(session, r, m_source, p_source)
        result.duplicated += _split_duplicates(session, r)
        _tally(session, r, result)
        _append_rows(session, f"{kind}_net_parts", f"""
            SELECT coalesce(m_saler_other, saler_id) AS saler_id, {sign}sum(m_amount) AS net
            FROM {r} WHERE m_amount IS NOT NULL AND {USABLE} GROUP BY 1""", first=index == 0)
        _append_rows(session, f"{kind}_disc", f"""
            SELECT * FROM {r}
            WHERE (diff_type <> '{F000}' OR m_saler_other IS NOT NULL) AND {USABLE}""",
                first=index == 0)
        parts.append(stage / f"matched-{index}.csv")
        session.sql(f"COPY (SELECT {columns} FROM {r} WHERE diff_type = '{F000}') "
                    f"TO {quote(parts[-1])} (FORMAT csv, HEADER false)")
        session.sql(f"DROP TABLE {r}")
    _write_recon(session, kind, path, parts)
    shutil.rmtree(stage, ignore_errors=True)
    _condense(session, kind, result, report_rows)
    result.summary[DUPLICATE]["response_ids"] = result.duplicated
    return result


def _write_recon(session: Session, kind: str, path: Path, parts: List[Path]) -> None:
    """The discrepancies first, by diff type and response_id, then the F000 records.

    The F000 records (almost all of them) are written in no particular order: sorting
    millions of matched records would cost more than the rest of the pass."""
    session.sql(f"""
        COPY (SELECT {_recon_columns(kind)} FROM {kind}_disc WHERE diff_type <> '{F000}'
              ORDER BY diff_type, response_id, m_amount IS NULL, m_amount, p_amount)
        TO {quote(path)} (FORMAT csv, HEADER true)""")
    target = os.open(path, os.O_WRONLY)  # not O_APPEND: sendfile refuses to append to such
    try:
        os.lseek(target, 0, os.SEEK_END)
        for part in parts:
            _append_file(target, part)
            part.unlink()
    finally:
        os.close(target)


def _append_file(target: int, part: Path) -> None:
    """Write a file at `target`'s position, in the kernel (sendfile) where it can: the parts
    are most of the result's bytes."""
    with open(part, "rb") as source:
        size, offset = os.fstat(source.fileno()).st_size, 0
        try:
            while offset < size:
                sent = os.sendfile(target, source.fileno(), offset, size - offset)
                if not sent:
                    break
                offset += sent
        except OSError:  # no sendfile between these files: copy the rest in user space
            pass
        source.seek(offset)
        while True:
            chunk = memoryview(source.read(8 << 20))
            if not chunk:
                break
            while chunk:
                chunk = chunk[os.write(target, chunk):]


def _condense(session: Session, kind: str, result: KindResult, report_rows: int) -> None:
    """`<kind>_net` and `<kind>_explained` for the audit, the report's largest discrepancies;
    the bucket-sized tables dropped."""
    sign, minus = ("", "-") if kind == "pay" else ("-", "")
    category = f"CASE WHEN diff_type = '{F000}' THEN 'MISMATCH' ELSE diff_type::VARCHAR END"
    session.sql(f"CREATE TEMP TABLE {kind}_net AS "
                f"SELECT saler_id, sum(net) AS net FROM {kind}_net_parts GROUP BY 1")
    session.sql(f"""
        CREATE TEMP TABLE {kind}_explained AS
        SELECT saler_id, category, sum(amount) AS amount FROM (
          SELECT saler_id, {category} AS category, {sign}p_amount AS amount
          FROM {kind}_disc WHERE p_amount IS NOT NULL
          UNION ALL
          SELECT coalesce(m_saler_other, saler_id), {category}, {minus}m_amount
          FROM {kind}_disc WHERE m_amount IS NOT NULL) GROUP BY ALL""")
    cursor = session.sql(f"""
        SELECT diff_type::VARCHAR, response_id, request_id, saler_id, m_amount, p_amount
        FROM {kind}_disc WHERE diff_type <> '{F000}'
        ORDER BY abs(coalesce(p_amount, 0) - coalesce(m_amount, 0)) DESC, response_id
        LIMIT {int(report_rows)}""")
    result.top = [dict(zip(("diff_type", "response_id", "request_id", "saler_id",
                            "merchant_amount", "payment_amount"), row)) for row in cursor.fetchall()]
    session.sql(f"DROP TABLE {kind}_net_parts")
    session.sql(f"DROP TABLE {kind}_disc")
