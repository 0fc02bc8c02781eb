"""`make run`: the whole simulation of the pay/withdraw contract, end to end, on the embedded stack.

1. start the local stack (embedded AWS, the API, the payment link, the event pump);
2. `paysettle load` against the merchant API: merchant pays and withdraws from many
   threads, with the fault mode on (a share of the merchant's calls to the payment
   API time out after the payment side committed, so the merchant holds UNKNOWN orders)
   and a share of withdraws larger than any balance;
3. wait until the aggregator has credited every pay;
4. export both sides' successful orders of the run's window, and the payment side's
   balances, to the recon bucket with `paysettle export` (the CLI the daily job mirrors);
5. the bucket notifies the recon queue, the pump runs the recon function: wait for the
   batch to be DONE, download its results to out/run/<batch>/;
6. check the books: every difference must be explained by the orders the merchant
   still holds UNKNOWN (F113: on the payment side only), nothing else may differ, and
   every failing audit must be fully explained by those F113s;
7. resolve the UNKNOWN orders the way the merchant does (re-sending the identical
   message) and check each ends with the payment side's response id.

Exit status 0 when every check holds, 1 otherwise, 2 for bad options.
`make run ARGS="--pays 200 --withdraws 40"` passes options to the load driver.
"""
import csv
import importlib
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Dict, List, Optional, Set

import requests

from chalicelib.exports.window import SETTLE_SECONDS

from . import callers
from .local_stack import (CENTER, DEFAULT_API_PORT, DEFAULT_AWS_PORT, MERCHANT, REPO_ROOT, LocalStack,
                          port_from_env)
from .ports import free_port

OUT = REPO_ROOT / "out"
LOG_FILE = OUT / "simulation.log"
RESULTS_DIR = OUT / "run"
CREDIT_DEADLINE_SECONDS = 90
RECON_DEADLINE_SECONDS = 300
HTTP_TIMEOUT_SECONDS = 30
FINAL_RECON_STATES = ("DONE", "INVALID", "FAILED")
DIFF_TYPES = ("F000", "F113", "F114", "F115", "DUPLICATE")
MESSAGE_TIME = "%Y-%m-%d %H:%M:%S"


def message_time(moment: datetime) -> str:
    from chalicelib import clock
    return clock.message_time(moment)


@dataclass
class Verdict:
    problems: List[str] = field(default_factory=list)

    def check(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def wait_for_credits(api_url: str, salers: List[str], paid: Set[str], credential: dict) -> bool:
    """True once no saler has a pending credit. A saler in `paid` (the merchant holds a
    successful pay for it) must have an account; any other may have none (404)."""
    deadline = time.monotonic() + CREDIT_DEADLINE_SECONDS
    waiting = set(salers)
    from tools.signing import SignedAuth  # tools/ is importable once main() has set sys.path

    with requests.Session() as session:
        # Reads of money data are signed: the merchant's key, whose salers these are.
        session.auth = SignedAuth.from_credential(credential)
        while waiting and time.monotonic() < deadline:
            for saler in sorted(waiting):
                answer = session.get(f"{api_url}/accounts/{saler}", timeout=HTTP_TIMEOUT_SECONDS)
                # 404: a saler whose every pay timed out before commit has no account.
                if (answer.status_code == 404 and saler not in paid) or (
                        answer.status_code == 200 and answer.json()["pending_credit_count"] == 0):
                    waiting.discard(saler)
            if waiting:
                time.sleep(0.5)
    return not waiting


def export(stack: LocalStack, batch: str, start: str, end: str) -> List[dict]:
    """`paysettle export` for each side, each with its own function's environment: the
    merchant system's merchant_export, the payment center's payment_export."""
    written = []
    # Both sides of the merchant system's own tenant: the one its signing key belongs to.
    tenant = stack.credential(callers.MERCHANT_SYSTEM_KEY)["merchant_id"]
    for side, system in (("merchant", MERCHANT), ("payment", CENTER)):
        environment = stack.function_environment(f"{side}_export", system).over(os.environ)
        command = [sys.executable, "-m", "tools.cli", "export", "--batch", batch,
                   "--from", start, "--to", end, "--side", side, "--tenant", tenant]
        run = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True,
                             text=True, timeout=300)
        if run.returncode != 0:
            raise RuntimeError(f"paysettle export --side {side} exited {run.returncode}: "
                               f"{run.stderr.strip() or run.stdout.strip()}")
        line = json.loads(run.stdout.strip().splitlines()[-1])
        written.append(line)
        files = line["sides"][side]["files"]
        print(f"   {side}: " + ", ".join(f"{f['name']} {f['rows']} rows" for f in files)
              + f"; s3://{environment.get('EXPORT_BUCKET')}/{line['sides'][side]['manifest']}")
    return written


