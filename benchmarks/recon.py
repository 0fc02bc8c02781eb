"""Reconciliation benchmark: `paysettle recon` beside a plain DuckDB join and datacompy.

    .venv/bin/python -m benchmarks.recon                      # 1 M and 5 M rows per side
    .venv/bin/python -m benchmarks.recon --rows 1000000 --datacompy-max 1000000
    .venv/bin/python -m benchmarks.recon --rows 20000000 --no-baselines --repeats 1

Each generated batch has pay and withdraw files on both sides (~1 % F113, ~1 % F114,
~1 % F115, ~0.1 % duplicated response_ids (0.3 % of the records), 10 k salers, the
sides' columns in different orders, an extra column) and a balances file (1 % of the
accounts off by one fen). `--row-errors` adds 5 unusable rows per million merchant
rows, which makes the engine re-read those files to name their lines. Every contender runs as
a subprocess on the same files, one after another; wall time is measured around
the subprocess and peak RSS is the child's ru_maxrss (getrusage(RUSAGE_CHILDREN)
taken in a fresh wrapper process per run, so runs do not mask each other).

* paysettle: `paysettle recon <batch> <out>`: manifest check (SHA-256 of every
  file), both reconciliations, the audit, every result file and report.html.
* duckdb-join: the same files, all VARCHAR, one `FULL OUTER JOIN ... USING
  (response_id)` per kind copied to CSV: the floor any DuckDB engine pays. Run twice:
  with DuckDB's default memory limit (80 % of RAM) and with paysettle's.
* datacompy: pandas read_csv (dtype=str) of each pair, datacompy.PandasCompare on
  response_id, the mismatch and unique-row frames written to CSV.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from chalicelib.config import RECON_DEFAULT_MEMORY_LIMIT

ROOT = Path(__file__).resolve().parents[1]
SALERS = 10_000

_GENERATE = """
COPY (
  WITH base AS (
    SELECT i,
           '{day}17' || lpad(CAST(i AS VARCHAR), 10, '0') AS response_id,
           '{day}16' || lpad(CAST(i AS VARCHAR), 10, '0') AS request_id,
           'saler' || CAST(hash(i) % {salers} AS VARCHAR) AS saler_id,
           1 + CAST(hash(i * 7 + {seed}) % {top} AS BIGINT) AS amount
    FROM range({rows}) t(i))
  SELECT {columns} FROM (
    SELECT *, 1 AS copy FROM base WHERE {keep}
    UNION ALL
    SELECT *, 2 AS copy FROM base WHERE i % 1000 = 4 AND '{side}' = 'merchant')
  ORDER BY hash(i + {seed}), copy
) TO '{path}' (FORMAT csv, HEADER true)
"""
# Payment side: F113 rows (i % 100 = 1) only here, F115 rows (i % 100 = 3) one fen more.
_PAYMENT_AMOUNT = "CASE WHEN i % 100 = 3 THEN amount + 1 ELSE amount END"
_COLUMNS = {
    "merchant": ("'2019-08-29 17:15:20' AS request_time, request_id, saler_id, "
                 "CASE WHEN i % 200000 = 5 AND {row_errors} THEN 'n/a' ELSE CAST(amount AS VARCHAR) END AS {amount}, "
                 "'2019-08-29 17:15:25' AS response_time, response_id"),
    "payment": ("response_id, '2019-08-29 17:15:25' AS response_time, saler_id, "
                "{payment_amount} AS {amount}, request_id, '2019-08-29 17:15:20' AS request_time, "
                "'wx' AS channel"),
}
_KEEP = {"merchant": "i % 100 <> 1", "payment": "i % 100 <> 2"}


def generate(folder: Path, rows: int, seed: int = 1, row_errors: bool = False) -> Path:
    """A batch folder with `rows` records per side and kind, and both manifests; with
    `row_errors`, 5 per million merchant rows have an unusable amount."""
    from chalicelib.recon import manifest

    folder = Path(folder)
    for side in ("merchant", "payment"):
        (folder / side).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for kind, day, amount, top in (("pay", "20190829", "total_fee", 100_000),
                                   ("withdraw", "20190830", "withdraw_money", 30_000)):
        for side in ("merchant", "payment"):
            columns = _COLUMNS[side].format(amount=amount, payment_amount=_PAYMENT_AMOUNT,
                                            row_errors=str(row_errors).lower())
            con.execute(_GENERATE.format(day=day, salers=SALERS, seed=seed + len(kind), top=top,
                                         rows=rows, columns=columns, keep=_KEEP[side], side=side,
                                         path=folder / side / f"{kind}.csv"))
    # Balances: what the payment side's own orders add up to, 1 % of accounts off by 1 fen.
    con.execute(f"""
        COPY (
          SELECT saler_id, CAST(sum(amount) + CASE WHEN hash(saler_id) % 100 = 0 THEN 1 ELSE 0 END
                                AS BIGINT) AS balance
          FROM (SELECT saler_id, CAST(total_fee AS BIGINT) AS amount
                FROM read_csv('{folder}/payment/pay.csv', all_varchar = true)
                UNION ALL
                SELECT saler_id, -CAST(withdraw_money AS BIGINT)
                FROM read_csv('{folder}/payment/withdraw.csv', all_varchar = true))
          GROUP BY saler_id ORDER BY saler_id
        ) TO '{folder}/payment/balances.csv' (FORMAT csv, HEADER true)""")
    con.close()
    for side in ("merchant", "payment"):
        files = [{"name": path.name, **{k: v for k, v in manifest.file_facts(path).items()
                                       if k in ("rows", "sha256")}}
                 for path in sorted((folder / side).glob("*.csv"))]
        (folder / side / "_manifest.json").write_text(json.dumps({"files": files}, indent=1))
    # The files just written are still being flushed to disk: measuring now would time the
    # flush too.
    os.sync()
    return folder


DUCKDB_JOIN = """
import sys, duckdb
batch, out, limit = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
if limit:
    con.execute(f"SET memory_limit = '{limit}'")
