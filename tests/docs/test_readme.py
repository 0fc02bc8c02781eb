"""The README's error table is the code's error table."""
import re
from pathlib import Path

from chalicelib.errors import ErrorCode

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| (\d{4}) \| ([A-Z_]+) \| (\d{3}) \|", re.MULTILINE)


def test_readme_lists_every_error_code_as_the_code_defines_it():
    documented = {(int(n), name, int(status)) for n, name, status in ROW.findall(README.read_text())}
    defined = {(code.number, code.name, code.http_status) for code in ErrorCode}
    assert documented == defined

