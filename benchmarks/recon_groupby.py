"""Does DuckDB group millions of 20-digit response_ids by the id itself inside the engine's
memory limit? (DuckDB 1.2.2 once failed there with an INTERNAL error or a SIGSEGV, which is
why the engine used to group by the id's 64-bit hash first.)

    .venv/bin/python -m benchmarks.recon_groupby --rows 5000000 --rounds 3

Each round runs in a fresh process: one CSV of `rows` rows (0.1 % of the ids twice), read
and grouped by response_id with count, sum and any_value of the other fields, under the
engine's default memory limit; prints the outcome, wall time and peak RSS per round.
"""
import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chalicelib.config import RECON_DEFAULT_MEMORY_LIMIT

_CHILD = """
import duckdb, json, sys, time
path, limit, work = sys.argv[1:4]
con = duckdb.connect(config={"memory_limit": limit, "temp_directory": work, "threads": "2"})
con.execute("SET enable_progress_bar = false")
started = time.monotonic()
n, dups = con.execute(f'''
  SELECT count(*), count(*) FILTER (n > 1) FROM (
    SELECT response_id, count(*) AS n, sum(CAST(total_fee AS BIGINT)) AS s,
           any_value(request_id) AS q, any_value(saler_id) AS sl
    FROM read_csv('{path}', header = true, all_varchar = true) GROUP BY response_id)''').fetchone()
print(json.dumps({"groups": n, "duplicated": dups, "seconds": round(time.monotonic() - started, 2)}))
"""


def generate(path: Path, rows: int) -> None:
    import duckdb
    duckdb.connect().execute(f"""
        COPY (SELECT '2019082917' || lpad(CAST(i AS VARCHAR), 10, '0') AS response_id,
                     '2019082916' || lpad(CAST(i AS VARCHAR), 10, '0') AS request_id,
                     'saler' || CAST(hash(i) % 10000 AS VARCHAR) AS saler_id,
                     CAST(1 + hash(i) % 100000 AS VARCHAR) AS total_fee
              FROM range({rows}) t(i), range(2) c(copy) WHERE copy = 0 OR i % 1000 = 4
              ORDER BY hash(i))
        TO '{path}' (FORMAT csv, HEADER true)""")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-limit", default=RECON_DEFAULT_MEMORY_LIMIT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pay.csv"
        generate(path, args.rows)
        for round_ in range(args.rounds):
            wrapper = ("import resource, subprocess, sys, json; "
                       "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
                       "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024; "
                       "print(json.dumps({'rc': p.returncode, 'out': p.stdout.strip(), "
                       "'err': p.stderr.strip()[-300:], 'rss_mb': rss}))")
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-c", _CHILD,
                                   str(path), args.memory_limit, folder],
                                  capture_output=True, text=True)
            print(json.dumps({"round": round_, "wall_s": round(time.monotonic() - started, 2),
                              **json.loads(done.stdout)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
