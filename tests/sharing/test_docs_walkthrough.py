"""The profit-sharing page's curl walk-through (docs/profit-sharing.md), read from the page and run
as written by bash against a fresh local stack as `make serve` runs it, with `signed` defined by
the request-signing page's recipe. Every answer it prints is checked against what the page says."""
import json
import re
import shutil
import subprocess

import pytest

from infra.local_stack import LocalStack
from tests.e2e.support import free_port
from tests.unit.support import ROOT

pytestmark = pytest.mark.e2e

WALK_THROUGH = ROOT / "docs" / "profit-sharing.md"
SIGNING = ROOT / "docs" / "api" / "signing.md"
SCRIPT_SECONDS = 240


def shell_block(page, heading: str, language: str) -> str:
    text = page.read_text(encoding="utf-8")
    section = text[text.index(heading):]
    return re.search(rf"^```{language}\n(.*?)^```", section, re.S | re.M).group(1)


def signing_function(stack_file) -> str:
    """The recipe's variables and `signed`, without its two example calls."""
    recipe = shell_block(SIGNING, "## How to sign a request", "sh")
    definitions = recipe[:recipe.index("\n}\n") + 3]
    return definitions.replace("out/local-stack.json", str(stack_file))


def printed_json(output: str) -> list:
    """Every JSON document the script printed, in order (some answers end without a newline)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while True:
        start = output.find("{", at)
        if start < 0:
            return found
        value, at = decoder.raw_decode(output, start)
        found.append(value)


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sharing-docs-stack")
    stack = LocalStack(api_port=free_port(), aws_port=free_port(),
                       out_path=workdir / "local-stack.json", api_log=workdir / "api.log")
    with stack:
        yield stack


def test_the_walk_through_runs_as_written(local_stack, tmp_path):
    for tool in ("bash", "curl", "openssl", "python3"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed by the page's walk-through")
    script = signing_function(local_stack.out_path) + "\n" + shell_block(
        WALK_THROUGH, "## Walk-through with curl", "bash")
    # The page runs at the top of the repository (it calls .venv/bin/python); its file goes here.
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                         timeout=SCRIPT_SECONDS, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    answers = printed_json(run.stdout)
    center = [a for a in answers if isinstance(a.get("code"), int)]
    assert [a["code"] for a in center] == [
        0, 0, 0,        # shared; FINISHED from the notifications; sent again: the records
        1030,           # the same trade with other receivers
        0, 0,           # the partial refund (one answer lost), sent again
        1030,           # the same refund with another amount
        0,              # the second order shared by business order
        0, 0,           # its refund, handled from the queue; the sharing after it
    ], run.stdout[-3000:]
    finished = center[1]["data"]
    assert (finished["state"], finished["sharedAmount"]) == ("FINISHED", 1893)
    assert finished["holdings"] == {"1900000109": 1001, "1900000110": 697, "1900000111": 195}
    partial = center[4]["data"]
    assert partial["actualBaseReturnAmount"] == 631
    assert {r["returnMchId"]: r["amount"] for r in partial["returns"]} == {
        "1900000109": 334, "1900000110": 232, "1900000111": 65}
    again = center[5]["data"]
    assert [r["sharingReturnNo"] for r in again["returns"]] == [r["sharingReturnNo"] for r in partial["returns"]]
    lost = partial["returns"][0]["sharingReturnNo"]
    calls = next(a for a in answers if "calls" in a)["calls"]
    assert [c["outcome"] for c in calls if c.get("outbound_no") == lost][:1] == ["APPLIED"]
    queued = center[8]["data"]
    assert (queued["state"], queued["applyAmount"], queued["actualBaseReturnAmount"]) == (1, 2968, 890)
    assert {r["returnMchId"]: r["amount"] for r in queued["returns"]} == {"1900000109": 590, "ou8xopenid0001": 300}
    second = center[9]["data"]
    assert (second["sharedAmount"], second["refundedAmount"]) == (890, 2968)
    assert set(second["holdings"].values()) == {0}