for kind in ("pay", "withdraw"):
    con.execute(f'''COPY (SELECT * FROM read_csv('{batch}/merchant/{kind}.csv', all_varchar = true) m
                         FULL OUTER JOIN read_csv('{batch}/payment/{kind}.csv', all_varchar = true) p
                         USING (response_id))
                   TO '{out}/{kind}_join.csv' (FORMAT csv, HEADER true)''')
"""

DATACOMPY = """
import sys, datacompy, pandas as pd
batch, out = sys.argv[1], sys.argv[2]
for kind, amount in (("pay", "total_fee"), ("withdraw", "withdraw_money")):
    left = pd.read_csv(f"{batch}/merchant/{kind}.csv", dtype=str, keep_default_na=False)
    right = pd.read_csv(f"{batch}/payment/{kind}.csv", dtype=str, keep_default_na=False)
    compare = datacompy.PandasCompare(left, right, join_columns="response_id",
                                df1_name="merchant", df2_name="payment")
    compare.all_mismatch().to_csv(f"{out}/{kind}_mismatch.csv", index=False)
    compare.df1_unq_rows.to_csv(f"{out}/{kind}_merchant_only.csv", index=False)
    compare.df2_unq_rows.to_csv(f"{out}/{kind}_payment_only.csv", index=False)
