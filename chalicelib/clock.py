"""Time as the payment messages write it: China Standard Time, no DST."""
import secrets
from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def message_time(moment: datetime) -> str:
    """`yyyy-MM-dd HH:mm:ss` in China time, as `response_time` is written."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def iso_utc(moment: datetime) -> str:
    """Sortable UTC timestamp with microseconds, for keys and cutoffs."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_response_id(moment: datetime) -> str:
    """20 digits: the 14-digit China-time timestamp and 6 random digits.

    A million ids a second share a prefix; the caller still detects collisions
    with a guard item, because random is not unique.
    """
    stamp = moment.astimezone(CHINA).strftime("%Y%m%d%H%M%S")
    return stamp + f"{secrets.randbelow(1_000_000):06d}"
