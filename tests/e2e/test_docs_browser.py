"""/openapi.json and the Swagger UI page at /docs on the stack `make serve` starts, in a real browser.

The browser is Debian's `chromium` (headless), which `make test` installs; Swagger UI's files come
from the stack itself (swagger-ui-dist in .tools), never from a CDN.
"""
import json
import shutil
import subprocess

import pytest
from openapi_spec_validator import validate
from playwright.sync_api import sync_playwright

from chalicelib import openapi

from .support import new_saler

pytestmark = pytest.mark.e2e

PAGE_LOAD_BUDGET_MS = 15000


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed: `make test` installs it "
                    "(apt-get install -y chromium)")
    return path


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_stack_serves_a_valid_document_of_every_route(stack):
    answer = stack.http.get(f"{stack.api}/openapi.json", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    served = answer.json()
    validate(served)
    assert served["servers"] == [{"url": "/"}]
    assert served["paths"] == openapi.document()["paths"]
    assert stack.manifest["docs_url"] == f"{stack.api}/docs"


def test_the_docs_page_renders_every_operation_in_headless_chromium(stack, chromium, tmp_path):
    rendered = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         f"--virtual-time-budget={PAGE_LOAD_BUDGET_MS}", "--dump-dom", f"{stack.api}/docs"],
        capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    dom = rendered.stdout
    assert 'class="swagger-ui' in dom, dom[:2000]
    document = openapi.document()
    assert document["info"]["title"] in dom
    for path, method, operation in operations(document):
        tag, operation_id = operation["tags"][0], operation["operationId"]
        assert f'data-path="{path}"' in dom, path
        assert f'id="operations-{tag}-{operation_id}"' in dom, operation_id
        assert f'opblock-summary-operation-id">{operation_id}<' in dom, operation_id
        assert f"opblock-{method}" in dom


# Operations a person sends from the merchant system's own page (a person "triggers the
# merchant's request"): it signs its call to the center's /pay. /pay itself needs a signature the
# page cannot make (it holds no secret), so sent from the page it is refused
# (test_signing_refusals.py). An operation not in the document yet is skipped.
TRY_IT_OUT = {
    "merchantPay": lambda saler: {"saler_id": saler, "total_fee": "100"},
}


@pytest.mark.parametrize("operation_id", sorted(TRY_IT_OUT))
def test_a_person_can_send_a_pay_from_swagger_ui(stack, chromium, operation_id):
    """Try it out -> Execute, in the page, against the same server; the order is then stored."""
    from merchantlib.api_docs import DOCUMENT_INFO, DOCUMENT_MODULES, DOCUMENT_TAGS

    document = openapi.document(modules=DOCUMENT_MODULES, info=DOCUMENT_INFO, tags=DOCUMENT_TAGS)
    found = [(path, operation) for path, method, operation in operations(document)
             if operation["operationId"] == operation_id]
    if not found:
        pytest.skip(f"{operation_id} is not an operation of this API yet")
    path, operation = found[0]
    saler = new_saler()
    body = TRY_IT_OUT[operation_id](saler)
    with sync_playwright() as driver:
        # Debian's chromium: Playwright downloads no browser.
        browser = driver.chromium.launch(executable_path=chromium,
                                         args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(f"{stack.merchant_api}/docs")
            block = page.locator(f"#operations-{operation['tags'][0]}-{operation_id}")
            block.locator(".opblock-summary").click()
            block.get_by_role("button", name="Try it out").click()
            block.locator("textarea.body-param__text").fill(json.dumps(body))
            block.get_by_role("button", name="Execute").click()
            status = block.locator(".live-responses-table tbody .response-col_status").first
            status.wait_for(timeout=PAGE_LOAD_BUDGET_MS)
            assert status.inner_text().strip() == "200"
            assert (block.locator(".request-url pre").first.inner_text().strip()
                    == f"{stack.merchant_api}{path}")
            shown = block.locator(".live-responses-table tbody .response-col_description pre").first
            answer = json.loads(shown.inner_text())
        finally:
            browser.close()
    assert answer["saler_id"] == saler
    order = stack.http.get(f"{stack.merchant_api}/merchant/orders/{answer['request_id']}", timeout=30)
    assert order.status_code == 200 and order.json()["saler_id"] == saler
    # The merchant system signed its /pay: the payment side recorded it.
    assert order.json()["state"] == "SUCCESS"
