"""Fuzzing POST /pay and POST /withdraw through chalice.test.Client.

Whatever arrives: never a 5xx; every 400 names a field (and its message contains the name);
a 400 or 409 leaves the tables and the credit queue exactly as they were (item counts compared
before and after each example; the API never touches the dead-letter queue).
"""
import json
import string
from datetime import datetime

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib.config import MAX_AMOUNT_FEN, MAX_BODY_BYTES
from tests.unit.support import body_of

ROUTES = ["/pay", "/withdraw"]
AMOUNT = {"/pay": "total_fee", "/withdraw": "withdraw_money"}

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# Text including lone surrogates: JSON can carry them as \ud800 escapes.
any_text = st.one_of(st.text(max_size=30),
                     st.text(st.characters(exclude_categories=()), max_size=10))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         any_text)
json_values = st.recursive(json_scalars,
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(any_text, inner,
                                                                   max_size=4)),
                           max_leaves=12)

moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 12, 31))
good_values = {
    "request_time": moments.map(lambda m: m.strftime("%Y-%m-%d %H:%M:%S")),
    "request_id": st.builds(lambda m, n: m.strftime("%Y%m%d%H%M%S") + f"{n:06d}", moments,
                            st.integers(0, 999_999)),
    "saler_id": st.text(alphabet=string.ascii_letters + string.digits + "_.-", min_size=1,
                        max_size=64),
    "amount": st.one_of(st.integers(1, MAX_AMOUNT_FEN), st.integers(1, MAX_AMOUNT_FEN).map(str)),
}
nearly_good = {
    "request_time": st.sampled_from(["2019-02-30 10:00:00", "2019-08-29T17:15:20", "2019-8-29 1:1:1",
                                     "", "2019-08-29 17:15:20 ", "２０１９-08-29 17:15:20"]),
    "request_id": st.sampled_from(["20191329171520123456", "2019082917152012345", "",
                                   "２０１９０８２９１７１５２０１２３４５６", "20190829171520123456 "]),
    "saler_id": st.sampled_from(["", "s" * 65, "a#b", "a b", "a\x00", "商户", "a\n"]),
    "amount": st.sampled_from([0, -1, "0", "-1", "+1", "1.0", 1.5, "1e3", 1e3, " 1", "1 ", "01",
                               "１", True, None, MAX_AMOUNT_FEN + 1, str(MAX_AMOUNT_FEN + 1)]),
}


@st.composite
def request_objects(draw, route):
    """A JSON object mixing valid, nearly valid and arbitrary values, missing and extra keys."""
    body = {}
    for name in ("request_time", "request_id", "saler_id", "amount"):
        key = AMOUNT[route] if name == "amount" else name
        kind = draw(st.sampled_from(["good", "good", "good", "nearly", "any", "missing"]))
        if kind == "good":
            body[key] = draw(good_values[name])
        elif kind == "nearly":
            body[key] = draw(nearly_good[name])
        elif kind == "any":
            body[key] = draw(json_values)
    extras = draw(st.dictionaries(st.one_of(any_text,
                                            st.sampled_from(list(AMOUNT.values()))),
                                  json_values, max_size=2))
    if draw(st.booleans()):
        body.update(extras)
    return body


_known = {}   # the footprint after the last example, while nothing is known to have changed it


def check(stack, api, route, raw: bytes):
    before = _known.pop(id(stack), None) or stack.footprint(dead_letter=False)
    response = api.post_raw(route, raw)
    assert response.status_code < 500, (raw[:200], response.body)
    answer = body_of(response)
    assert answer["response_code"] in ("SUCCESS", "FAIL")
    event(f"HTTP {response.status_code} {answer['response_code']} {answer.get('field') or ''}")
    if response.status_code == 400:
        field = answer["field"]
        assert isinstance(field, str) and field, answer
        assert field in answer["response_msg"], answer
    if response.status_code in (400, 409):
        after = stack.footprint(dead_letter=False)
        assert after == before, (raw[:200], answer)
        _known[id(stack)] = after
    else:
        assert response.status_code == 200, answer
    return response


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(data=st.data())
def test_fuzzed_objects_never_5xx_and_400s_write_nothing(shared_stack, api, route, data):
    body = data.draw(request_objects(route))
    pairs = list(body.items())
    if pairs and data.draw(st.integers(0, 4)) == 0:       # sometimes a key given twice
        pairs.append(data.draw(st.sampled_from(pairs)))
    ascii_only = data.draw(st.booleans())
    text = "{" + ", ".join(json.dumps(k, ensure_ascii=ascii_only) + ": "
                           + json.dumps(v, ensure_ascii=ascii_only) for k, v in pairs) + "}"
    check(shared_stack, api, route, text.encode("utf-8", "surrogatepass"))


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(value=json_values)
def test_arbitrary_json_never_5xx(shared_stack, api, route, value):
    check(shared_stack, api, route, json.dumps(value).encode())


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(raw=st.one_of(st.binary(max_size=300),
                     st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
                     st.builds(lambda chunk, size: (chunk * size)[:size], st.binary(min_size=1,
                                                                                     max_size=8),
                               st.integers(MAX_BODY_BYTES - 2, MAX_BODY_BYTES + 2))))
def test_arbitrary_bytes_never_5xx(shared_stack, api, route, raw):
    check(shared_stack, api, route, raw)


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(data=st.data())
def test_mutated_valid_bodies_never_5xx(shared_stack, api, route, data):
    """A valid body's JSON text with a few bytes deleted, duplicated or replaced."""
    body = {"request_time": "2019-08-29 17:15:20",
            "request_id": data.draw(good_values["request_id"]),
            "saler_id": "fuzz", AMOUNT[route]: "100"}
    text = bytearray(json.dumps(body).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(text) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "replace"]))
        if action == "delete":
            del text[position]
        elif action == "duplicate":
            text.insert(position, text[position])
        else:
            text[position] = data.draw(st.integers(0, 255))
    check(shared_stack, api, route, bytes(text))
