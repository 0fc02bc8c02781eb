"""Regenerates the documentation's pictures from a real run, in headless Chromium.

    .venv/bin/python -m tools.docs_screenshots [--pays 200 --withdraws 40 --salers 8]

1. runs the main job (`python -m infra.simulation`, what `make run` runs) with small counts and
   the fault mode on, and keeps what it printed in `docs/img/make-run.txt`;
2. opens the reconciliation report of that run (`out/run/<batch>/report.html`) and saves
   `docs/img/recon-report.png` (`--report <report.html>` pictures an earlier run's instead);
3. starts the local stack (as `make serve` does, on free ports), opens Swagger UI at `/docs`,
   expands the merchant's pay operation and saves `docs/img/swagger.png`.

The browser is Debian's `chromium` (`apt-get install -y chromium`), driven by Playwright, which
downloads no browser of its own. Nothing here reaches beyond loopback.
"""
import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "img"
VIEWPORT = {"width": 1280, "height": 900}
REPORT_SIZE = {"width": 1280, "height": 1150}
PAGE_TIMEOUT_MS = 30000
REPORT_LINE = re.compile(r"^report: (\S+report\.html)", re.M)


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        sys.exit("Debian's chromium is not installed: apt-get install -y chromium")
    return path


def run_main_job(options: List[str]) -> Path:
    """The main job, run as `make run` runs it; returns its report.html."""
    command = [sys.executable, "-m", "infra.simulation", "--no-progress", *options]
    print("running:", " ".join(command[1:]), flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    # Paths as the reader's checkout has them, not this machine's.
    printed = done.stdout.replace(f"{ROOT}/", "").replace(str(ROOT), ".")
    (IMAGES / "make-run.txt").write_text(printed, encoding="utf-8")
    found = REPORT_LINE.search(done.stdout)
    if found is None:
        sys.exit(f"the main job printed no report (exit {done.returncode}):\n"
                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return Path(found.group(1))


def shoot_report(browser, report: Path) -> None:
    page = browser.new_page(viewport=REPORT_SIZE)
    page.goto(report.resolve().as_uri())
    # The top of the page: totals, the chart, the audit and the failing accounts.
    page.screenshot(path=str(IMAGES / "recon-report.png"), full_page=False)
    page.close()


def shoot_swagger(browser) -> None:
    from infra.local_stack import LocalStack
    from infra.ports import free_port
    with tempfile.TemporaryDirectory() as scratch:
        stack = LocalStack(api_port=free_port(), aws_port=free_port(), out_path=None,
                           api_log=Path(scratch) / "api.log")
        with stack:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{stack.api_url}/docs")
            block = page.locator("[id^='operations-'][id$='-merchantPay']").first
            block.wait_for(timeout=PAGE_TIMEOUT_MS)
            block.locator(".opblock-summary").click()
            block.get_by_role("button", name="Try it out").wait_for(timeout=PAGE_TIMEOUT_MS)
            page.screenshot(path=str(IMAGES / "swagger.png"))
            page.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs_screenshots", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pays", default="200")
    parser.add_argument("--withdraws", default="40")
    parser.add_argument("--salers", default="8")
    parser.add_argument("--fault-rate", default="0.05")
    parser.add_argument("--seed", default="7")
    parser.add_argument("--report", type=Path,
                        help="an existing run's report.html: picture it instead of running the main job")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from playwright.sync_api import sync_playwright

    chromium = chromium_path()
    IMAGES.mkdir(parents=True, exist_ok=True)
    report = args.report or run_main_job(["--pays", args.pays, "--withdraws", args.withdraws,
                           "--salers", args.salers, "--fault-rate", args.fault_rate,
                           "--seed", args.seed])
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium,
                                         args=["--no-sandbox", "--disable-gpu"])
        try:
            shoot_report(browser, report)
            shoot_swagger(browser)
        finally:
            browser.close()
    for name in ("recon-report.png", "swagger.png") + (() if args.report else ("make-run.txt",)):
        print("wrote", (IMAGES / name).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
