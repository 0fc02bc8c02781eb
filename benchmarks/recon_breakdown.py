"""Where `paysettle recon`'s time goes, beside the plain DuckDB join's, phase by phase.

    .venv/bin/python -m benchmarks.recon_breakdown                 # 1 M rows per side, 3 rounds
    .venv/bin/python -m benchmarks.recon_breakdown --rows 200000 --repeats 1

The engine's SQL statements are timed one by one (wall and process CPU, every DuckDB
thread included) and grouped by what they do; the manifest check (SHA-256 and row count
of every file) is timed on its own, since the job runs it in a thread beside the engine.
The plain join (benchmarks.recon's DUCKDB_JOIN, per kind one statement that reads,
joins and writes) runs in the same rounds, each contender in a fresh process. What
the figures show: the engine's read, join and write against the join's whole job,
and what the checks the issue asks for (duplicates, the manifest, the audit) add.
"""
import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.recon import DUCKDB_JOIN, ROOT, generate
from chalicelib.config import RECON_DEFAULT_MEMORY_LIMIT

# First match wins; a statement no pattern names counts as "other".
PHASES = (
    ("stage (copy into Parquet buckets)", r"^COPY \(SELECT k, "),
    ("read (each side parsed once into a table)", r"^CREATE TEMP TABLE \w+_r_(m|p) AS"),
    ("repeated ids (grouping of the ids' hashes)", r"^CREATE TEMP TABLE \w+_r_d AS"),
    # The repeated ids grouped and joined, and the single ids' discrepancies; the single ids'
    # matched records are joined inside the write of their part of the result file.
    ("join (single ids; repeated ids grouped)", r"^CREATE TEMP TABLE \w+_r(_x)? AS"),
    # The sorted head; the result file (header, head and the last bucket's matched records in
    # one statement), an earlier bucket's matched records, the duplicates' sample.
    ("write results", r"^CREATE TEMP TABLE \w+_head AS|"
                      r"^COPY \( ?SELECT ('request_id' AS c0|CASE WHEN p_amount|p_request_id|"
                      r"\* FROM \(SELECT CASE|response_id, side)"),
    ("counts, sums, discrepancies", r"_net_parts|_disc|_explained|^CREATE TEMP TABLE \w+_net |"
                                    r"^SELECT diff_type|^SELECT n FROM \w+_r_|_r_ms|^SELECT count\(\*\), count\(k\)"),
    ("duplicates", r"_dups|FILTER \(m_amount IS NOT NULL\)"),
    ("audit", r"balances_p|audit"),
    ("row errors (DuckDB's rejects)", r"rejects_"),
)
MANIFEST_CHECK = "manifest check (own thread in the job)"


def _phase(statement: str) -> str:
    text = " ".join(statement.split())
    return next((name for name, pattern in PHASES if re.search(pattern, text)), "other")


def engine_child(batch: Path, work: Path, memory_limit: str) -> dict:
    """The engine on `batch`, its statements timed by phase; then the manifest check alone."""
    from chalicelib.recon import duckdb_session, engine, manifest

    phases: dict = {}
    execute = duckdb_session.Session.sql

    def timed(session, text):
        wall, cpu = time.monotonic(), time.process_time()
        try:
            return execute(session, text)
        finally:
            figures = phases.setdefault(_phase(text), [0.0, 0.0])
            figures[0] += time.monotonic() - wall
            figures[1] += time.process_time() - cpu

    duckdb_session.Session.sql = timed
    try:
        (work / "out").mkdir(parents=True, exist_ok=True)
        wall, cpu = time.monotonic(), time.process_time()
        engine.run(batch, work / "out", engine.EngineOptions(work_dir=work / "tmp",
                                                             memory_limit=memory_limit))
        total = [time.monotonic() - wall, time.process_time() - cpu]
    finally:
        duckdb_session.Session.sql = execute
    wall, cpu = time.monotonic(), time.process_time()
    manifest.check(batch)
    phases[MANIFEST_CHECK] = [time.monotonic() - wall, time.process_time() - cpu]
    return {"engine total": total, **phases}


def join_child(batch: Path, work: Path, memory_limit: str) -> dict:
    """benchmarks.recon's plain join, timed as a whole."""
    import duckdb  # noqa: F401  (imported before the clock starts, as the engine's is)

    wall, cpu = time.monotonic(), time.process_time()
    exec(compile(DUCKDB_JOIN, "duckdb_join", "exec"), {"__name__": "duckdb_join"})
    return {"plain join (read, join, write)": [time.monotonic() - wall, time.process_time() - cpu]}


CHILDREN = {"engine": engine_child, "join": join_child}


def run_child(name: str, batch: Path, work: Path, memory_limit: str) -> dict:
    (work / name).mkdir(parents=True, exist_ok=True)
    result = subprocess.run([sys.executable, "-m", "benchmarks.recon_breakdown", "--child", name,
                             str(batch), str(work / name), memory_limit],
                            capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        raise SystemExit(f"{name} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-limit", default=RECON_DEFAULT_MEMORY_LIMIT)
    parser.add_argument("--batch", type=Path, help="an existing batch folder (merchant/, payment/) "
                        "instead of a generated one")
    parser.add_argument("--work", type=Path, default=ROOT / "out" / "bench-recon-breakdown")
    parser.add_argument("--child", nargs=4, metavar=("NAME", "BATCH", "WORK", "LIMIT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, batch, work, limit = args.child
        if name == "join":
            sys.argv = ["duckdb_join", batch, work, limit]
        print(json.dumps(CHILDREN[name](Path(batch), Path(work), limit)))
        return 0
    shutil.rmtree(args.work, ignore_errors=True)
    batch = args.batch or generate(args.work / "batch", args.rows)
    rounds = []
    for _ in range(args.repeats):
        rounds.append({**run_child("join", batch, args.work, args.memory_limit),
                       **run_child("engine", batch, args.work, args.memory_limit)})
    shutil.rmtree(args.work, ignore_errors=True)
    print(f"# {args.batch or f'{args.rows:,} rows per side'}, DuckDB memory limit {args.memory_limit}, "
          f"median of {args.repeats} rounds")
    print(f"{'':42} {'wall s':>8} {'CPU s':>8}")
    for name in rounds[0]:
        wall = statistics.median(r[name][0] for r in rounds if name in r)
        cpu = statistics.median(r[name][1] for r in rounds if name in r)
        print(f"{name:42} {wall:8.2f} {cpu:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
