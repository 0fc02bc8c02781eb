"""The time window of an export batch.

An order belongs to the window `[start, end)` by its `response_time`: the moment the
payment system answered it, which both sides record (the payment side made it, the
merchant stores it from the answer). Times are China time (UTC+8) strings
`yyyy-MM-dd HH:mm:ss`, the messages' own format: compared as strings they sort as
times do. Seconds are the finest unit, so `[start, end)` is `start .. end - 1 s`.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional, Tuple

from .. import clock, fields

FORMAT = fields.REQUEST_TIME_FORMAT
# One query per day touched: a longer window is more likely a typo than a batch.
MAX_DAYS = 366


class InvalidWindow(ValueError):
    """The window's bounds are malformed, reversed or too far apart."""


def _moment(name: str, value: str) -> datetime:
    try:
        fields.request_time(value)
    except (ValueError, TypeError) as error:
        raise InvalidWindow(f"{name} {value!r}: {error}") from None
    return datetime.strptime(value, FORMAT)


@dataclass(frozen=True)
class Window:
    start: str      # inclusive, China time
    end: str        # exclusive, China time

    @classmethod
    def parse(cls, start: str, end: str) -> "Window":
        first, after = _moment("from", start), _moment("to", end)
        if after <= first:
            raise InvalidWindow(f"to {end!r} must be later than from {start!r}")
        if (after - first) > timedelta(days=MAX_DAYS):
            raise InvalidWindow(f"the window spans more than {MAX_DAYS} days")
        return cls(start, end)

    @property
    def last_second(self) -> str:
        """The last time inside the window (the key condition's BETWEEN upper bound)."""
        return (datetime.strptime(self.end, FORMAT) - timedelta(seconds=1)).strftime(FORMAT)

    def days(self) -> List[str]:
        """`yyyyMMdd` of every China-time day the window touches, in order."""
        day = datetime.strptime(self.start[:10], "%Y-%m-%d")
        last = datetime.strptime(self.last_second[:10], "%Y-%m-%d")
        found = []
        while day <= last:
            found.append(day.strftime("%Y%m%d"))
            day += timedelta(days=1)
        return found

    def contains(self, moment: str) -> bool:
        return self.start <= moment < self.end

    def as_dict(self) -> dict:
        return {"from": self.start, "to": self.end}


def previous_day(moment: Optional[datetime] = None) -> Tuple[str, Window]:
    """The batch a daily run exports: the China-time day before `moment`'s, named `yyyyMMdd`."""
    today = (moment or clock.utc_now()).astimezone(clock.CHINA).replace(
        hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    yesterday = today - timedelta(days=1)
    return yesterday.strftime("%Y%m%d"), Window(yesterday.strftime(FORMAT), today.strftime(FORMAT))


# A window must have ended this long ago. An order's response_time is taken just before its
# transaction commits, and the indexes an export reads are eventually consistent (normally
# within a second): after this margin everything answered inside the window is readable.
SETTLE_SECONDS = 5


def not_after(window: Window, now: datetime) -> None:
    """Refuse a window that has not ended (and settled): orders could still arrive inside it."""
    settled = clock.message_time(now - timedelta(seconds=SETTLE_SECONDS))
    if window.end > settled:
        raise InvalidWindow(f"to {window.end!r} is in the future or less than {SETTLE_SECONDS} s "
                            f"ago (now {clock.message_time(now)} China time): the window must have ended")
