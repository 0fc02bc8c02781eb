"""Naming a few unusable rows by line without reading the whole file: the search must give
exactly what the full read gives, or nothing (and the full read then runs)."""
import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.recon import engine, rowerrors
from chalicelib.recon.formats import file_spec
from tests.recon.support import batch_files, orders, read_csv

HEADER = ["request_id", "response_id", "saler_id", "total_fee"]


def _file(tmp_path, rows, newline="\n", name="pay.csv"):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows([HEADER] + rows)
    path = tmp_path / name
    path.write_bytes(buffer.getvalue().encode())
    return file_spec("merchant", name, path)


def _good(i):
    return [f"2019082916{i:010d}", f"2019082917{i:010d}", f"saler{i % 7}", str(i)]


def _set_aside(rows):
    """The unusable rows' fields as DuckDB gives them (an empty field is NULL)."""
    return [tuple(v or None for v in row) for row in rows
            if not row[1].strip() or not row[2].strip() or not rowerrors._amount_ok(
                row[3].strip().encode(), False)]


def _search(spec, rows):
    aside = _set_aside(rows)
    return rowerrors.search_value_errors(spec, set(), aside, len(rows))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_few_bad_rows_are_found_where_the_full_read_finds_them(tmp_path, newline):
    rows = [_good(i) for i in range(300)]
    rows[10][3] = "n/a"
    rows[57][1] = ""
    rows[58][2] = "  "
    rows[200][3] = "1.5"
    rows[299][3] = "+7"
    spec = _file(tmp_path, rows, newline)

    found = _search(spec, rows)

    assert found is not None
    assert found == list(rowerrors.value_errors(spec, set()))
    assert [(e["line"], e["error"]) for e in found] == [
        (12, "INVALID_AMOUNT"), (59, "MISSING_RESPONSE_ID"), (60, "MISSING_SALER_ID"),
        (202, "INVALID_AMOUNT"), (301, "INVALID_AMOUNT")]


def test_a_blank_line_sends_the_file_to_the_full_read(tmp_path):
    rows = [_good(i) for i in range(20)]
    rows[5][3] = "n/a"
    spec = _file(tmp_path, rows)
    spec.path.write_bytes(spec.path.read_bytes() + b"\n")
    assert rowerrors.search_value_errors(spec, set(), _set_aside(rows), len(rows)) is None


def _with(changes, extra=()):
    rows = [_good(i) for i in range(20)]
    for (row, column), value in changes.items():
        rows[row][column] = value
    return rows + [list(row) for row in extra]


GIVING_UP = {
    # DuckDB counts such a record once: its lines are not its records.
    "a value with a line break": _with({(3, 0): "two\nlines", (5, 3): "n/a"}),
    "a row without a value of 4 bytes": _with({}, [("q", "", "s", "x")]),
    # The unusable row's longest value is on every line.
    "a value on too many lines": [["q", f"r{i:05d}", "common-saler", str(i)]
                                  for i in range(rowerrors.MAX_HITS + 5)]
                                 + [["q", "", "common-saler", "1"]],
    # In the file it reads say ""hello"" again: not found, so the count falls short.
    "a value escaped in the file": _with({}, [('say "hello" again', "", "s1", "1")]),
}


@pytest.mark.parametrize("case", sorted(GIVING_UP))
def test_the_search_gives_up_rather_than_guess(tmp_path, case):
    rows = GIVING_UP[case]
    spec = _file(tmp_path, rows)
    assert _set_aside(rows)
    assert _search(spec, rows) is None


cells = st.sampled_from(["", " ", "1", "22", "x", "n/a", "1.5", "-3", "12345", "abcdef",
                         "2019082917000001", "saler1", " 7 ", 'q"q', "a,b"])


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(cells, min_size=4, max_size=4), max_size=25),
       crlf=st.booleans())
def test_the_search_agrees_with_the_full_read_or_gives_up(tmp_path_factory, rows, crlf):
    spec = _file(tmp_path_factory.mktemp("f"), rows, "\r\n" if crlf else "\n")
    full = list(rowerrors.value_errors(spec, set()))
    aside = _set_aside(rows)
    if not aside:
        return
    found = rowerrors.search_value_errors(spec, set(), aside, len(rows))
    assert found is None or found == full


def test_the_engine_names_the_lines_without_reading_the_file_in_python(reconcile, monkeypatch):
    good = [(f"q{i:06d}", f"r{i:06d}", "s1", str(i)) for i in range(1, 40)]
    merchant = orders("total_fee", good[:9] + [("q-bad-1", "r-bad-1", "s1", "n/a")] + good[9:]
                      + [("q-bad-2", "", "s1", "5")])
    payment = orders("total_fee", good)

    def no_full_read(*_):
        raise AssertionError("the whole file was read")
    monkeypatch.setattr(rowerrors, "value_errors", no_full_read)
    outcome, out = reconcile(batch_files(merchant_pay=merchant, payment_pay=payment))

    assert outcome.status == "DONE"
    assert [(e["file"], e["line"], e["error"], e["value"]) for e in read_csv(out / "errors.csv")] == [
        ("merchant/pay.csv", "11", "INVALID_AMOUNT", "n/a"),
        ("merchant/pay.csv", "42", "MISSING_RESPONSE_ID", "")]
    assert outcome.document["files"]["merchant/pay.csv"] == {"rows": 41, "usable": 39,
                                                              "row_errors": 2}
    assert engine.SEARCHED_ROWS >= 2
