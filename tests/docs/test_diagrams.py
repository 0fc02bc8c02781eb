"""Every mermaid diagram of the README and the docs site parses and renders, with the mermaid that
the site serves (`.tools/node_modules/mermaid`, installed by `make test` and `make docs`), in
Debian's headless chromium: a diagram with a syntax error would show as an error box on the page,
and no build step notices it otherwise (the site only ships the diagram's text)."""
import re
import shutil

import pytest
from playwright.sync_api import sync_playwright

from tests.unit.support import ROOT

MERMAID_JS = ROOT / ".tools" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
DIAGRAM = re.compile(r"^```mermaid\n(.*?)^```", re.S | re.M)
RENDER = """async (text) => {
    try {
        await mermaid.parse(text);
        const drawn = await mermaid.render("diagram" + Math.floor(Math.random() * 1e9), text);
        return drawn.svg.includes("<svg") ? "" : "no svg";
    } catch (error) { return String(error.message || error); }
}"""


def diagrams():
    sources = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for source in sources:
        for number, text in enumerate(DIAGRAM.findall(source.read_text(encoding="utf-8")), 1):
            yield pytest.param(text, id=f"{source.relative_to(ROOT)}#{number}")


@pytest.fixture(scope="module")
def mermaid_page(tmp_path_factory):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: `make test` installs it")
    if not MERMAID_JS.exists():
        pytest.fail(f"{MERMAID_JS.relative_to(ROOT)} is missing: `make test` installs mermaid with npm")
    page_file = tmp_path_factory.mktemp("mermaid") / "page.html"
    page_file.write_text(f"<html><body><script src='{MERMAID_JS.as_uri()}'></script></body></html>")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            page.wait_for_function("typeof mermaid !== 'undefined'")
            page.evaluate("mermaid.initialize({startOnLoad: false})")
            yield page
        finally:
            browser.close()


def test_there_are_diagrams():
    assert len(list(diagrams())) >= 8


@pytest.mark.parametrize("text", list(diagrams()))
def test_the_diagram_renders(mermaid_page, text):
    assert mermaid_page.evaluate(RENDER, text) == ""