def audit_ledger(stack: LocalStack) -> bool:
    """`paysettle audit-ledger` with the ledger auditor's own environment; True when clean."""
    environment = stack.function_environment("ledger_auditor").over(os.environ)
    run = subprocess.run([sys.executable, "-m", "tools.cli", "audit-ledger"], cwd=REPO_ROOT,
                         env=environment, capture_output=True, text=True, timeout=300)
    lines = run.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"paysettle audit-ledger exited {run.returncode}: {run.stderr.strip()}")
    report = json.loads(lines[-1])
    print(f"   {report['verdict']}: {report['accounts']} accounts of {len(report['tenants'])} "
          f"tenant(s), {report['entries']} journal entries, {report['trade_phases']} trade phases, "
          f"{len(report['differences'])} differences, {len(report['busy'])} busy")
    for difference in report["differences"]:
        print(f"   difference: {difference}")
    return run.returncode == 0


def wait_for_recon(api_url: str, batch: str, credential: dict) -> dict:
    """The batch's status, asked as `credential`: a batch is its tenant's, read signed."""
    from tools.signing import SignedAuth

    deadline = time.monotonic() + RECON_DEADLINE_SECONDS
    view: dict = {}
    with requests.Session() as session:
        session.auth = SignedAuth.from_credential(credential)
        while time.monotonic() < deadline:
            answer = session.get(f"{api_url}/recon/{batch}", timeout=HTTP_TIMEOUT_SECONDS)
            if answer.status_code == 200:
                view = answer.json()
                if view.get("status") in FINAL_RECON_STATES:
                    return view
            time.sleep(0.5)
    return view


def download_results(stack: LocalStack, view: dict, batch: str) -> Path:
    bucket, _, prefix = view["results"][len("s3://"):].partition("/")
    s3 = stack._client("s3")
    target = RESULTS_DIR / batch
    target.mkdir(parents=True, exist_ok=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1]
            s3.download_file(bucket, item["Key"], str(target / name))
    return target


def recon_rows(folder: Path, diff_type: str) -> List[dict]:
    rows = []
    for name in ("pay_recon.csv", "withdraw_recon.csv"):
        with open(folder / name, newline="", encoding="utf-8") as stream:
            rows += [row for row in csv.DictReader(stream) if row["diff_type"] == diff_type]
    return rows


def print_summary(summary: dict, results: Path) -> None:
    print(f"{'kind':<9}" + "".join(f"{d:>11}" for d in DIFF_TYPES))
    for kind, diffs in summary["recon"].items():
        print(f"{kind:<9}" + "".join(f"{diffs[d]['count']:>11}" for d in DIFF_TYPES))
    audit = summary["audit"]
    print(f"audit: {audit['accounts']} accounts, {audit['SUCCESS']} SUCCESS, {audit['FAIL']} FAIL "
          f"(unexplained {audit['fail_abs_unexplained']} fen)")
    print(f"row errors: {summary['row_errors']}")
    print(f"report: {results / 'report.html'} (and audit.csv, pay_recon.csv, withdraw_recon.csv "
          f"beside it)")


def check_books(summary: dict, results: Path, unknown: Set[str], verdict: Verdict) -> Dict[str, str]:
    """Every difference must be an order the merchant holds UNKNOWN; returns their response ids."""
    for kind, diffs in summary["recon"].items():
        for diff in ("F114", "F115", "DUPLICATE"):
            verdict.check(diffs[diff]["count"] == 0, f"{kind}: {diffs[diff]['count']} {diff}")
    verdict.check(summary["row_errors"] == 0, f"{summary['row_errors']} row errors")
    only_payment = {row["request_id"]: row["response_id"] for row in recon_rows(results, "F113")}
    unexplained = set(only_payment) - unknown
    verdict.check(not unexplained, f"F113 orders the merchant does not hold UNKNOWN: "
                                   f"{sorted(unexplained)[:5]}")
    verdict.check(summary["audit"]["fail_abs_unexplained"] == 0,
                  f"audit: {summary['audit']['fail_abs_unexplained']} fen unexplained")
    return only_payment


def resolve_unknown(merchant_api_url: str, unknown: Set[str], only_payment: Dict[str, str],
                    verdict: Verdict) -> int:
    """The merchant's own resolution (its API): GET re-sends the identical message."""
    resolved = 0
    with requests.Session() as session:
        for request_id in sorted(unknown):
            order = session.get(f"{merchant_api_url}/merchant/orders/{request_id}",
                                timeout=HTTP_TIMEOUT_SECONDS).json()
            if order.get("state") in ("SUCCESS", "FAIL"):
                resolved += 1
            expected = only_payment.get(request_id)
            if expected is not None:
                verdict.check(order.get("response_id") == expected,
                              f"{request_id}: resolved to response_id {order.get('response_id')}, "
                              f"the payment side recorded {expected}")
    verdict.check(resolved == len(unknown), f"{len(unknown) - resolved} UNKNOWN orders unresolved")
    return resolved


