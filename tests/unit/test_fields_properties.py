"""Property-based tests of the field parsers against independent oracles."""
import calendar
import string
from datetime import datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib import fields
from chalicelib.config import MAX_AMOUNT_FEN

ASCII_DIGITS = set(string.digits)


def accepts(parser, value) -> bool:
    try:
        parser(value)
    except ValueError:
        return False
    return True


# --- amounts --------------------------------------------------------------------------------

def amount_oracle(value):
    """Accepted exactly: an int (not bool) in 1..MAX, or the canonical decimal spelling of one."""
    if type(value) is int:
        return value if 1 <= value <= MAX_AMOUNT_FEN else None
    if type(value) is str and value and set(value) <= ASCII_DIGITS and value[0] != "0":
        number = int(value)
        return number if number <= MAX_AMOUNT_FEN else None
    return None


near_max = st.integers(MAX_AMOUNT_FEN - 1000, MAX_AMOUNT_FEN + 1000)
any_int = st.one_of(st.integers(), st.integers(-10, 10), near_max, st.integers(1, MAX_AMOUNT_FEN))
digit_strings = st.text(alphabet="0123456789", min_size=0, max_size=14)
amount_like_text = st.one_of(
    any_int.map(str),
    digit_strings,
    st.builds(lambda pre, n, post: pre + str(n) + post,
              st.sampled_from(["", " ", "+", "-", "0", "00", "\t", "\u00a0"]),
              st.integers(0, MAX_AMOUNT_FEN * 10),
              st.sampled_from(["", " ", ".0", ".", "e3", "E0", "_0", "\n", "n"])),
    st.text(alphabet="0123456789１２３٠١²³₁⁴ .+-e_x", max_size=14),
    st.text(max_size=12),
)
any_value = st.one_of(
    any_int, amount_like_text, st.booleans(), st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(1, MAX_AMOUNT_FEN * 2).map(float),
    st.integers(1, 10 ** 6).map(float),
    st.lists(st.integers(1, 100), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(any_value)
@example(MAX_AMOUNT_FEN)
@example(str(MAX_AMOUNT_FEN))
@example(MAX_AMOUNT_FEN + 1)
@example(str(MAX_AMOUNT_FEN + 1))
@example("0" + str(MAX_AMOUNT_FEN))
@example(True)
@example(1.0)
@example("１")
@example("1_0")
@example("²")
def test_amount_accepts_exactly_positive_integers_up_to_the_maximum(value):
    expected = amount_oracle(value)
    if expected is None:
        with pytest.raises(ValueError):
            fields.amount_fen(value)
    else:
        parsed = fields.amount_fen(value)
        assert parsed == expected and type(parsed) is int


@settings(max_examples=200, deadline=None)
@given(st.integers(1, MAX_AMOUNT_FEN))
def test_every_valid_amount_round_trips_as_int_and_as_string(number):
    assert fields.amount_fen(number) == number
    assert fields.amount_fen(str(number)) == number


# --- request_id and request_time ---------------------------------------------------------------

def real_timestamp(year, month, day, hour, minute, second) -> bool:
    """Independent of strptime: a calendar check."""
    return (1 <= year <= 9999 and 1 <= month <= 12
            and 1 <= day <= calendar.monthrange(year, month)[1]
            and 0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 59)


def strptime_ok(text, layout) -> bool:
    try:
        datetime.strptime(text, layout)
    except ValueError:
        return False
    return True


def request_id_oracle(value: str) -> bool:
    if len(value) != 20 or not set(value) <= ASCII_DIGITS:
        return False
    stamp = value[:14]
    calendar_says = real_timestamp(int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]),
                                   int(stamp[8:10]), int(stamp[10:12]), int(stamp[12:14]))
    assert calendar_says == strptime_ok(stamp, "%Y%m%d%H%M%S")
    return calendar_says


moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))


def id_of(moment: datetime, suffix: int) -> str:
    return (f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
            f"{moment.hour:02d}{moment.minute:02d}{moment.second:02d}{suffix:06d}")


def two_digits(high):
    return st.integers(0, high).map(lambda n: f"{n:02d}")


