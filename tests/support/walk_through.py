"""A documentation page's curl walk-through, read from the page and run as written by bash
against a fresh local stack as `make serve` runs it, with `signed` defined by the
request-signing page's recipe."""
import json
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List

import pytest

from infra.local_stack import LocalStack
from tests.e2e.support import free_port
from tests.unit.support import ROOT

SIGNING = ROOT / "docs" / "api" / "signing.md"
SCRIPT_SECONDS = 240
TOOLS = ("bash", "curl", "openssl", "python3")


def shell_block(page: Path, heading: str, language: str) -> str:
    text = page.read_text(encoding="utf-8")
    section = text[text.index(heading):]
    return re.search(rf"^```{language}\n(.*?)^```", section, re.S | re.M).group(1)


def signing_function(stack_file: Path) -> str:
    """The recipe's variables and `signed`, without its two example calls."""
    recipe = shell_block(SIGNING, "## How to sign a request", "sh")
    definitions = recipe[:recipe.index("\n}\n") + 3]
    return definitions.replace("out/local-stack.json", str(stack_file))


def printed_json(output: str) -> List[dict]:
    """Every JSON document the script printed, in order (some answers end without a newline)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while True:
        start = output.find("{", at)
        if start < 0:
            return found
        value, at = decoder.raw_decode(output, start)
        found.append(value)


@contextmanager
def fresh_stack(workdir: Path) -> Iterator[LocalStack]:
    stack = LocalStack(api_port=free_port(), aws_port=free_port(),
                       out_path=workdir / "local-stack.json", api_log=workdir / "api.log")
    with stack:
        yield stack


def run_walk_through(stack: LocalStack, page: Path, cwd: Path) -> List[dict]:
    """Run the page's "Walk-through with curl" block; every JSON answer it printed."""
    for tool in TOOLS:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed by the page's walk-through")
    script = signing_function(stack.out_path) + "\n" + shell_block(
        page, "## Walk-through with curl", "bash")
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                         timeout=SCRIPT_SECONDS, cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    return printed_json(run.stdout)