def _logs_to_file(path: Path) -> None:
    """Send the stack's JSON log lines to a file so the tables stay readable.

    The app is imported first: on import Chalice configures the `paysettle`
    logger unless a stdout handler is already there.
    """
    importlib.import_module("app")
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    from chalicelib.logs import output_formatter

    handler.setFormatter(output_formatter())  # the same JSON line as on stdout
    logging.getLogger("paysettle").handlers = [handler]


def main(argv: Optional[List[str]] = None) -> int:
    started = time.monotonic()
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tools.load import REALISTIC_FAULT_RATE, run_load
    from tools.load.command import settings_from_argv

    argv = sys.argv[1:] if argv is None else argv
    # Options are checked before anything starts (exit status 2 on a bad one).
    settings_from_argv(argv, prog="make run", api_url="http://127.0.0.1:1",
                       payment_link_url="http://127.0.0.1:1", fault_rate=REALISTIC_FAULT_RATE)
    _logs_to_file(LOG_FILE)
    stack = LocalStack(api_port=free_port(port_from_env("API_PORT", DEFAULT_API_PORT)),
                       aws_port=free_port(port_from_env("AWS_PORT", DEFAULT_AWS_PORT)),
                       out_path=None, api_log=LOG_FILE.with_name("simulation-api.log"))
    verdict = Verdict()
    with stack:
        link_url = stack.manifest()["payment_link_url"]
        # The load driver drives the merchant system's API, which calls the center.
        settings = settings_from_argv(argv, prog="make run", api_url=stack.merchant_api_url,
                                      payment_link_url=link_url, fault_rate=REALISTIC_FAULT_RATE)
        print(f"embedded stack: payment center API {stack.api_url}, merchant system API "
              f"{stack.merchant_api_url}, AWS {stack.aws.url}, payment link {link_url}; "
              f"logs in {LOG_FILE.parent}/")
        window_start = message_time(datetime.now().astimezone())
        spec = settings.spec
        _step(f"load: {spec.pays} pays and {spec.withdraws} withdraws over {spec.salers} salers, "
              f"{settings.threads} threads, fault rate {settings.fault_rate:.1%}, seed {spec.seed}")
        result = run_load(settings)
        print(result.table())
        verdict.check(result.complete, "some merchant calls got no usable answer (see the table)")
        unknown = set(result.unknown_request_ids)

        _step("waiting for the aggregator to credit every pay")
        salers = sorted({o.call.saler_id for o in result.outcomes})
        paid = {o.call.saler_id for o in result.outcomes if o.call.kind == "PAY"
                and isinstance(o.body, dict) and o.body.get("state") == "SUCCESS"}
        verdict.check(wait_for_credits(stack.api_url, salers, paid,
                                       stack.credential(callers.MERCHANT_SYSTEM_KEY)),
                      f"credits still pending after {CREDIT_DEADLINE_SECONDS} s")

        # The window ends after the last order the payment side recorded in this run, and an
        # export refuses a window that has not settled (SETTLE_SECONDS after its end).
        window_end = message_time(datetime.now().astimezone() + timedelta(seconds=1))
        settled = datetime.strptime(window_end, MESSAGE_TIME) + timedelta(seconds=SETTLE_SECONDS)
        while message_time(datetime.now().astimezone()) < settled.strftime(MESSAGE_TIME):
            time.sleep(0.25)
        batch = "run-" + window_start.replace("-", "").replace(":", "").replace(" ", "")
        _step(f"exporting batch {batch}: orders recorded in [{window_start}, {window_end})")
        export(stack, batch, window_start, window_end)

        _step("reconciliation (S3 event -> recon queue -> recon function)")
        view = wait_for_recon(stack.api_url, batch, stack.credential(callers.MERCHANT_SYSTEM_KEY))
        if view.get("status") != "DONE":
            verdict.check(False, f"recon batch {batch} ended {view.get('status')}: "
                                 f"{view.get('error') or view.get('waiting_for')}")
        else:
            results = download_results(stack, view, batch)
            print_summary(view["summary"], results)
            only_payment = check_books(view["summary"], results, unknown, verdict)
            _step(f"the merchant holds {len(unknown)} UNKNOWN orders "
                  f"({len(only_payment)} recorded by the payment side: the F113s); resolving them")
            resolved = resolve_unknown(stack.merchant_api_url, unknown, only_payment, verdict)
            print(f"resolved {resolved} of {len(unknown)} by re-sending the identical message")

        _step("ledger audit: every balance is its journal, every trade sums to zero")
        verdict.check(audit_ledger(stack), "the ledger auditor found differences (see above)")
    print()
    for problem in verdict.problems:
        print(f"PROBLEM: {problem}")
    ok = not verdict.problems
    print(f"{'ALL OK' if ok else 'MISMATCH'} in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
