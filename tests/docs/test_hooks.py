"""The site's build hooks (tools/docs_hooks.py) on their own: what they generate and refuse."""
import pytest
from mkdocs.exceptions import PluginError  # requirements-docs.txt, installed by `make test`

from chalicelib.errors import ErrorCode
from tests.unit.support import ROOT
from tools import docs_hooks

PAGE = ROOT / "docs" / "api" / "errors.md"


def test_the_error_table_has_one_row_per_code_in_the_table_order():
    rows = docs_hooks.error_table().splitlines()[2:]
    assert [row.split("|")[1].strip() for row in rows] == [str(code.number) for code in ErrorCode]
    assert all(f"`{code.name}`" in row for code, row in zip(ErrorCode, rows))


def test_an_explanation_of_a_code_that_does_not_exist_fails_the_build():
    docs_hooks.check_code_names("* **BUSY**: retry", "api/errors.md")
    with pytest.raises(PluginError, match="NO_SUCH_CODE"):
        docs_hooks.check_code_names("* **BUSY**: retry\n* **NO_SUCH_CODE**: gone", "api/errors.md")


def test_a_link_to_a_repository_file_becomes_its_path_and_a_broken_one_stays_broken():
    text = ("[errors](../../chalicelib/errors.py) [home](../index.md) [gone](../../no/such.py) "
            "[out](https://example.org/x.py) [readme](../../README.md#layout)")
    assert docs_hooks.repository_links(text, PAGE) == (
        "errors (`chalicelib/errors.py`) [home](../index.md) [gone](../../no/such.py) "
        "[out](https://example.org/x.py) readme (`README.md`)")


def test_a_table_cell_keeps_to_one_line_and_escapes_pipes():
    assert docs_hooks.cell("a |\n b") == "a \\| b"
