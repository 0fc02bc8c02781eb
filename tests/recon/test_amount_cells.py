"""The two readers of a CSV amount cell agree with each other and with an oracle: the engine's SQL
(which decides whether a row is usable) and rowerrors (which names the unusable row by line).
Cells rich in look-alike digits, signs, spaces, exponents and invisible characters."""
import string

import duckdb
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.recon.duckdb_session import amount_sql as _amount
from chalicelib.recon.rowerrors import MAX_AMOUNT_DIGITS, _amount_ok

CELL_CHARS = string.digits + " -+.eE_x,\t" + "０٣¹𝟏\u00a0\u200b\u200f\ufeff"
cells = st.one_of(st.text(alphabet=CELL_CHARS, min_size=1, max_size=22),
                  st.integers(-10 ** 19, 10 ** 19).map(str),
                  st.builds(lambda pad_l, n, pad_r: " " * pad_l + str(n) + " " * pad_r,
                            st.integers(0, 2), st.integers(-10 ** 18, 10 ** 18), st.integers(0, 2)),
                  st.text(min_size=1, max_size=12))


@pytest.fixture(scope="module")
def sql():
    connection = duckdb.connect()
    yield connection
    connection.close()


def engine_reads(sql, cell: str, balance: bool):
    query = f"SELECT {_amount(0, negative=balance)} FROM (SELECT ?::VARCHAR AS c0)"
    return sql.execute(query, [cell]).fetchone()[0]


def oracle(cell: str, balance: bool):
    core = cell.strip(" ")
    digits = core[1:] if balance and core.startswith("-") else core
    if 1 <= len(digits) <= MAX_AMOUNT_DIGITS and set(digits) <= set(string.digits):
        return int(core)
    return None


@settings(max_examples=400, deadline=None)
@given(cell=cells, balance=st.booleans())
@example(cell="٣", balance=False)
@example(cell="-0", balance=True)
@example(cell="-0", balance=False)
@example(cell="9" * 18, balance=False)
@example(cell="9" * 19, balance=False)
@example(cell=" 1 ", balance=False)
@example(cell="\t1", balance=False)
@example(cell="1e3", balance=False)
@example(cell="+1", balance=True)
def test_the_engine_and_rowerrors_read_an_amount_cell_alike(sql, cell, balance):
    expected = oracle(cell, balance)
    assert engine_reads(sql, cell, balance) == expected
    assert _amount_ok(cell.encode("utf-8", "surrogatepass").strip(b" "), balance) == (expected is not None)
