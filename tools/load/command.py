"""`paysettle load`: the options, where the URLs come from, and the exit status.

Exit status: 0 every call got an answer (SUCCESS, FAIL or UNKNOWN are all
answers), 1 some calls got an HTTP error or no answer (see the table), 2 bad
options, 3 the driver itself failed (e.g. the payment link's fault control).
"""
import argparse
import json
import os
import sys
from pathlib import Path
from typing import Optional

from .client import DEFAULT_TIMEOUT_SECONDS
from .faults import FaultControlError
from .plan import PlanSpec
from .runner import REALISTIC_FAULT_RATE, LoadSettings, run_load

EXIT_COMPLETE, EXIT_UNANSWERED, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3
DEFAULTS = PlanSpec()
# Where --key-id's secret comes from when the stack file does not list the key (another stage).
SECRET_ENV = "PAYSETTLE_SIGNING_SECRET"
DEFAULT_THREADS = 16


def default_stack_file() -> Path:
    return Path(os.environ.get("LOCAL_STACK_OUT") or Path("out") / "local-stack.json")


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not in [0, 1]")
    return value


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value
    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not more than 0")
    return value


DESCRIPTION = ("Fire merchant pays and withdraws at the merchant API from many threads and "
               "print throughput, latency percentiles and outcome counts.")
EPILOG = ("exit status: 0 every call answered, 1 some calls got an HTTP error or no answer, "
          "2 bad options, 3 the driver failed")


def add_parser(commands, help_text: str) -> argparse.ArgumentParser:
    """`paysettle load`, as a subcommand of `paysettle`."""
    parser = commands.add_parser("load", help=help_text, description=DESCRIPTION, epilog=EPILOG)
    add_arguments(parser)
    return parser


def settings_from_argv(argv, prog: str = "load", **defaults) -> LoadSettings:
    """The load options parsed on their own, for a caller passing options through (make run).

    `defaults` replaces option defaults by their dest name, e.g. `api_url=stack.merchant_api_url,
    payment_link_url=..., fault_rate=REALISTIC_FAULT_RATE`. Bad options exit with status 2.
    """
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(**defaults)
    return settings_from(parser.parse_args(argv), parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("where")
    where.add_argument("--api-url", help="the merchant system's API base URL (default: "
                                         "merchant_api_url from the stack file)")
    where.add_argument("--stack-file", type=Path, default=None,
                       help="the local stack's description (default: LOCAL_STACK_OUT, else "
                            "out/local-stack.json)")
    where.add_argument("--payment-link-url", help="the payment link for --fault-rate (default: "
                                                  "payment_link_url from the stack file)")
    where.add_argument("--key-id", help="sign every call as this caller: its secret comes from "
                                        f"the stack file's merchants, else from ${SECRET_ENV} "
                                        "(default: unsigned; /merchant/* needs no signature)")
    what = parser.add_argument_group("what")
    what.add_argument("--pays", type=_count(0), default=DEFAULTS.pays,
                      help=f"merchant pays to send (default {DEFAULTS.pays})")
    what.add_argument("--withdraws", type=_count(0), default=DEFAULTS.withdraws,
                      help=f"merchant withdraws to send, overdraws included "
                           f"(default {DEFAULTS.withdraws})")
    what.add_argument("--salers", type=_count(1), default=DEFAULTS.salers,
                      help=f"number of salers (default {DEFAULTS.salers})")
    what.add_argument("--saler-prefix", default=DEFAULTS.saler_prefix,
                      help=f"saler ids are PREFIX01, PREFIX02, ... (default "
                           f"{DEFAULTS.saler_prefix!r}); a new prefix gives salers that start empty")
    what.add_argument("--min-amount", type=_count(1), default=DEFAULTS.min_amount,
                      help=f"smallest pay, fen (default {DEFAULTS.min_amount})")
    what.add_argument("--max-amount", type=_count(1), default=DEFAULTS.max_amount,
                      help=f"largest pay, fen (default {DEFAULTS.max_amount})")
    what.add_argument("--overdraw-share", type=_share, default=DEFAULTS.overdraw_share,
                      help=f"share of the withdraws asking more than the saler can have "
                           f"(default {DEFAULTS.overdraw_share})")
    what.add_argument("--seed", type=int, default=DEFAULTS.seed,
                      help=f"the plan's seed: the same seed sends the same calls with the same "
                           f"amounts in the same order (default {DEFAULTS.seed})")
    how = parser.add_argument_group("how")
    how.add_argument("--threads", type=_count(1), default=DEFAULT_THREADS,
                     help=f"concurrent callers, one keep-alive connection each "
                          f"(default {DEFAULT_THREADS})")
    how.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT_SECONDS,
                     help=f"seconds to wait for one answer (default {DEFAULT_TIMEOUT_SECONDS:g}); "
                          "keep it above the merchant's own payment timeout")
    how.add_argument("--fault-rate", type=_share, default=0.0,
                     help="share of the merchant's calls to the payment API that time out AFTER "
                          "the payment side answered, set on the payment link (default 0; "
                          f"{REALISTIC_FAULT_RATE:g} is realistic, see docs/load-driver.md)")
    how.add_argument("--keep-faults", action="store_true",
                     help="leave the fault rate on the payment link after the run (default: "
                          "put back what was there)")
    out = parser.add_argument_group("output")
    out.add_argument("--json", action="store_true",
                     help="print the result as one JSON document on stdout instead of the table")
    out.add_argument("--unknown-file", type=Path,
                     help="write the request_ids answered UNKNOWN to this file, one a line")
    out.add_argument("--no-progress", action="store_true",
                     help="no progress bar (it goes to stderr)")


