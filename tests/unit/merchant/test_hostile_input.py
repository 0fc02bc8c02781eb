"""Hostile input on the merchant system's POST routes (its own app, `chalice.test.Client`):
look-alike, invisible and control characters in the saler id, oversized and deeply nested
bodies. Each is a 4xx naming the offending field; nothing is stored and nothing is sent to the
payment API."""
import json

import pytest

from chalicelib.config import MAX_BODY_BYTES
from chalicelib.errors import ErrorCode
from tests.unit.merchant.support import merchant_items, payment_orders
from tests.unit.merchant.test_routes import ROUTES, shared_link  # noqa: F401 (fixture)
from tests.unit.support import body_of

REFUSED = {ErrorCode.INVALID_FIELD.number, ErrorCode.MALFORMED_BODY.number,
           ErrorCode.BODY_TOO_LARGE.number}
SALER_IDS = {
    "cyrillic_lookalike": "sаler1", "fullwidth_letter": "ｓaler1", "zero_width_space": "sal\u200ber1",
    "zero_width_joiner": "sal\u200der1", "rtl_override": "sal\u202eer1", "nul": "sal\x00er1",
    "byte_order_mark": "\ufeffsaler1", "nbsp": "sal\u00a0er1", "tab": "sal\ter1",
    "trailing_newline": "saler1\n", "leading_space": " saler1", "del": "sal\x7fer1",
}


def _valid(route):
    return {"saler_id": "saler1", ROUTES[route]: "100"}


def _bodies(route):
    text = json.dumps(_valid(route))
    yield "one byte over the limit", (text + " " * (MAX_BODY_BYTES + 1 - len(text))).encode(), "body"
    yield "a megabyte", b"{" + b" " * (1 << 20) + b"}", "body"
    yield "10,000 levels of arrays", ("[" * 10_000 + "]" * 10_000).encode(), "body"
    depth = (MAX_BODY_BYTES - len(text)) // 2 - 10
    yield "a field nested up to the limit", (text[:-1] + ', "deep": ' + "[" * depth + "]" * depth
                                             + "}").encode(), "body"
    for name, saler in SALER_IDS.items():
        for ascii_only in (False, True):
            yield (f"saler_id {name}", json.dumps(dict(_valid(route), saler_id=saler),
                                                  ensure_ascii=ascii_only).encode(), "saler_id")


@pytest.mark.parametrize("route", list(ROUTES))
def test_hostile_bodies_are_refused_naming_the_field_and_nothing_is_stored_or_sent(
        shared_stack, api, shared_link, route):  # noqa: F811
    for name, raw, field in _bodies(route):
        response = api.post_raw(route, raw)
        assert 400 <= response.status_code < 500, (name, response.status_code, response.body)
        answer = body_of(response)
        assert answer["error_code"] in REFUSED, (name, answer)
        assert answer["field"] == field, (name, answer)
    assert merchant_items(shared_stack) == []
    assert payment_orders(shared_stack) == []
    assert shared_link.plan.status()["counters"]["forwarded"] == 0
