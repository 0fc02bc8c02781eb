"""The `paysettle` command.

    paysettle recon <batch folder> <out folder>
    paysettle load [--pays N --withdraws N --threads N --seed N --fault-rate R ...]

`paysettle load` is the load driver (tools/load/command.py has its exit statuses).

The batch folder holds `merchant/` and `payment/` exactly as S3 holds
`incoming/<tenant>/<batch>/`; the out folder receives the files the Lambda writes under
`results/<tenant>/<batch>/`. Exit status: 0 reconciled and everything balances, 1
reconciled with discrepancies, row errors or failed audits (see the files), 2
the batch is INVALID (see error.json), 3 the run itself failed.

    paysettle export --tenant TENANT --batch NAME --from "yyyy-MM-dd HH:mm:ss" --to "yyyy-MM-dd HH:mm:ss"
                     [--side merchant|payment|both]

Exports one tenant's successful orders answered in [from, to) (China time) to the
recon bucket, under incoming/<tenant>/<batch>/, as the daily Lambdas do, reading the
same environment variables (EXPORT_BUCKET, MERCHANT_ORDERS_TABLE, ORDERS_TABLE, LEDGER_TABLE, ...). Prints
one JSON line: the tenant, the batch, the window and, per side, its outcome and the files
written (key, rows, sha256). Exit status: 0 every side EXPORTED, 1 the payment
side refused because credits are still pending (nothing of it written; run
again after the aggregator), 2 bad arguments (nothing written), 3 a side FAILED.

    paysettle audit-ledger [--tenant ID] [--page-size N] [--tries N]

Audits LedgerTable (LEDGER_TABLE; AWS_ENDPOINT_URL for a local endpoint) as the scheduled
ledger_auditor does: per tenant and account, balance = sum of the journal, every trade phase's
postings sum to zero, no negative balance but a channel's clearing account. Prints one JSON line
(verdict, per-tenant totals, differences, accounts too busy to read still). Exit status: 0 clean,
1 differences found, 2 inconclusive (some account never held still; no difference among the
rest), 3 the run failed.
"""
import argparse
import json
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from chalicelib.config import recon_settings
from chalicelib.recon import batch, engine

EXIT_BALANCED, EXIT_DIFFERENCES, EXIT_INVALID, EXIT_FAILED = 0, 1, 2, 3
EXIT_EXPORTED, EXIT_PENDING, EXIT_BAD_ARGUMENTS, EXIT_EXPORT_FAILED = 0, 1, 2, 3
LOAD_HELP = "fire merchant pays and withdraws from many threads"
SIDE_CHOICES = {"merchant": ("merchant",), "payment": ("payment",), "both": ("merchant", "payment")}


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


# The merchant system's vendored code (merchantlib): its order model is what the merchant side
# is read through. Appended after everything else, as the merchant system's package has it.
MERCHANT_VENDOR = Path(__file__).resolve().parent.parent / "merchant_system" / "vendor"


def _export(args) -> int:
    from chalicelib.config import MissingSetting
    from chalicelib.exports import service
    from chalicelib.exports.window import InvalidWindow, Window

    if "merchant" in SIDE_CHOICES[args.side] and str(MERCHANT_VENDOR) not in sys.path:
        sys.path.append(str(MERCHANT_VENDOR))
    try:
        window = Window.parse(args.start, args.end)
        ctx = service.from_environment(args.tenant)
        report = service.export_batch(ctx, args.batch, window, SIDE_CHOICES[args.side])
    except (InvalidWindow, service.InvalidExport) as error:
        print(f"export refused: {error}", file=sys.stderr)
        return EXIT_BAD_ARGUMENTS
    except MissingSetting as error:
        print(f"export failed: {error}", file=sys.stderr)
        return EXIT_EXPORT_FAILED
    print(json.dumps(report.as_dict(), ensure_ascii=False))
    outcomes = {side.outcome for side in report.sides.values()}
    if service.FAILED in outcomes:
        return EXIT_EXPORT_FAILED
    if service.PENDING_CREDITS in outcomes:
        return EXIT_PENDING
    return EXIT_EXPORTED


