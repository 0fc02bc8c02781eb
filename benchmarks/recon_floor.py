"""The least any DuckDB reconciliation with an exact duplicate check costs, beside the plain join.

    .venv/bin/python -m benchmarks.recon_floor                     # 1 M rows per side, 3 rounds
    .venv/bin/python -m benchmarks.recon_floor --batch <folder> --rounds 5

The plain DuckDB full outer join (benchmarks.recon's baseline) joins ids blindly: an id
that occurs a times on one side and b times on the other comes out a x b times, which is
how a skewed upload exhausts memory. A reconciliation has to know which ids repeat before
it joins them. The contenders below add only that knowledge to the plain join, nothing
else (no validation of the cells, no discrepancy list, no counts, no manifest check, no
audit), in the two cheapest exact forms DuckDB offers:

* `join + duplicate pre-pass`: before each kind's join, each file's ids hashed and grouped
  (the ids that occur more than once), read from the CSV a second time;
* `tables + duplicate check + join`: each file read once into a table with its id's hash,
  the repeated hashes grouped from the tables, and the single ids joined from them.

and, since the job must also prove the files are the ones the manifests describe, the first
form with the SHA-256 of every input computed in a thread beside it, as `paysettle recon` does.

What these cost over the plain join is a floor under the ratio `paysettle recon` can reach
against it. Each contender runs in a fresh process per round, one after another, rounds
interleaved; figures as in benchmarks.recon (wall, CPU of the process tree, peak RSS).
"""
import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

from benchmarks.recon import DUCKDB_JOIN, ROOT, generate, measure

WITH_PREPASS = """
import hashlib, sys, threading, duckdb
from pathlib import Path
batch, out, checksums = sys.argv[1], sys.argv[2], sys.argv[3] == "sha256"

def check():
    for path in sorted(Path(batch).rglob("*.csv")):
        with open(path, "rb") as stream:
            hashlib.file_digest(stream, "sha256")

checker = threading.Thread(target=check)
if checksums:
    checker.start()
con = duckdb.connect()
for kind in ("pay", "withdraw"):
    for side in ("merchant", "payment"):
        con.execute(f'''SELECT count(*) FROM (
                          SELECT hash(response_id) AS h
                          FROM read_csv('{batch}/{side}/{kind}.csv', all_varchar = true)
                          GROUP BY h HAVING count(*) > 1)''').fetchall()
    con.execute(f'''COPY (SELECT * FROM read_csv('{batch}/merchant/{kind}.csv', all_varchar = true) m
                         FULL OUTER JOIN read_csv('{batch}/payment/{kind}.csv', all_varchar = true) p
                         USING (response_id))
                   TO '{out}/{kind}_join.csv' (FORMAT csv, HEADER true)''')
if checksums:
    checker.join()
"""

WITH_TABLES = """
import sys, duckdb
batch, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
for kind in ("pay", "withdraw"):
    for side in ("merchant", "payment"):
        con.execute(f'''CREATE OR REPLACE TEMP TABLE {side} AS
                        SELECT *, hash(response_id) AS h
                        FROM read_csv('{batch}/{side}/{kind}.csv', all_varchar = true)''')
    con.execute('''CREATE OR REPLACE TEMP TABLE repeated AS
                   SELECT h FROM merchant GROUP BY h HAVING count(*) > 1
                   UNION SELECT h FROM payment GROUP BY h HAVING count(*) > 1''')
    con.execute(f'''COPY (SELECT * FROM (SELECT * EXCLUDE (h) FROM merchant ANTI JOIN repeated USING (h)) m
                         FULL OUTER JOIN (SELECT * EXCLUDE (h) FROM payment ANTI JOIN repeated USING (h)) p
                         USING (response_id))
                   TO '{out}/{kind}_join.csv' (FORMAT csv, HEADER true)''')
"""

PLAIN = "plain DuckDB join"


def contenders(batch: Path, work: Path):
    python = sys.executable
    for name in ("duckdb", "prepass", "tables", "paysettle"):
        (work / name).mkdir(parents=True, exist_ok=True)
    yield PLAIN, [python, "-c", DUCKDB_JOIN, batch, work / "duckdb", ""], None
    yield "join + duplicate pre-pass", [python, "-c", WITH_PREPASS, batch, work / "prepass", ""], None
    yield "join + duplicate pre-pass + SHA-256", [python, "-c", WITH_PREPASS, batch, work / "prepass",
                                                  "sha256"], None
    yield "tables + duplicate check + join", [python, "-c", WITH_TABLES, batch, work / "tables"], None
    env = dict(os.environ, RECON_TMP_DIR=str(work / "tmp"))
    yield "paysettle recon", [python, "-m", "tools.cli", "recon", batch, work / "paysettle"], env


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=Path, help="an existing batch folder (else one is generated)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench-recon-floor")
    args = parser.parse_args(argv)
    shutil.rmtree(args.work, ignore_errors=True)
    batch = args.batch or generate(args.work / "batch", args.rows)
    runs = []
    for round_ in range(args.rounds):
        plain = None
        for name, command, env in contenders(batch, args.work):
            figures = measure(command, env)
            if figures["code"] not in (0, 1):
                print(figures["stderr"], file=sys.stderr)
                return 2
            plain = plain or figures
            figures.update(name=name, round=round_, wall_ratio=figures["wall_s"] / plain["wall_s"],
                           cpu_ratio=figures["cpu_s"] / plain["cpu_s"])
            runs.append(figures)
            print(f"round {round_} {name:<34} {figures['wall_s']:6.2f} s wall ({figures['wall_ratio']:.2f} x) "
                  f"{figures['cpu_s']:6.2f} s CPU ({figures['cpu_ratio']:.2f} x) "
                  f"{figures['peak_rss_mb']:5.0f} MB", flush=True)
    table = []
    for name in dict.fromkeys(r["name"] for r in runs):
        mine = [r for r in runs if r["name"] == name]
        table.append({"name": name, "rounds": len(mine),
                      "median_wall_s": round(statistics.median(r["wall_s"] for r in mine), 2),
                      "median_cpu_s": round(statistics.median(r["cpu_s"] for r in mine), 2),
                      "wall_ratio_per_round": [round(r["wall_ratio"], 2) for r in mine],
                      "cpu_ratio_per_round": [round(r["cpu_ratio"], 2) for r in mine],
                      "peak_rss_mb": round(max(r["peak_rss_mb"] for r in mine))})
    print(json.dumps(table, indent=1))
    if not args.batch:
        shutil.rmtree(args.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
