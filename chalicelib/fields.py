"""Parsers of the pay/withdraw contract's message fields, shared by every side that reads them.

Each returns the clean value or raises ValueError with a message meant for the
caller; the schema layer adds the field name.
"""
import re
from datetime import datetime

from .config import MAX_AMOUNT_FEN

_DIGITS = re.compile(r"[1-9][0-9]*")
_REQUEST_ID = re.compile(r"[0-9]{20}")
_REQUEST_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_SALER_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

REQUEST_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ID_TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"


def amount_fen(value) -> int:
    """A positive integer of fen, as a JSON integer or a plain string of digits."""
    if isinstance(value, bool):
        raise ValueError("must be an integer number of fen, not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        # fullmatch with an ASCII class: no sign, no spaces, no exponent, no
        # leading zero, no fraction, no non-ASCII digits.
        if not _DIGITS.fullmatch(value):
            raise ValueError("must be a positive integer number of fen written with the digits 0-9 only")
        if len(value) > len(str(MAX_AMOUNT_FEN)):
            raise ValueError(f"must not exceed {MAX_AMOUNT_FEN} fen")
        number = int(value)
    else:
        raise ValueError("must be an integer number of fen (a JSON integer or a string of digits)")
    if number <= 0:
        raise ValueError("must be greater than zero")
    if number > MAX_AMOUNT_FEN:
        raise ValueError(f"must not exceed {MAX_AMOUNT_FEN} fen")
    return number


def request_id(value: str) -> str:
    if not _REQUEST_ID.fullmatch(value):
        raise ValueError("must be exactly 20 digits")
    try:
        datetime.strptime(value[:14], ID_TIMESTAMP_FORMAT)
    except ValueError:
        raise ValueError("first 14 digits must be a real yyyyMMddHHmmss timestamp") from None
    return value


def request_time(value: str) -> str:
    if not _REQUEST_TIME.fullmatch(value):
        raise ValueError("must be formatted yyyy-MM-dd HH:mm:ss")
    try:
        datetime.strptime(value, REQUEST_TIME_FORMAT)
    except ValueError:
        raise ValueError("must be a real date and time (yyyy-MM-dd HH:mm:ss)") from None
    return value


def saler_id(value: str) -> str:
    if not _SALER_ID.fullmatch(value):
        raise ValueError("must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-' or '.'")
    return value


def idempotency_key(value: str) -> str:
    """A caller's key for one request (a UUID fits): retries of the request carry it again."""
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise ValueError("must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-', '.' or ':'")
    return value


# -- The same rules as JSON-Schema patterns, for the API documentation ---------------------
#
# The parsers above are the rules; these regular expressions describe exactly the strings they
# accept (including real calendar dates and the amount limit), so a client or a fuzzer that
# generates from the OpenAPI document never sends a value the API refuses as "not real".
# They use only syntax that Python and ECMA-262 read the same way; tests/unit/test_openapi_fields.py
# checks that each pattern and its parser agree.

_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"            # 0001-9999
_LEAP_YEAR = ("(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])"
              "|(?:0[48]|[2468][048]|[13579][26])00)")


def _date_pattern(sep: str) -> str:
    days_31 = "(?:0[13578]|1[02])" + sep + "(?:0[1-9]|[12][0-9]|3[01])"
    days_30 = "(?:0[469]|11)" + sep + "(?:0[1-9]|[12][0-9]|30)"
    february = "02" + sep + "(?:0[1-9]|1[0-9]|2[0-8])"
    return (f"(?:{_YEAR}{sep}(?:{days_31}|{days_30}|{february})"
            f"|{_LEAP_YEAR}{sep}02{sep}29)")


def _time_pattern(sep: str) -> str:
    return f"(?:[01][0-9]|2[0-3]){sep}[0-5][0-9]{sep}[0-5][0-9]"


def decimal_at_most(limit: int) -> str:
    """A regex of the decimal numbers 1..limit written without a leading zero."""
    digits = str(limit)
    width = len(digits)
    parts = [f"[1-9][0-9]{{0,{width - 2}}}"] if width > 1 else []   # the shorter numbers
    for position, digit in enumerate(digits):                       # same width, below limit
        lowest = 1 if position == 0 else 0
        if int(digit) > lowest:
            rest = width - position - 1
            parts.append(digits[:position] + f"[{lowest}-{int(digit) - 1}]"
                         + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


REQUEST_TIME_PATTERN = f"^{_date_pattern('-')} {_time_pattern(':')}$"
REQUEST_ID_PATTERN = f"^{_date_pattern('')}{_time_pattern('')}[0-9]{{6}}$"
SALER_ID_PATTERN = "^[A-Za-z0-9_.-]{1,64}$"
IDEMPOTENCY_KEY_PATTERN = "^[A-Za-z0-9_.:-]{1,64}$"
AMOUNT_STRING_PATTERN = f"^{decimal_at_most(MAX_AMOUNT_FEN)}$"