# Field-wise digits, often out of range (month 13, day 31 in a short month, hour 24 ...).
fieldwise_id = st.builds(lambda y, mo, d, h, mi, s, rest: y + mo + d + h + mi + s + rest,
                         st.integers(0, 9999).map(lambda n: f"{n:04d}"), two_digits(14),
                         two_digits(32), two_digits(25), two_digits(61), two_digits(61),
                         st.text(alphabet="0123456789", min_size=6, max_size=6))
request_ids = st.one_of(
    st.builds(id_of, moments, st.integers(0, 999_999)),
    fieldwise_id,
    st.text(alphabet="0123456789", min_size=18, max_size=22),
    st.text(alphabet="0123456789０１２٣ a", min_size=19, max_size=21),
    st.text(max_size=24),
)


@settings(max_examples=300, deadline=None)
@given(request_ids)
@example("20190829171520123456")
@example("20190229171520123456")
@example("20200229171520123456")
@example("19000229000000000000")
@example("20000229000000000000")
@example("00000101000000000000")
@example("２０１９０８２９１７１５２０１２３４５６")
def test_request_id_agrees_with_the_calendar_and_strptime(value):
    assert accepts(fields.request_id, value) == request_id_oracle(value)


def time_of(moment: datetime) -> str:
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}")


fieldwise_time = st.builds(lambda y, mo, d, h, mi, s: f"{y}-{mo}-{d} {h}:{mi}:{s}",
                           st.integers(0, 9999).map(lambda n: f"{n:04d}"), two_digits(14),
                           two_digits(32), two_digits(25), two_digits(61), two_digits(61))
request_times = st.one_of(
    st.builds(time_of, moments),
    fieldwise_time,
    st.builds(lambda m, sep: time_of(m).replace(" ", sep), moments, st.sampled_from(["T", "  ", "_"])),
    st.builds(lambda m, sep: time_of(m).replace("-", sep), moments, st.sampled_from(["/", "", "."])),
    st.builds(lambda m, pre, post: pre + time_of(m) + post, moments,
              st.sampled_from(["", " ", "\n", "+"]), st.sampled_from(["", " ", "\n", ".0", "Z"])),
    st.text(alphabet="0123456789-: T１", min_size=17, max_size=21),
    st.text(max_size=22),
)


def request_time_oracle(value: str) -> bool:
    layout_ok = (len(value) == 19 and set(value[i] for i in (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15,
                                                              17, 18)) <= ASCII_DIGITS
                 and value[4] == value[7] == "-" and value[10] == " "
                 and value[13] == value[16] == ":")
    if not layout_ok:
        return False
    calendar_says = real_timestamp(int(value[0:4]), int(value[5:7]), int(value[8:10]),
                                   int(value[11:13]), int(value[14:16]), int(value[17:19]))
    assert calendar_says == strptime_ok(value, "%Y-%m-%d %H:%M:%S")
    return calendar_says


@settings(max_examples=300, deadline=None)
@given(request_times)
@example("2019-08-29 17:15:20")
@example("2019-02-29 00:00:00")
@example("2020-02-29 00:00:00")
@example("2019-8-29 17:15:20")
@example("2019-08-29 17:15:20\n")
@example("2019-08-29 17:15:60")
@example("２０１９-08-29 17:15:20")
def test_request_time_agrees_with_the_calendar_and_strptime(value):
    assert accepts(fields.request_time, value) == request_time_oracle(value)


@settings(max_examples=150, deadline=None)
@given(moments)
def test_every_real_moment_is_a_valid_request_time_and_id_prefix(moment):
    assert fields.request_time(time_of(moment)) == time_of(moment)
    assert fields.request_id(id_of(moment, 0)) == id_of(moment, 0)


# --- saler_id -------------------------------------------------------------------------------

SALER_ALPHABET = set(string.ascii_letters + string.digits + "_.-")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=70),
                 st.text(alphabet=string.ascii_letters + string.digits + "_.-#/ \x00é",
                         max_size=70)))
@example("s" * 64)
@example("s" * 65)
@example("")
def test_saler_id_accepts_exactly_1_to_64_safe_characters(value):
    expected = 1 <= len(value) <= 64 and set(value) <= SALER_ALPHABET
    assert accepts(fields.saler_id, value) == expected
