"""One kind's file pair (pay or withdraw) reconciled on response_id, in buckets of the id's hash.

Every id that occurs more than once on a side (found by the hash of the id) is first
grouped by response_id: one row per id with its number of rows, the sum of its amounts and
the fields of (any) one of its rows; the other ids are single on each side. Both are then
joined one to one, so no distribution of ids can multiply rows or crowd one hash bucket: an
id repeated four million times is one group of a count and a sum, never four million rows
held together. Every id is classified:

* F000 on both sides with equal amounts, F113 only on the payment side,
  F114 only on the merchant side, F115 on both sides with different amounts;
* DUPLICATE: an id that occurs more than once on either side. It is reported once per
  side that has it, with that side's number of rows and the sum of their amounts; a
  bounded sample of its rows (DUPLICATE_SAMPLE per id and side) goes to
  `<kind>_duplicates.csv`, and the sums per saler_id to the audit;
* rows without a usable response_id, saler_id or amount have no id: they form one group
  per side, which is only counted (errors.csv names them).

A grouping whose files do not fit in the memory limit's share spills, which costs more
than copying the inputs once. So when the pair is larger than `bucket_bytes`, each side is
first copied into Parquet files partitioned by `hash(response_id) % buckets` (the stage),
and the buckets are reconciled one after another, each in memory. A small pair is read
straight from the CSV files (one bucket).

Per bucket, the joined records are never stored: the matched F000 records go from the
join straight into the result file (the last bucket's in the same statement as the header
and the sorted discrepancies, an earlier bucket's into a part appended afterwards); only the
discrepancies (a few per cent) are kept, for the sorted head of the result file, the
audit's explanations and the report. The counts and sums come from one pass over each
side's parsed rows (the F000 figures are what the single rows leave after the
discrepancies), and the merchant's net per saler_id from the same pass.
"""
import csv
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .duckdb_session import DIFF_TYPE, Session, amount_sql, quote, value_sql
from .formats import (AMOUNT_COLUMN, DUPLICATE, F000, F113, F114, F115, MAX_OTHER_FIELDS,
                      MERCHANT, PAYMENT, SIDES, FileSpec)

REPORTED_TYPES = (F000, F113, F114, F115, DUPLICATE)
# Rows of a duplicated id shown per side in <kind>_duplicates.csv (the count and sum cover all).
DUPLICATE_SAMPLE = 5
SIDE_PREFIX = {MERCHANT: "m", PAYMENT: "p"}


class InconsistentCounts(RuntimeError):
    """The engine's own figures disagree: a record counted on one side and not the other, or
    written a different number of times than counted. The run stops (and the batch fails,
    to be retried) rather than publish figures that do not add up."""


@dataclass
class KindResult:
    """What the engine needs of one kind once its result file is written."""
    rejects: Dict[str, str]                       # side -> DuckDB rejects table
    counts: Dict[str, List[int]]                  # side -> [rows parsed, rows usable]
    summary: Dict[str, dict]                      # diff type -> count, sums (DUPLICATE: ids too)
    duplicated: int = 0                           # response_ids reported as DUPLICATE
    top: List[dict] = field(default_factory=list)  # the largest discrepancies
    buckets: int = 1
    duplicates_file: Optional[str] = None         # <kind>_duplicates.csv when any


