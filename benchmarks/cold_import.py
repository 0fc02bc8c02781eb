"""Cold import of the Lambda handler module `app` beside `import boto3, chalice, pydantic`.

A Lambda's cold start pays for importing its handler module once per new process. The
baseline is the three libraries every function needs anyway, imported by the same interpreter
in the same kind of fresh process; the two run interleaved, round by round, so a busy machine
slows both alike. Each figure is the import alone (timed inside the process, interpreter start
excluded), with compiled bytecode already on disk for both sides.

    .venv/bin/python -m benchmarks.cold_import --rounds 15
"""
import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "import boto3, chalice, pydantic"
HANDLER = "import app"
TARGET_RATIO = 1.5
PROBE = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def timed_import(statement: str) -> float:
    """Seconds `statement` takes in a fresh interpreter run from the project's root."""
    # -c puts the working directory first on sys.path, as Lambda puts the package's root. The
    # libraries' bytecode was compiled when pip installed them; the project's is written by the
    # first, untimed run, so neither side's figure includes compiling.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", PROBE.format(statement=statement)], cwd=ROOT,
                         env=env, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def measure(rounds: int) -> dict:
    timed_import(HANDLER)                     # writes any missing bytecode before timing
    baseline, handler, ratios = [], [], []
    for _ in range(rounds):
        b, h = timed_import(BASELINE), timed_import(HANDLER)
        baseline.append(b)
        handler.append(h)
        ratios.append(h / b)
    return {"baseline_s": statistics.median(baseline), "handler_s": statistics.median(handler),
            "ratio": statistics.median(ratios), "rounds": rounds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    result = measure(args.rounds)
    print(f"cold import, median of {result['rounds']} interleaved rounds: "
          f"`{BASELINE}` {result['baseline_s'] * 1000:.0f} ms, `{HANDLER}` "
          f"{result['handler_s'] * 1000:.0f} ms, ratio {result['ratio']:.2f} "
          f"(target <= {TARGET_RATIO})")
    return 0 if result["ratio"] <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
