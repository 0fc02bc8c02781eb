"""The documented patterns accept exactly what the parsers accept.

A generator (a client, or schemathesis reading /openapi.json) that produces strings matching the
document's patterns must never be refused, and a string the document excludes must be refused.
"""
import re
import string
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import fields
from chalicelib.config import MAX_AMOUNT_FEN
from chalicelib.recon.api_docs import BATCH_NAME_PATTERN
from chalicelib.recon.formats import valid_batch_name

MANY = settings(max_examples=600, deadline=None)


def matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def accepts(parser, value) -> bool:
    try:
        parser(value)
        return True
    except ValueError:
        return False


def agree(pattern, parser, value):
    assert matches(pattern, value) == accepts(parser, value), repr(value)


# Every field of a date-time near or beyond its limits: month 13, day 31 of a 30-day month,
# Feb 29 of non-leap years (1900, 2100) and leap ones (2000, 2024), hour 24, second 60, year 0.
near_years = st.sampled_from([0, 1, 4, 100, 400, 999, 1900, 2000, 2019, 2024, 2100, 9999])
clock_parts = st.tuples(st.one_of(near_years, st.integers(0, 9999)), st.integers(0, 13),
                        st.integers(0, 32), st.integers(0, 25), st.integers(0, 61), st.integers(0, 61))


@MANY
@given(clock_parts)
def test_request_time_pattern_agrees_with_the_parser(parts):
    year, month, day, hour, minute, second = parts
    agree(fields.REQUEST_TIME_PATTERN, fields.request_time,
          f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}")


@MANY
@given(clock_parts, st.integers(0, 999_999))
def test_request_id_pattern_agrees_with_the_parser(parts, serial):
    year, month, day, hour, minute, second = parts
    agree(fields.REQUEST_ID_PATTERN, fields.request_id,
          f"{year:04d}{month:02d}{day:02d}{hour:02d}{minute:02d}{second:02d}{serial:06d}")


def test_every_day_of_four_centuries_matches_both_ways():
    day, end = datetime(1899, 1, 1), datetime(2301, 1, 1)
    while day < end:
        assert matches(fields.REQUEST_TIME_PATTERN, day.strftime("%Y-%m-%d 23:59:59"))
        assert matches(fields.REQUEST_ID_PATTERN, day.strftime("%Y%m%d000000") + "000000")
        day += timedelta(days=1)
    for impossible in ("1900-02-29", "2100-02-29", "2019-02-29", "2019-04-31", "2019-11-31"):
        assert not matches(fields.REQUEST_TIME_PATTERN, impossible + " 00:00:00")
    assert matches(fields.REQUEST_TIME_PATTERN, "2000-02-29 00:00:00")


@MANY
@given(st.from_regex(fields.REQUEST_TIME_PATTERN, fullmatch=True))
def test_strings_generated_from_the_time_pattern_are_accepted(value):
    assert accepts(fields.request_time, value), value


@MANY
@given(st.from_regex(fields.REQUEST_ID_PATTERN, fullmatch=True))
def test_strings_generated_from_the_id_pattern_are_accepted(value):
    assert accepts(fields.request_id, value), value


@MANY
@given(st.text(st.sampled_from(string.digits + "- :T\n０"), max_size=22))
def test_time_and_id_patterns_refuse_what_the_parsers_refuse(value):
    agree(fields.REQUEST_TIME_PATTERN, fields.request_time, value)
    agree(fields.REQUEST_ID_PATTERN, fields.request_id, value)


@pytest.mark.parametrize("limit", [1, 7, 9, 10, 19, 100, 305, 1000, 2024])
def test_decimal_at_most_is_exact(limit):
    pattern = fields.decimal_at_most(limit)
    for number in range(0, limit * 3 + 20):
        assert matches(pattern, str(number)) == (1 <= number <= limit), number
    assert not matches(pattern, "0" + str(limit))


@MANY
@given(st.one_of(st.integers(-10, 3 * MAX_AMOUNT_FEN).map(str),
                 st.sampled_from([str(MAX_AMOUNT_FEN), str(MAX_AMOUNT_FEN + 1), "01", "1.0", "+1",
                                  " 1", "1e3", "１", "", "9" * 11, "1" + "0" * 10, "1" + "0" * 11])))
def test_amount_string_pattern_agrees_with_the_parser(value):
    agree(fields.AMOUNT_STRING_PATTERN, fields.amount_fen, value)


@MANY
@given(st.text(st.sampled_from(string.ascii_letters[:4] + string.digits[:3] + "_.-# \n商"),
               max_size=70) | st.text(min_size=60, max_size=70, alphabet="ab"))
def test_saler_id_pattern_agrees_with_the_parser(value):
    agree(fields.SALER_ID_PATTERN, fields.saler_id, value)


@MANY
@given(st.text(st.sampled_from(string.ascii_letters[:3] + string.digits[:3] + "_.:-#/ \n键"),
               max_size=70) | st.text(min_size=60, max_size=70, alphabet="a:"))
def test_idempotency_key_pattern_agrees_with_the_parser(value):
    agree(fields.IDEMPOTENCY_KEY_PATTERN, fields.idempotency_key, value)


@MANY
@given(st.text(st.sampled_from("aZ9._-/ \n"), max_size=12) | st.text("a.", min_size=120, max_size=135))
def test_batch_name_pattern_agrees_with_the_recon_rule(value):
    documented = matches(BATCH_NAME_PATTERN, value) and 1 <= len(value) <= 128
    assert documented == valid_batch_name(value), repr(value)