def _stack(path: Path) -> Optional[dict]:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def settings_from(args, parser: argparse.ArgumentParser) -> LoadSettings:
    """The settings the options ask for; `parser.error` (exit 2) when they make no sense."""
    stack_file = args.stack_file or default_stack_file()
    stack = _stack(stack_file) or {}
    api_url = args.api_url or stack.get("merchant_api_url")
    if not api_url:
        parser.error(f"no --api-url and no merchant_api_url in {stack_file} "
                     "(start the stack with `make serve`, or pass --api-url)")
    spec = PlanSpec(pays=args.pays, withdraws=args.withdraws, salers=args.salers,
                    min_amount=args.min_amount, max_amount=args.max_amount,
                    overdraw_share=args.overdraw_share, seed=args.seed,
                    saler_prefix=args.saler_prefix)
    settings = LoadSettings(
        api_url=api_url, spec=spec, threads=args.threads, timeout=args.timeout,
        fault_rate=args.fault_rate,
        payment_link_url=args.payment_link_url or stack.get("payment_link_url"),
        restore_faults=not args.keep_faults, progress=not args.no_progress,
        credential=_credential(getattr(args, "key_id", None), stack, stack_file, parser))
    problems = settings.problems()
    if problems:
        parser.error("; ".join(problems))
    return settings


def _credential(key_id: Optional[str], stack: dict, stack_file: Path,
                parser: argparse.ArgumentParser) -> Optional[dict]:
    if not key_id:
        return None
    for credential in stack.get("merchants") or []:
        if credential.get("key_id") == key_id and credential.get("secret"):
            return {"key_id": key_id, "secret": credential["secret"]}
    secret = os.environ.get(SECRET_ENV)
    if secret:
        return {"key_id": key_id, "secret": secret}
    parser.error(f"--key-id {key_id}: not in the merchants of {stack_file} and no ${SECRET_ENV}")


def run(args, parser: argparse.ArgumentParser) -> int:
    settings = settings_from(args, parser)
    try:
        result = run_load(settings)
    except FaultControlError as error:
        print(f"load failed: the payment link's fault control: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # noqa: BLE001 - a command line answers in words, with a status
        print(f"load failed: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    ids = result.unknown_request_ids
    if args.unknown_file:
        args.unknown_file.parent.mkdir(parents=True, exist_ok=True)
        args.unknown_file.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    if args.json:
        document = result.to_dict()
        document["unknown_file"] = str(args.unknown_file) if args.unknown_file else None
        print(json.dumps(document, ensure_ascii=False))
    else:
        print(result.table())
        if args.unknown_file:
            print(f"UNKNOWN request ids written to {args.unknown_file}")
    return EXIT_COMPLETE if result.complete else EXIT_UNANSWERED