EXIT_AUDIT_CLEAN, EXIT_AUDIT_DIFFERENCES, EXIT_AUDIT_INCONCLUSIVE = 0, 1, 2


def _audit_ledger(args) -> int:
    from chalicelib.config import audit_settings
    from chalicelib.payments import auditor

    settings = audit_settings()
    report = auditor.audit(page_size=args.page_size or settings.page_size,
                           snapshot_tries=args.tries or settings.snapshot_tries, tenant=args.tenant)
    auditor.emit(report)
    print(json.dumps(report.as_dict(), ensure_ascii=False))
    if report.differences:
        return EXIT_AUDIT_DIFFERENCES
    return EXIT_AUDIT_INCONCLUSIVE if report.busy else EXIT_AUDIT_CLEAN


@contextmanager
def _logs_to_stderr():
    """stdout carries the command's one JSON line; the JSON logs go to stderr meanwhile."""
    handlers = [h for h in logging.getLogger("paysettle").handlers
                if isinstance(h, logging.StreamHandler)]
    previous = [h.stream for h in handlers]
    for handler in handlers:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        for handler, stream in zip(handlers, previous):
            handler.setStream(stream)


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
    recon.set_defaults(run=_recon)
    export = commands.add_parser(
        "export", help="export both sides' successful orders of a window to the recon bucket",
        description="Exports one tenant's successful orders answered in [--from, --to) (China "
                    "time, by response_time) to incoming/<tenant>/<batch>/<side>/ in EXPORT_BUCKET, each side's "
                    "_manifest.json last; the payment side adds balances.csv (balance at --to, "
                    "opening_balance at --from, from the journal).",
        epilog="exit status: 0 exported, 1 payment side refused: credits still pending (retry "
               "after the aggregator), 2 bad arguments, 3 a side failed")
    export.add_argument("--tenant", default=os.environ.get("MERCHANT_SYSTEM_TENANT") or None,
                        required=not os.environ.get("MERCHANT_SYSTEM_TENANT"),
                        help="whose batch: the merchant_id of the tenant's keys, e.g. demo "
                             "(default: MERCHANT_SYSTEM_TENANT, the simulated merchant system's)")
    export.add_argument("--batch", required=True, help="batch name, e.g. 20261121")
    export.add_argument("--from", dest="start", required=True, metavar="'yyyy-MM-dd HH:mm:ss'",
                        help="window start, inclusive, China time")
    export.add_argument("--to", dest="end", required=True, metavar="'yyyy-MM-dd HH:mm:ss'",
                        help="window end, exclusive, China time; must have ended at least 5 s ago")
    export.add_argument("--side", choices=sorted(SIDE_CHOICES), default="both")
    export.set_defaults(run=_export)
    audit = commands.add_parser(
        "audit-ledger", help="check every account's balance against its journal",
        description="Per tenant and account: balance = sum of the journal; every trade phase's "
                    "postings sum to zero; no negative balance but a channel's clearing account.",
        epilog="exit status: 0 clean, 1 differences found, 2 inconclusive (an account kept "
               "changing while read), 3 failure")
    audit.add_argument("--tenant", help="audit this tenant only (default: every tenant in the table)")
    audit.add_argument("--page-size", type=int,
                       help="items per DynamoDB page (default: LEDGER_AUDIT_PAGE_SIZE, else 500)")
    audit.add_argument("--tries", type=int, help="reads of a busy account before it is reported busy "
                                                 "(default: LEDGER_AUDIT_SNAPSHOT_TRIES, else 8)")
    audit.set_defaults(run=_audit_ledger)
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["load"]:
        # The load driver's HTTP stack (requests, tqdm) only for `load`: `recon` starts faster.
        from .load import command as load_command
        load = load_command.add_parser(commands, LOAD_HELP)
        return load_command.run(parser.parse_args(argv), load)
    commands.add_parser("load", help=LOAD_HELP, add_help=False)
    args = parser.parse_args(argv)
    with _logs_to_stderr():
        try:
            return args.run(args)
        except Exception as error:  # noqa: BLE001 - a command line answers in words, with a status
            print(f"{args.command} failed: {type(error).__name__}: {error}", file=sys.stderr)
            return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
