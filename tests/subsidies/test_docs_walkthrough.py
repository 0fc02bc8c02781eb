"""The marketing-subsidies page's curl walk-through (docs/subsidies.md), read from the page and run
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

WALK_THROUGH = ROOT / "docs" / "subsidies.md"
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
    workdir = tmp_path_factory.mktemp("subsidy-docs-stack")
    stack = LocalStack(api_port=free_port(), aws_port=free_port(),
                       out_path=workdir / "local-stack.json", api_log=workdir / "api.log")
    with stack:
        yield stack


def test_the_walk_through_runs_as_written(local_stack):
    for tool in ("bash", "curl", "openssl", "python3"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed by the page's walk-through")
    script = signing_function(local_stack.out_path) + "\n" + shell_block(
        WALK_THROUGH, "## Walk-through with curl", "bash")
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                         timeout=SCRIPT_SECONDS, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    answers = printed_json(run.stdout)
    center = [a for a in answers if isinstance(a.get("code"), int)]
    assert [a["code"] for a in center] == [
        5041,           # rule 4: the answer is lost
        0,              # the retry: the channel's original success
        0,              # rule 1: the stored answer
        1030,           # rule 2: other parameters
        3003, 0,        # rule 3: a rejection, then executed again
        5041,           # the return through a SYSTEM_ERROR
        0, 0,           # the subsidy while its return is unknown, then once the sweeper resolved it
        0,              # the return re-sent
        1030,           # the return with another amount
        1001,           # a zero amount
    ], run.stdout[-3000:]
    lost, retried = center[0]["data"], center[1]["data"]
    assert lost["paymentSubsidiesId"] == retried["paymentSubsidiesId"]
    assert retried["proxyChannelSubsidiesId"]
    unknown, resolved = center[7]["data"], center[8]["data"]
    assert unknown["returning_amount"] == 2332 and unknown["returns"][0]["state_name"] == "UNKNOWN"
    assert (resolved["returned_amount"], resolved["returning_amount"]) == (2332, 0)
    assert resolved["returns"][0]["state_name"] == "SUCCEEDED"
    assert center[11]["field"] == "amount"
    calls = next(a for a in answers if "calls" in a)["calls"]
    assert [(c["outbound_no"], c["outcome"]) for c in calls] == [
        (lost["paymentSubsidiesId"], "APPLIED"), (lost["paymentSubsidiesId"], "REPLAYED")]
    money = answers[-1]                 # the channel's own record of the paid order
    assert money["subsidy"]["amount"] == 2332 and money["returned_amount"] == 2332
