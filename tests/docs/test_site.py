"""The documentation site: `mkdocs build --strict` passes (a broken link or anchor fails it), the
generated pages hold what the code holds, and the README stays a short front page.

The build runs as `make docs` would build it, into a temporary folder, once for the module."""
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import openapi
from chalicelib.errors import ErrorCode
from tests.unit.support import ROOT

BUILD_TIMEOUT_SECONDS = 600
README_MAX_LINES = 250
MARKDOWN_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
         "--site-dir", str(site)],
        cwd=config.parent, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "HOME": str(site.parent)})


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("docs") / "site"
    built = mkdocs_build(ROOT / "mkdocs.yml", target)
    assert built.returncode == 0, built.stderr[-4000:]
    assert "WARNING" not in built.stderr, built.stderr[-4000:]
    return target


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text(encoding="utf-8")


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def test_the_strict_build_makes_at_least_eight_pages(site):
    pages = [p for p in site.rglob("index.html") if "search" not in p.parts]
    assert len(pages) >= 8, pages


def test_the_error_page_lists_exactly_the_codes_of_errors_py(site):
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page(site, "api/errors"), re.S):
        cells = [text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if len(cells) == 4 and cells[0].isdigit():
            rows[cells[1]] = (int(cells[0]), int(cells[2]), cells[3])
    assert rows == {code.name: (code.number, code.http_status, code.message) for code in ErrorCode}


def test_the_reference_renders_every_operation_and_serves_the_document(site):
    document = openapi.document()
    reference = page(site, "api/reference")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert f'id="{operation["operationId"].lower()}"' in reference, operation["operationId"]
            assert f"{method.upper()} {path}" in html.unescape(reference), (method, path)
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name.lower()}"' in reference, name
    assert json.loads((site / "openapi.json").read_text(encoding="utf-8")) == document


def test_money_flows_are_mermaid_sequence_diagrams(site):
    diagrams = re.findall(r'<pre class="mermaid"><code>(.*?)</code></pre>', page(site, "money-flows"), re.S)
    assert len(diagrams) >= 6
    assert all(text_of(d).startswith("sequenceDiagram") for d in diagrams)


def test_the_benchmarks_page_includes_the_results_file(site):
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    first_heading = re.search(r"^## (.+)$", results, re.M).group(1)
    assert text_of(first_heading) in text_of(page(site, "benchmarks"))


def test_the_pictures_are_shown(site):
    for name in ("recon-report.png", "swagger.png"):
        assert (site / "img" / name).stat().st_size > 10_000, name


def test_a_broken_link_fails_the_strict_build(tmp_path):
    """The check above is only worth something if the build really fails on a broken link."""
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copytree(ROOT / "tools", copy / "tools")
    shutil.copytree(ROOT / "chalicelib", copy / "chalicelib")
    shutil.copytree(ROOT / "benchmarks", copy / "benchmarks")
    for broken in ("[gone](no-such-page.md)", "[gone](architecture.md#no-such-anchor)"):
        index = copy / "docs" / "index.md"
        original = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
        index.write_text(original + f"\n{broken}\n", encoding="utf-8")
        built = mkdocs_build(copy / "mkdocs.yml", tmp_path / "site")
        assert built.returncode != 0, broken
        assert "WARNING" in built.stderr and "index.md" in built.stderr, built.stderr[-2000:]


def test_the_readme_is_a_short_front_page_whose_links_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    assert "```mermaid" in readme
    for target in MARKDOWN_LINK.findall(readme):
        if "://" not in target:
            assert (ROOT / target.split("#")[0]).exists(), target


def test_the_documentation_names_no_machine_path_and_no_source_note():
    texts = [(p, p.read_text(encoding="utf-8")) for p in (ROOT / "docs").rglob("*")
             if p.suffix in (".md", ".txt")]
    texts.append((ROOT / "README.md", (ROOT / "README.md").read_text(encoding="utf-8")))
    for path, text in texts:
        assert "/work/" not in text, path
        assert not re.search(r"\bseeds?[ -]?0\d\d\b|\bthe seed(?:'s|s')?\b(?! *(?:of the|makes|for))|DESIGN\.md|CONTRACT\.md", text, re.I), path


def test_mermaid_is_served_with_the_site_not_from_a_cdn(site):
    """Material fetches mermaid from a CDN only while the page has none; the site brings its own."""
    served = site / "assets" / "javascripts" / "mermaid.min.js"
    assert served.exists(), "mermaid is missing from .tools: `make test` installs it with npm"
    assert "assets/javascripts/mermaid.min.js" in page(site, "money-flows")


SOURCE_NOTE = re.compile(r"\bseeds?[ -]?0\d\d\b|\bthe seed(?:'s|s')?\b(?! *(?:of the|makes|for))", re.I)


def test_the_code_names_no_source_note():
    """Comments and names speak of the contract, the channel or the business concept."""
    folders = ("chalicelib", "merchant_system", "infra", "tools", "benchmarks", "tests")
    sources = [p for folder in folders for p in (ROOT / folder).rglob("*.py")
               if p.resolve() != Path(__file__).resolve()] + [ROOT / "app.py"]
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in sources if p.is_file()
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if SOURCE_NOTE.search(line)]
    assert offenders == []
