"""Importing the handler module builds nothing a request may not need: the code behind the
routes, the pydantic models and the OpenAPI document load when a handler first uses them."""
import json
import os
import subprocess
import sys
from pathlib import Path

from chalicelib import lazy

ROOT = Path(__file__).resolve().parents[2]
# Loaded by a handler on its first event, never by `import app`.
DEFERRED = ("pydantic.main", "chalicelib.openapi", "chalicelib.docs_site", "duckdb",
            "chalicelib.recon.engine", "chalicelib.payments.service", "chalicelib.sharing.orders")


def _modules_after(code: str) -> set:
    """The modules `code` executed (a lazy module not used yet is bound, but not executed)."""
    out = subprocess.run([sys.executable, "-c", f"{code}; import sys, json; "
                          "print(json.dumps(sorted(name for name, module in list(sys.modules.items()) "
                          "if type(module).__name__ != '_LazyModule')))"],
                         cwd=ROOT, env={k: v for k, v in os.environ.items() if k != "EAGER_HANDLER_IMPORTS"},
                         check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_importing_the_app_loads_no_route_code_no_model_and_no_document():
    loaded = _modules_after("import app")
    assert not loaded & set(DEFERRED), sorted(loaded & set(DEFERRED))


def test_a_handler_loads_its_code_on_first_use():
    loaded = _modules_after("import app; app.openapi.document()")
    assert {"chalicelib.openapi", "pydantic.main"} <= loaded
    assert "duckdb" not in loaded


def test_a_lazy_module_is_the_module_an_import_finds():
    probe = lazy.module("json.tool")
    import json.tool as imported
    assert probe is imported and callable(probe.main)


def test_the_local_stage_loads_every_handler_at_import():
    """One `chalice local` process serves every route: its first requests must not pay for
    loading the code (the merchant's calls to /pay time out after 2 s locally)."""
    stage = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["local"]
    assert stage["environment_variables"]["EAGER_HANDLER_IMPORTS"] == "1"
    loaded = _modules_after("import os; os.environ['EAGER_HANDLER_IMPORTS'] = '1'; import app")
    assert {"chalicelib.payments.service", "chalicelib.openapi", "pydantic.main"} <= loaded
