"""Request ids of the merchant's messages: 20 digits, a 14-digit timestamp and 6 random digits.

The contract asks for `yyyyMMddHHmmss` (China time, like every message time) plus
digits that make the id unique. Random digits are not unique by themselves:
`service.place` stores each new order with a conditional put on its request_id
and draws another id on a collision.
"""
import secrets
from datetime import datetime

from chalicelib import clock


def new_request_id(moment: datetime) -> str:
    stamp = moment.astimezone(clock.CHINA).strftime("%Y%m%d%H%M%S")
    return stamp + f"{secrets.randbelow(1_000_000):06d}"
