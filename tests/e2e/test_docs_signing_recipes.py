"""The request-signing page's two recipes, read from the page and run as written against the stack
as `make serve` runs it: the shell function `signed` (curl and openssl) and the Python one
(`requests` with tools/signing.py). Only the stack file's path is put in (and the shell recipe's
ids, so that the pay is new): a recipe that no longer signs correctly gets a 401 and fails here."""
import ast
import json
import re
import shutil
import subprocess
import sys

import pytest

from tests.unit.support import ROOT

from .support import new_request_id, new_saler, request_time

pytestmark = pytest.mark.e2e

PAGE = ROOT / "docs" / "api" / "signing.md"
STACK_FILE = "out/local-stack.json"


def recipe(language: str) -> str:
    blocks = re.findall(rf"^```{language}\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.S | re.M)
    assert blocks, f"no {language} recipe on {PAGE.name}"
    assert STACK_FILE in blocks[0]
    return blocks[0]


def test_the_shell_recipe_signs_a_pay_and_a_read(stack):
    for tool in ("bash", "curl", "openssl"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed by the page's shell recipe")
    script = recipe("sh").replace(STACK_FILE, str(stack.manifest_path))
    request_id, saler = new_request_id(), new_saler()
    pay = re.search(r"^signed POST /pay '(.*)'$", script, re.M)
    body = json.loads(pay.group(1))
    body.update(request_id=request_id, saler_id=saler, request_time=request_time())
    script = script.replace(pay.group(1), json.dumps(body)).replace(
        "signed GET /accounts/saler1", f"signed GET /accounts/{saler}")
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    paid, account = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert paid["response_code"] == "SUCCESS", paid
    assert (paid["request_id"], paid["saler_id"], paid["total_fee"]) == (request_id, saler, body["total_fee"])
    assert account["saler_id"] == saler, account
    assert account["balance"] + account["pending_credit_amount"] == int(body["total_fee"]), account


def test_the_python_recipe_reads_signed(stack):
    script = recipe("python").replace(STACK_FILE, str(stack.manifest_path))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr
    answer = ast.literal_eval(run.stdout.strip())
    # saler2 may or may not have money on this stack; a signature refusal would be a 401 code.
    assert answer.get("error_code") in (None, 4042), answer
    assert answer.get("saler_id", "saler2") == "saler2"