"""

# Runs one command and prints its wall time and the peak RSS of its process tree's largest member.
MEASURE = """
import json, resource, subprocess, sys, time
started = time.monotonic()
code = subprocess.run(sys.argv[1:]).returncode
wall = time.monotonic() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": usage.ru_maxrss / 1024}))
"""


def measure(command, env=None) -> dict:
    result = subprocess.run([sys.executable, "-c", MEASURE, *map(str, command)],
                            capture_output=True, text=True, env=env, cwd=ROOT)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["stderr"] = result.stderr[-2000:]
    return figures


def contenders(batch: Path, work: Path, memory_limit: str, baselines: bool, datacompy: bool):
    # `python -m tools.cli` from the checkout (measure runs in ROOT): the installed `paysettle`
    # script imports whichever checkout the virtualenv was installed from.
    command = [sys.executable, "-m", "tools.cli"]
    env = dict(os.environ, RECON_TMP_DIR=str(work / "tmp"))
    if memory_limit:
        env["RECON_MEMORY_LIMIT"] = memory_limit
    yield "paysettle recon", command + ["recon", batch, work / "paysettle"], env
    if baselines:
        (work / "duckdb").mkdir(exist_ok=True)
        yield "duckdb full outer join", [sys.executable, "-c", DUCKDB_JOIN, batch, work / "duckdb",
                                         ""], None
        same = memory_limit or RECON_DEFAULT_MEMORY_LIMIT
        yield f"duckdb join, {same}", [sys.executable, "-c", DUCKDB_JOIN, batch, work / "duckdb",
                                       same], None
    if datacompy:
        (work / "datacompy").mkdir(exist_ok=True)
        yield "datacompy (pandas)", [sys.executable, "-c", DATACOMPY, batch, work / "datacompy"], None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench-recon")
    parser.add_argument("--memory-limit", default="", help="RECON_MEMORY_LIMIT for paysettle, "
                        "e.g. 512MB (default: paysettle's own); the DuckDB join runs twice: with "
                        "DuckDB's default limit and with paysettle's")
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds of paysettle and the DuckDB join, interleaved (best is reported)")
    parser.add_argument("--datacompy-max", type=int, default=5_000_000,
                        help="run datacompy (once) only up to this many rows per side")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--row-errors", action="store_true", help="put unusable rows in the merchant files")
    args = parser.parse_args(argv)
    results = []
    for rows in args.rows:
        work = args.work / f"{rows}"
        shutil.rmtree(work, ignore_errors=True)
        started = time.monotonic()
        batch = generate(work / "batch", rows, row_errors=args.row_errors)
        size = sum(p.stat().st_size for p in batch.rglob("*.csv"))
        print(f"# {rows:,} rows per side: generated {size / 1e6:,.0f} MB in "
              f"{time.monotonic() - started:.1f} s", flush=True)
        (work / "paysettle").mkdir(exist_ok=True)
        runs = list(contenders(batch, work, args.memory_limit, not args.no_baselines,
                               rows <= args.datacompy_max and not args.no_baselines))
        repeated = [run for run in runs if not run[0].startswith("datacompy")]
        once = [run for run in runs if run[0].startswith("datacompy")]
        for round_ in range(args.repeats):
            for name, command, env in repeated + (once if round_ == 0 else []):
                figures = measure(command, env)
                figures.update(name=name, rows=rows, input_mb=round(size / 1e6), round=round_)
                results.append(figures)
                print(f"{rows:>12,} {name:<24} {figures['wall_s']:8.2f} s wall {figures['cpu_s']:8.2f} s cpu "
                      f"{figures['peak_rss_mb']:8.0f} MB  exit {figures['code']}", flush=True)
                if figures["code"] not in ((0, 1) if name.startswith("paysettle") else (0,)):
                    print(figures["stderr"], file=sys.stderr)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summarise(results), indent=1))
    return 0


def summarise(results: list) -> list:
    """Per size and contender: best and median wall time, its CPU time, the largest peak RSS."""
    import statistics
    table = []
    for key in sorted({(r["rows"], r["name"]) for r in results}):
        runs = [r for r in results if (r["rows"], r["name"]) == key]
        best = min(runs, key=lambda r: r["wall_s"])
        table.append({"rows": key[0], "name": key[1], "runs": len(runs), "input_mb": best["input_mb"],
                      "best_wall_s": round(best["wall_s"], 2),
                      "median_wall_s": round(statistics.median(r["wall_s"] for r in runs), 2),
                      "best_cpu_s": round(min(r["cpu_s"] for r in runs), 2),
                      "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
                      "exit": sorted({r["code"] for r in runs})})
    return table


if __name__ == "__main__":
    sys.exit(main())