def bucket_count(merchant: FileSpec, payment: FileSpec, bucket_bytes: Optional[int]) -> int:
    """How many buckets keep each join's share of the two files under `bucket_bytes`."""
    if not bucket_bytes:
        return 1
    size = Path(merchant.path).stat().st_size + Path(payment.path).stat().st_size
    return max(1, -(-size // bucket_bytes))


def other_fields(merchant: FileSpec, payment: FileSpec) -> List[str]:
    """The other fields of the kind's records, as the result file lists them: saler_id,
    then the merchant file's other columns, then the payment file's own."""
    names = list(merchant.others) + [n for n in payment.others if n not in merchant.others]
    return ["saler_id"] + [n for n in names if n != "saler_id"][:MAX_OTHER_FIELDS]


def _field_columns(fields: List[str]) -> List[str]:
    """SQL names of the other fields (file column names can be anything)."""
    return [f"o{i}" for i in range(len(fields) - 1)]


def orders_select(session: Session, spec: FileSpec, fields: List[str]) -> Tuple[str, str]:
    """A SELECT over one order file: `k`, the response_id of a usable row (NULL for a row
    without response_id, saler_id or a valid amount), request_id, saler_id, amount and the
    other fields (NULL where the file lacks one). Returns it with the file's rejects table."""
    source, rejects = session.read_csv(spec)
    p = spec.positions
    others = ", ".join(f"c{spec.others[name]} AS {column}" if name in spec.others
                       else f"NULL::VARCHAR AS {column}"
                       for name, column in zip(fields[1:], _field_columns(fields)))
    select = f"""
        SELECT CASE WHEN saler_id IS NOT NULL AND amount IS NOT NULL THEN response_id END AS k,
               request_id, saler_id, amount{', ' + others if others else ''}
        FROM (SELECT {value_sql(p['response_id'])} AS response_id,
                     {value_sql(p['request_id'])} AS request_id,
                     {value_sql(p['saler_id'])} AS saler_id,
                     {amount_sql(p[spec.amount_column])} AS amount
                     {''.join(f', c{i}' for i in sorted(set(spec.others[n] for n in fields[1:] if n in spec.others)))}
              FROM {source})"""
    return select, rejects


def _staged_fields(fields: List[str]) -> str:
    return ", ".join(["k", "request_id", "saler_id", "amount"] + _field_columns(fields))


def _stage(session: Session, select: str, folder: Path, buckets: int, fields: List[str]) -> List[str]:
    """Copy one side into Parquet partitioned by bucket; the SELECT of each bucket.

    The stage is written uncompressed: it is read once, from the page cache, and snappy
    cost more time than the smaller files save (benchmarks/RESULTS.md)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staged = _staged_fields(fields)
    session.sql(f"""
        COPY (SELECT {staged}, CAST(hash(k) % {buckets} AS INTEGER) AS bucket FROM ({select}))
        TO {quote(folder)} (FORMAT parquet, PARTITION_BY (bucket), COMPRESSION uncompressed)""")
    empty = ", ".join(["NULL::VARCHAR AS k", "NULL::VARCHAR AS request_id", "NULL::VARCHAR AS saler_id",
                       "NULL::BIGINT AS amount"] + [f"NULL::VARCHAR AS {c}" for c in _field_columns(fields)])
    sources = []
    for index in range(buckets):
        files = sorted((folder / f"bucket={index}").glob("*.parquet"))
        sources.append(" UNION ALL ".join(
            f"SELECT {staged} FROM read_parquet({quote(path)}, hive_partitioning = false)"
            for path in files) or f"SELECT {empty} WHERE false")
    return sources


def _grouped(source: str, fields: List[str]) -> str:
    """One side grouped by id: rows, amount sum, and one row's fields (exact for a single row).
    The group of unusable rows (k NULL) is kept: it is counted."""
    others = "".join(f", any_value({c}) AS {c}" for c in _field_columns(fields))
    return (f"SELECT k, count(*) AS n, sum(amount) AS amount, any_value(request_id) AS request_id, "
            f"any_value(saler_id) AS saler_id{others} FROM ({source}) GROUP BY k")


def _parse(session: Session, r: str, m_source: str, p_source: str) -> Tuple[str, str]:
    """Each side's file parsed once, into `<r>_m` / `<r>_p` with the 64-bit hash of its id;
    then `<r>_d`, the hashes that occur more than once on either side (a grouping of
    fixed-size keys, cheap). Returns the two sides' tables."""
    tables = {}
    for s, source in (("m", m_source), ("p", p_source)):
        tables[s] = f"{r}_{s}"
        session.sql(f"CREATE TEMP TABLE {tables[s]} AS SELECT *, hash(k) AS h FROM ({source})")
    session.sql(f"""
        CREATE TEMP TABLE {r}_d AS
        SELECT h FROM {tables['m']} WHERE k IS NOT NULL GROUP BY h HAVING count(*) > 1
        UNION SELECT h FROM {tables['p']} WHERE k IS NOT NULL GROUP BY h HAVING count(*) > 1""")
    return tables['m'], tables['p']


def _single(table: str, r: str) -> str:
    """The side's rows whose id's hash occurs once on each side: one row per id."""
    return f"(SELECT * FROM {table} WHERE k IS NOT NULL AND h NOT IN (SELECT h FROM {r}_d))"


def _sides(fields: List[str]) -> str:
    return ", ".join(f"{s}.{c} AS {s}_{c}" for s in "mp"
                     for c in ["request_id", "saler_id"] + _field_columns(fields))


def _single_join(r: str, fields: List[str], join: str, where: str) -> str:
    """The single ids of both sides joined one to one, as rows of the joined shape (the
    columns of `<r>`), restricted to `where`."""
    return f"""
        SELECT coalesce(p.k, m.k) AS response_id,
               CASE WHEN m.k IS NOT NULL THEN 1::BIGINT END AS m_rows,
               CASE WHEN p.k IS NOT NULL THEN 1::BIGINT END AS p_rows,
               m.amount AS m_amount, p.amount AS p_amount,
               CASE WHEN m.k IS NULL THEN '{F113}'
                    WHEN p.k IS NULL THEN '{F114}'
                    WHEN m.amount = p.amount THEN '{F000}'
                    ELSE '{F115}' END::{DIFF_TYPE} AS diff_type,
               {_sides(fields)}
        FROM {_single(f"{r}_m", r)} m {join} {_single(f"{r}_p", r)} p ON m.k = p.k
        WHERE {where}"""


def _single_discrepancies(session: Session, r: str, fields: List[str]) -> None:
    """`<r>_x`: the single ids' discrepancies (F113, F114, F115, and the F000 records whose
    saler_id differs), both sides' fields side by side. (Finding their ids by a join of the
    narrow columns first, then joining only their rows with every field, saved little and ran
    out of memory when most records of a large bucket are discrepancies.)"""
    session.sql(f"CREATE TEMP TABLE {r}_x AS " + _single_join(
        r, fields, "FULL OUTER JOIN",
        "m.k IS NULL OR p.k IS NULL OR m.amount <> p.amount OR m.saler_id <> p.saler_id"))


def _grouped_join(session: Session, r: str, fields: List[str]) -> None:
    """`r`: the ids of the repeated hashes, grouped by id on each side (count, sum, one row's
    fields) and joined, and one row per side for its unusable rows (no response_id, diff_type
    NULL: only counted). An id repeated millions of times is one row here; the single ids
    never pass through this table."""
    grouped = {s: _grouped(f"SELECT * FROM {r}_{s} WHERE k IS NULL OR h IN (SELECT h FROM {r}_d)",
                           fields) for s in "mp"}
    session.sql(f"""
        CREATE TEMP TABLE {r} AS
        SELECT coalesce(p.k, m.k) AS response_id, m.n AS m_rows, p.n AS p_rows,
               m.amount AS m_amount, p.amount AS p_amount,
               CASE WHEN m.k IS NULL AND p.k IS NULL THEN NULL
                    WHEN m.n > 1 OR p.n > 1 THEN '{DUPLICATE}'
                    WHEN m.k IS NULL THEN '{F113}'
                    WHEN p.k IS NULL THEN '{F114}'
                    WHEN m.amount = p.amount THEN '{F000}'
                    ELSE '{F115}' END::{DIFF_TYPE} AS diff_type,
               {_sides(fields)}
        FROM ({grouped['m']}) m FULL OUTER JOIN ({grouped['p']}) p ON m.k = p.k""")


def _side_totals(session: Session, kind: str, r: str, result: KindResult, index: int) -> Tuple[int, int, int, int]:
    """One pass over each side's parsed rows: the side's row counts (parsed, usable) added to
    the result, the merchant's net per saler_id (every usable merchant row, duplicated ids'
    rows included) appended to `<kind>_net_parts`, and the single ids' count and amount sum
    of each side, from which the F000 figures follow."""
    single = f"k IS NOT NULL AND h NOT IN (SELECT h FROM {r}_d)"
    sign = "" if kind == "pay" else "-"
    _append_rows(session, f"{r}_ms", f"""
        SELECT saler_id, count(*) AS n, count(k) AS usable,
               sum(amount) FILTER (WHERE k IS NOT NULL) AS amount,
               count(*) FILTER (WHERE {single}) AS single_n,
               sum(amount) FILTER (WHERE {single}) AS single_amount
        FROM {r}_m GROUP BY saler_id""", first=True)
    _append_rows(session, f"{kind}_net_parts", f"""
        SELECT saler_id, {sign}amount AS net FROM {r}_ms WHERE amount IS NOT NULL""",
                 first=index == 0)
    m = session.sql(f"SELECT coalesce(sum(n), 0), coalesce(sum(usable), 0), "
                    f"coalesce(sum(single_n), 0), coalesce(sum(single_amount), 0) "
                    f"FROM {r}_ms").fetchone()
    session.sql(f"DROP TABLE {r}_ms")
    p = session.sql(f"SELECT count(*), count(k), count(*) FILTER (WHERE {single}), "
                    f"coalesce(sum(amount) FILTER (WHERE {single}), 0) FROM {r}_p").fetchone()
    for side, (n, usable, _, _) in ((MERCHANT, m), (PAYMENT, p)):
        result.counts[side][0] += int(n)
        result.counts[side][1] += int(usable)
    return int(m[2]), int(m[3]), int(p[2]), int(p[3])


def _drop_join_inputs(session: Session, r: str) -> None:
    for table in (f"{r}_m", f"{r}_p", f"{r}_d", f"{r}_x", r):
        session.sql(f"DROP TABLE IF EXISTS {table}")


def _duplicate_details(session: Session, kind: str, r: str, side: str, source: str,
                       fields: List[str], first: bool) -> None:
    """The rows of the bucket's duplicated ids on one side (from the side's parsed rows, not the
    file again), grouped by id and saler_id: the sums the audit needs, and a bounded sample of rows (never the group)."""
    s = SIDE_PREFIX[side]
    sample = ", ".join(["request_id := request_id", "saler_id := saler_id", "amount := amount"]
                       + [f"{c} := {c}" for c in _field_columns(fields)])
    select = f"""
        SELECT '{side}' AS side, k AS response_id, saler_id, count(*) AS n, sum(amount) AS amount,
               min(struct_pack({sample}), {DUPLICATE_SAMPLE}) AS sample
        FROM ({source})
        WHERE k IN (SELECT response_id FROM {r} WHERE diff_type = '{DUPLICATE}' AND {s}_amount IS NOT NULL)
        GROUP BY k, saler_id"""
    session.sql(f"CREATE TEMP TABLE {kind}_dups AS {select}" if first
                else f"INSERT INTO {kind}_dups {select}")


def _tally(session: Session, table: str, result: KindResult, where: str = "true") -> Dict[str, list]:
    """Add the rows of `table` (joined shape) that match `where` to the per-type counts and
    sums; return what was added per type: [records, merchant rows, payment rows, merchant
    sum, payment sum]. (Unusable rows, diff_type NULL, are counted per side elsewhere.)"""
    rows = session.sql(f"""
        SELECT diff_type::VARCHAR, count(*), coalesce(sum(m_rows), 0), coalesce(sum(p_rows), 0),
               coalesce(sum(m_amount), 0), coalesce(sum(p_amount), 0)
        FROM {table} WHERE diff_type IS NOT NULL AND ({where}) GROUP BY ALL""").fetchall()
    added = {}
    for diff, ids, m_rows, p_rows, m_sum, p_sum in rows:
        added[diff] = [int(ids), int(m_rows), int(p_rows), int(m_sum), int(p_sum)]
        totals = result.summary[diff]
        # DUPLICATE counts every row of its ids (on both sides), the other types their records.
        totals["count"] += int(m_rows + p_rows) if diff == DUPLICATE else int(ids)
        totals["merchant_amount"] += int(m_sum)
        totals["payment_amount"] += int(p_sum)
        if diff == DUPLICATE:
            result.duplicated += int(ids)
    return added


def _tally_matched(result: KindResult, singles: Tuple[int, int, int, int],
                   added: Dict[str, list]) -> None:
    """The single ids' F000 figures, without reading the matched records: every single
    merchant row is an F000, F114 or F115 record, every single payment row an F000, F113 or
    F115 one, so F000 is what the side's single rows leave after the discrepancies."""
    m_n, m_sum, p_n, p_sum = singles
    none = [0, 0, 0, 0, 0]
    f113, f114, f115 = (added.get(d, none) for d in (F113, F114, F115))
    matched = m_n - f114[0] - f115[0]
    if matched != p_n - f113[0] - f115[0]:
        raise InconsistentCounts(f"matched records disagree: merchant {matched}, "
                                 f"payment {p_n - f113[0] - f115[0]}")
    totals = result.summary[F000]
    totals["count"] += matched
    totals["merchant_amount"] += m_sum - f114[3] - f115[3]
    totals["payment_amount"] += p_sum - f113[4] - f115[4]


def _append_rows(session: Session, table: str, select: str, first: bool) -> None:
    session.sql(f"CREATE TEMP TABLE {table} AS {select}" if first
                else f"INSERT INTO {table} {select}")


def recon_header(kind: str, fields: List[str]) -> List[str]:
    amount = AMOUNT_COLUMN[kind]
    return (["request_id", "response_id", amount, "diff_type"] + fields
            + [f"merchant_{amount}", f"payment_{amount}", "rows", "note"])


def _record_columns(fields: List[str], merchant: FileSpec, payment: FileSpec,
                    matched: bool = False) -> str:
    """The result file's columns of a record found once per side at most: the payment side's
    values where it has the record (and the field), the merchant's otherwise; `note` names each
    field whose merchant value differs (saler_id, request_id, and the other fields both files
    have). `matched`: for records both sides have (the F000 ones, almost every row), the same
    values without the tests of which side has the record, and the note built only for a
    record whose fields differ."""
    both = "true" if matched else "m_amount IS NOT NULL AND p_amount IS NOT NULL"

    def either(c: str) -> str:
        return f"p_{c}" if matched else f"CASE WHEN p_amount IS NOT NULL THEN p_{c} ELSE m_{c} END"

    columns = [either("request_id"), "response_id",
               "p_amount" if matched else "coalesce(p_amount, m_amount)", "diff_type",
               either("saler_id")]
    same = ["m_saler_id = p_saler_id", "m_request_id IS NOT DISTINCT FROM p_request_id"]
    notes = [f"CASE WHEN {both} AND m_saler_id <> p_saler_id "
             f"THEN 'saler_id differs (merchant ' || m_saler_id || ')' END",
             f"CASE WHEN {both} AND m_request_id IS DISTINCT FROM p_request_id THEN "
             f"coalesce('request_id differs (merchant ' || m_request_id || ')', "
             f"'request_id differs (merchant has none)') END"]
    for name, c in zip(fields[1:], _field_columns(fields)):
        if name not in payment.others:
            columns.append(f"m_{c}")
            continue
        columns.append(either(c))
        if name in merchant.others:
            label = name.replace("'", "''")
            same.append(f"m_{c} IS NOT DISTINCT FROM p_{c}")
            notes.append(f"CASE WHEN {both} AND m_{c} IS DISTINCT FROM p_{c} THEN "
                         f"coalesce('{label} differs (merchant ' || m_{c} || ')', "
                         f"'{label} differs (merchant has none)') END")
    note = f"nullif(concat_ws('; ', {', '.join(notes)}), '')"
    if matched:
        note = f"CASE WHEN {' AND '.join(same)} THEN NULL ELSE {note} END"
    columns += ["m_amount", "p_amount", "NULL::BIGINT", note]
    return ", ".join(columns)


def _duplicate_lines(kind: str, fields: List[str]) -> str:
    """One line per side of each duplicated id: the side's rows and amount sum; its saler_id
    when all its rows name the same one."""
    blanks = ", ".join(["NULL"] * (len(fields) - 1))
    lines = []
    for side in SIDES:
        amounts = "amount, NULL" if side == MERCHANT else "NULL, amount"
        lines.append(f"""
            SELECT NULL AS request_id, response_id, amount, '{DUPLICATE}'::{DIFF_TYPE} AS diff_type,
                   CASE WHEN salers = 1 THEN saler_id END AS saler_id{', ' + blanks if blanks else ''},
                   {amounts}, n,
                   n || CASE WHEN n = 1 THEN ' row' ELSE ' rows' END || ' on the {side} side' ||
                   CASE WHEN salers > 1 THEN ' over ' || salers || ' saler_ids' ELSE '' END ||
                   '; rows shown in {kind}_duplicates.csv' AS note
            FROM (SELECT response_id, sum(n) AS n, sum(amount) AS amount, count(*) AS salers,
                         min(saler_id) AS saler_id
                  FROM {kind}_dups WHERE side = '{side}' GROUP BY 1)""")
    return " UNION ALL ".join(lines)


def reconcile(session: Session, kind: str, merchant: FileSpec, payment: FileSpec,
              path: Path, bucket_bytes: Optional[int], report_rows: int) -> KindResult:
    """Write the kind's result file to `path` (and `<kind>_duplicates.csv` beside it when an
    id is duplicated); leave `<kind>_net` (the merchant's sum per saler_id, withdrawals
    negative) and `<kind>_explained` (per saler_id and category, how much the discrepancies
    move the payment side's figure away from the merchant's) for the audit; return the
    counts, sums and largest discrepancies."""
    buckets = bucket_count(merchant, payment, bucket_bytes)
    fields = other_fields(merchant, payment)
    m_select, m_rejects = orders_select(session, merchant, fields)
    p_select, p_rejects = orders_select(session, payment, fields)
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
        sources = list(zip(_stage(session, m_select, stage / MERCHANT, buckets, fields),
                           _stage(session, p_select, stage / PAYMENT, buckets, fields)))
    r, columns, parts = f"{kind}_r", _record_columns(fields, merchant, payment), []
    matched = _record_columns(fields, merchant, payment, matched=True)
    has_dups, written = False, 0
    mismatch = f"diff_type = '{F000}' AND m_saler_id <> p_saler_id"
    discrepancy = f"diff_type NOT IN ('{F000}', '{DUPLICATE}') OR ({mismatch})"
    for index, (m_source, p_source) in enumerate(sources):
        if index:
            # The previous bucket's matched records go to a part of their own, appended to
            # the result file at the end; the last bucket's are written with its head.
            parts.append(stage / f"matched-{index - 1}.csv")
            written += session.sql(f"COPY ({matched_records}) TO {quote(parts[-1])} "
                                   f"(FORMAT csv, HEADER false)").fetchone()[0]
            _drop_join_inputs(session, r)
        m_table, p_table = _parse(session, r, m_source, p_source)
        _grouped_join(session, r, fields)
        _tally(session, r, result)
        duplicated = session.sql(
            f"SELECT count(*) FILTER (m_amount IS NOT NULL), count(*) FILTER (p_amount IS NOT NULL) "
            f"FROM {r} WHERE diff_type = '{DUPLICATE}'").fetchone()
        for side, source, count in (
                (MERCHANT, f"SELECT * FROM {m_table} WHERE h IN (SELECT h FROM {r}_d)", duplicated[0]),
                (PAYMENT, f"SELECT * FROM {p_table} WHERE h IN (SELECT h FROM {r}_d)", duplicated[1])):
            if count:
                _duplicate_details(session, kind, r, side, source, fields, first=not has_dups)
                has_dups = True
        singles = _side_totals(session, kind, r, result, index)
        # The single ids' discrepancies (a few per cent of the records) are kept; the matched
        # records go straight from the join to the result file's part, never stored.
        _single_discrepancies(session, r, fields)
        _tally_matched(result, singles, _tally(session, f"{r}_x", result, f"diff_type <> '{F000}'"))
        _append_rows(session, f"{kind}_disc", f"SELECT * FROM {r}_x", first=index == 0)
        session.sql(f"INSERT INTO {kind}_disc SELECT * FROM {r} WHERE {discrepancy}")
        matched_records = f"""
            SELECT {matched} FROM (
              {_single_join(r, fields, "JOIN", "m.amount = p.amount")}
              UNION ALL SELECT * FROM {r} WHERE diff_type = '{F000}')"""
    if not has_dups:
        session.sql(f"CREATE TEMP TABLE {kind}_dups AS SELECT NULL::VARCHAR AS side, "
                    f"NULL::VARCHAR AS response_id, NULL::VARCHAR AS saler_id, NULL::BIGINT AS n, "
                    f"NULL::BIGINT AS amount WHERE false")
    else:
        result.duplicates_file = f"{kind}_duplicates.csv"
        _write_duplicates(session, kind, path.parent / result.duplicates_file, fields)
    written += _write_recon(session, kind, path, fields, columns, matched_records, parts)
    _check_written(session, kind, result, written)
    _drop_join_inputs(session, r)
    shutil.rmtree(stage, ignore_errors=True)
    _condense(session, kind, result, report_rows)
    result.summary[DUPLICATE]["response_ids"] = result.duplicated
    return result


def duplicates_header(kind: str, fields: List[str]) -> List[str]:
    return ["response_id", "side", "request_id", AMOUNT_COLUMN[kind]] + fields


def _write_duplicates(session: Session, kind: str, path: Path, fields: List[str]) -> None:
    """The sample rows of each duplicated id and side, by id, side and the rows' values."""
    part = path.with_suffix(".part")
    fields_sql = ", ".join(["s.request_id", "s.amount", "s.saler_id"]
                           + [f"s.{c}" for c in _field_columns(fields)])
    session.sql(f"""
        COPY (SELECT response_id, side, {fields_sql} FROM (
                SELECT response_id, side, unnest(sample) AS s FROM {kind}_dups)
              QUALIFY row_number() OVER (PARTITION BY response_id, side ORDER BY s) <= {DUPLICATE_SAMPLE}
              ORDER BY response_id, side, s)
        TO {quote(part)} (FORMAT csv, HEADER false)""")
    _assemble(path, duplicates_header(kind, fields), [part])


def _write_recon(session: Session, kind: str, path: Path, fields: List[str], columns: str,
                 matched_records: str, parts: List[Path]) -> int:
    """The result file in one pass: the header, the discrepancies by diff type and
    response_id, then the last bucket's F000 records straight from their join; the earlier
    buckets' F000 parts are appended after it.

    The F000 records (almost all of them) are written in no particular order: sorting
    millions of matched records would cost more than the rest of the pass. The header is
    the statement's first row, so every column is written as text: DuckDB's own header
    comes from SQL aliases, which it renames when two compare equal ignoring case.
    Returns the records it wrote (the header not counted; the appended parts neither)."""
    header = ", ".join(f"{quote(name)} AS c{i}" for i, name in enumerate(recon_header(kind, fields)))
    head = f"""
        SELECT * FROM (SELECT {columns} FROM {kind}_disc WHERE diff_type <> '{F000}'
                       UNION ALL {_duplicate_lines(kind, fields)})
        ORDER BY 4, 2, {len(fields) + 5} NULLS LAST, {len(fields) + 6}"""
    # Insertion order kept for these two statements only: the rows must come out in the order
    # of the union's branches, the head in its sorted order. The head is sorted into a table
    # of its own first: an ORDER BY inside the COPY would make DuckDB write the whole file,
    # matched records included, from one thread.
    session.sql("SET preserve_insertion_order = true")
    try:
        session.sql(f"CREATE TEMP TABLE {kind}_head AS SELECT COLUMNS(*)::VARCHAR FROM ({head})")
        rows = session.sql(f"""
            COPY (SELECT {header}
                  UNION ALL SELECT * FROM {kind}_head
                  UNION ALL SELECT COLUMNS(*)::VARCHAR FROM ({matched_records}))
            TO {quote(path)} (FORMAT csv, HEADER false)""").fetchone()[0]
    finally:
        session.sql("SET preserve_insertion_order = false")
        session.sql(f"DROP TABLE IF EXISTS {kind}_head")
    _append_parts(path, parts)
    return rows - 1


def _check_written(session: Session, kind: str, result: KindResult, written: int) -> None:
    """Every record counted is in the result file once: the F000, F113, F114 and F115
    records and one line per side of each duplicated id. (The F000 records are written by a
    join of their own, apart from the one the discrepancies come from.)"""
    lines = session.sql(f"SELECT count(*) FROM (SELECT DISTINCT response_id, side "
                        f"FROM {kind}_dups)").fetchone()[0]
    counted = sum(result.summary[d]["count"] for d in (F000, F113, F114, F115)) + int(lines)
    if written != counted:
        raise InconsistentCounts(f"{kind}: {written} records written, {counted} counted")


def _assemble(path: Path, header: List[str], parts: List[Path]) -> None:
    """The header (written here: file column names can need quoting), then each part."""
    with open(path, "w", newline="", encoding="utf-8") as stream:
        csv.writer(stream, lineterminator="\n").writerow(header)
    _append_parts(path, parts)


def _append_parts(path: Path, parts: List[Path]) -> None:
    """Each part appended to the file, then removed."""
    if not parts:
        return
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
          SELECT p_saler_id AS saler_id, {category} AS category, {sign}p_amount AS amount
          FROM {kind}_disc WHERE p_amount IS NOT NULL
          UNION ALL
          SELECT m_saler_id, {category}, {minus}m_amount FROM {kind}_disc WHERE m_amount IS NOT NULL
          UNION ALL
          SELECT saler_id, '{DUPLICATE}',
                 CASE WHEN side = '{PAYMENT}' THEN {sign}amount ELSE {minus}amount END
          FROM {kind}_dups) GROUP BY ALL""")
    cursor = session.sql(f"""
        SELECT * FROM (
          SELECT diff_type::VARCHAR AS diff_type, response_id,
                 CASE WHEN p_amount IS NOT NULL THEN p_request_id ELSE m_request_id END AS request_id,
                 CASE WHEN p_amount IS NOT NULL THEN p_saler_id ELSE m_saler_id END AS saler_id,
                 m_amount, p_amount
          FROM {kind}_disc WHERE diff_type <> '{F000}'
          UNION ALL
          SELECT '{DUPLICATE}', response_id, NULL, CASE WHEN count(*) = 1 THEN min(saler_id) END,
                 CASE WHEN side = '{MERCHANT}' THEN sum(amount) END,
                 CASE WHEN side = '{PAYMENT}' THEN sum(amount) END
          FROM {kind}_dups GROUP BY response_id, side)
        ORDER BY abs(coalesce(p_amount, 0) - coalesce(m_amount, 0)) DESC, response_id
        LIMIT {int(report_rows)}""")
    result.top = [dict(zip(("diff_type", "response_id", "request_id", "saler_id",
                            "merchant_amount", "payment_amount"), row)) for row in cursor.fetchall()]
    session.sql(f"DROP TABLE {kind}_net_parts")
    session.sql(f"DROP TABLE {kind}_disc")
    session.sql(f"DROP TABLE {kind}_dups")
