"""A skewed batch beside one of the same size with distinct ids: `paysettle recon` on both.

    .venv/bin/python -m benchmarks.recon_skew --rows 4000000 --rounds 2

Two batches, generated once: in both, the merchant's pay.csv holds `rows` orders with
distinct response_ids; the payment's pay.csv holds `rows` orders too, either the same ids
("distinct") or one response_id repeated `rows` times ("skew": one DUPLICATE id of
`rows` copies, every merchant order F114). The withdraw files are header-only, balances.csv
one row per saler. Rounds are interleaved (distinct, skew, distinct, skew, ...); each run is
measured like benchmarks.recon (wall time around the subprocess, peak RSS of the child).
"""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import duckdb

from benchmarks.recon import contenders, measure
from chalicelib.config import RECON_DEFAULT_MEMORY_LIMIT

_PAY = """
COPY (SELECT '2019-08-29 17:15:20' AS request_time, '2019082916' || lpad(CAST(i AS VARCHAR), 10, '0') AS request_id,
             '2019-08-29 17:15:25' AS response_time, {response_id} AS response_id,
             'saler' || CAST(hash(i) % 10000 AS VARCHAR) AS saler_id,
             CAST(1 + hash(i * 7) % 100000 AS VARCHAR) AS total_fee
      FROM range({rows}) t(i) ORDER BY hash(i + {seed}))
TO '{path}' (FORMAT csv, HEADER true)
"""
DISTINCT_ID = "'2019082917' || lpad(CAST(i AS VARCHAR), 10, '0')"
ONE_ID = "'20190829170000000001'"


def generate(folder: Path, rows: int, skew: bool) -> Path:
    from chalicelib.recon import manifest

    for side in ("merchant", "payment"):
        (folder / side).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(_PAY.format(response_id=DISTINCT_ID, rows=rows, seed=1,
                            path=folder / "merchant" / "pay.csv"))
    con.execute(_PAY.format(response_id=ONE_ID if skew else DISTINCT_ID, rows=rows, seed=2,
                            path=folder / "payment" / "pay.csv"))
    header = "request_time,request_id,response_time,response_id,saler_id,withdraw_money\n"
    for side in ("merchant", "payment"):
        (folder / side / "withdraw.csv").write_text(header)
    (folder / "payment" / "balances.csv").write_text("saler_id,balance\nsaler1,0\n")
    for side in ("merchant", "payment"):
        files = [{"name": path.name, **{k: v for k, v in manifest.file_facts(path).items()
                                       if k in ("rows", "sha256")}}
                 for path in sorted((folder / side).glob("*.csv"))]
        (folder / side / "_manifest.json").write_text(json.dumps({"files": files}))
    os.sync()
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--memory-limit", default=RECON_DEFAULT_MEMORY_LIMIT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="recon-skew-") as root:
        root = Path(root)
        batches = {name: generate(root / name, args.rows, skew=name == "skew")
                   for name in ("distinct", "skew")}
        for round_ in range(args.rounds):
            for name, batch in batches.items():
                work = root / f"work-{name}-{round_}"
                work.mkdir()
                label, command, env = next(contenders(batch, work, args.memory_limit, False, False))
                figures = measure(command, env)
                summary = work / "paysettle" / "summary.json"
                status = json.loads(summary.read_text())["status"] if summary.exists() else "none"
                print(json.dumps({"batch": name, "round": round_, "rows": args.rows,
                                  "status": status, "code": figures["code"],
                                  "wall_s": round(figures["wall_s"], 2),
                                  "cpu_s": round(figures["cpu_s"], 2),
                                  "peak_rss_mb": round(figures["peak_rss_mb"]),
                                  "stderr": figures["stderr"][-300:] if figures["code"] else ""}),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
