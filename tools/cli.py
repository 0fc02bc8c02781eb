"""The `paysettle` command.

    paysettle recon <batch folder> <out folder>
    paysettle load [--pays N --withdraws N --threads N --seed N --fault-rate R ...]

`paysettle load` is the load driver (tools/load/command.py has its exit statuses).

The batch folder holds `merchant/` and `payment/` exactly as S3 holds
`incoming/<batch>/`; the out folder receives the files the Lambda writes under
`results/<batch>/`. Exit status: 0 reconciled and everything balances, 1
reconciled with discrepancies, row errors or failed audits (see the files), 2
the batch is INVALID (see error.json), 3 the run itself failed.
"""
import argparse
import json
import sys
from pathlib import Path

from chalicelib.config import recon_settings
from chalicelib.recon import batch, engine

from .load import command as load_command

EXIT_BALANCED, EXIT_DIFFERENCES, EXIT_INVALID, EXIT_FAILED = 0, 1, 2, 3


def _recon(args) -> int:
    settings = recon_settings(require_aws=False)
    options = engine.EngineOptions(
        work_dir=Path(args.tmp_dir or settings.tmp_dir),
        memory_limit=args.memory_limit or settings.memory_limit or None,
        threads=args.threads or settings.threads or None)
    if not (args.batch / "merchant").is_dir() and not (args.batch / "payment").is_dir():
        print(f"{args.batch}: no merchant/ or payment/ folder in it", file=sys.stderr)
        return EXIT_FAILED
    outcome = batch.reconcile_folder(args.batch, args.out, options)
    document = outcome.document
    if outcome.status == batch.INVALID:
        print(f"INVALID: {document['reason']} (see {args.out / 'error.json'})", file=sys.stderr)
        return EXIT_INVALID
    audit = document["audit"]
    line = {"batch": document["batch"], "status": document["status"],
            "balanced": document["balanced"], "discrepancies": document["discrepancies"],
            "row_errors": document["row_errors"],
            "audit": {"SUCCESS": audit["SUCCESS"], "FAIL": audit["FAIL"]},
            "seconds": document["timings_ms"]["total"] / 1000, "out": str(args.out)}
    print(json.dumps(line, ensure_ascii=False))
    return EXIT_BALANCED if outcome.balanced else EXIT_DIFFERENCES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="paysettle", description="PaySettle tools")
    commands = parser.add_subparsers(dest="command", required=True)
    recon = commands.add_parser("recon", help="reconcile and audit one batch folder",
                                epilog="exit status: 0 balanced, 1 differences found, "
                                       "2 INVALID batch, 3 failure")
    recon.add_argument("batch", type=Path, help="folder holding merchant/ and payment/")
    recon.add_argument("out", type=Path, help="folder that receives the result files")
    recon.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 512MB "
                       "(default: RECON_MEMORY_LIMIT, else 640MB)")
    recon.add_argument("--threads", type=int, help="DuckDB threads (default: RECON_THREADS, else one per core)")
    recon.add_argument("--tmp-dir", help="spill folder (default: RECON_TMP_DIR, else the system's)")
    load = load_command.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "load":
        return load_command.run(args, load)
    try:
        return _recon(args)
    except Exception as error:  # noqa: BLE001 - a command line answers in words, with a status
        print(f"recon failed: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
