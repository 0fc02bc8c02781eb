"""Parsers of the seed-003 message fields, shared by every side that reads them.

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
