"""Bad input over HTTP: 400, FAIL, the field named, and nothing written anywhere. Never a 5xx."""
import json

import pytest

from chalicelib.config import MAX_AMOUNT_FEN, MAX_BODY_BYTES
from tests.unit.support import body_of

EMPTY = {"orders": 0, "ledger": 0, "credit_queue": 0, "dead_letter_queue": 0}
AMOUNT = {"/pay": "total_fee", "/withdraw": "withdraw_money"}
ROUTES = list(AMOUNT)


def valid(route: str) -> dict:
    return {"request_time": "2019-08-29 17:15:20", "request_id": "20190829171520123456",
            "saler_id": "saler1", AMOUNT[route]: "100"}


def raw(text: str) -> bytes:
    return text.encode("utf-8")


# Each case: (id, a function of the route giving the request body as bytes, the field named).
CASES = []


def case(name, field, make):
    CASES.append(pytest.param(make, field, id=name))


def with_field(name, value):
    """The valid body with one field replaced (`AMOUNT` means the route's amount field)."""
    def make(route):
        body = valid(route)
        body[AMOUNT[route] if name == "AMOUNT" else name] = value
        return raw(json.dumps(body, ensure_ascii=False))
    return make


def without(name):
    def make(route):
        body = valid(route)
        del body[AMOUNT[route] if name == "AMOUNT" else name]
        return raw(json.dumps(body))
    return make


def literal(text):
    return lambda route: raw(text)


def amount_literal(text):
    """The valid body with the amount written as a raw JSON token (e.g. 1e3, NaN, 1.0)."""
    def make(route):
        body = json.dumps(dict(valid(route), **{AMOUNT[route]: "__AMOUNT__"}))
        return raw(body.replace('"__AMOUNT__"', text))
    return make


# Missing and extra fields.
for name in ("request_time", "request_id", "saler_id"):
    case(f"missing_{name}", name, without(name))
case("missing_amount", "AMOUNT", without("AMOUNT"))
case("extra_field", "extra", lambda route: raw(json.dumps(dict(valid(route), extra=1))))
case("other_routes_amount", "OTHER_AMOUNT", lambda route: raw(json.dumps(dict(
    valid(route), **{AMOUNT["/withdraw" if route == "/pay" else "/pay"]: "1"}))))

# Wrong types.
case("request_id_number", "request_id", lambda route: raw(
    json.dumps(valid(route)).replace('"20190829171520123456"', "20190829171520123456")))
case("request_id_list", "request_id", with_field("request_id", ["20190829171520123456"]))
case("request_id_null", "request_id", with_field("request_id", None))
case("request_time_number", "request_time", with_field("request_time", 20190829171520))
case("saler_id_null", "saler_id", with_field("saler_id", None))
case("saler_id_number", "saler_id", with_field("saler_id", 1))
case("saler_id_object", "saler_id", with_field("saler_id", {"id": "s"}))
case("amount_true", "AMOUNT", with_field("AMOUNT", True))
case("amount_false", "AMOUNT", with_field("AMOUNT", False))
case("amount_null", "AMOUNT", with_field("AMOUNT", None))
case("amount_list", "AMOUNT", with_field("AMOUNT", [100]))
case("amount_object", "AMOUNT", with_field("AMOUNT", {"fen": 100}))

# Bodies that are not one JSON object.
case("malformed_json", "body", literal('{"request_id": '))
case("not_json", "body", literal("request_id=1"))
case("trailing_garbage", "body", lambda route: raw(json.dumps(valid(route)) + "x"))
case("single_quotes", "body", lambda route: raw(json.dumps(valid(route)).replace('"', "'")))
case("empty_body", "body", literal(""))
case("json_array", "body", lambda route: raw(json.dumps([valid(route)])))
case("json_string", "body", literal('"hello"'))
case("json_number", "body", literal("123"))
case("json_null", "body", literal("null"))
case("not_utf8", "body", lambda route: b"\xff\xfe" + raw(json.dumps(valid(route))))
case("deeply_nested", "body", literal("[" * 2000 + "]" * 2000))
case("duplicate_keys", "request_id", lambda route: raw(
    json.dumps(valid(route))[:-1] + ', "request_id": "20190829171520654321"}'))
case("duplicate_amount", "AMOUNT", lambda route: raw(
    json.dumps(valid(route))[:-1] + f', "{AMOUNT[route]}": "100"}}'))
case("duplicate_key_lone_surrogate", "\udc00", lambda route: raw(
    json.dumps(valid(route))[:-1] + r', "\udc00": 1, "\udc00": 2}'))
case("extra_key_lone_surrogate", "body", lambda route: raw(
    json.dumps(valid(route))[:-1] + r', "\ud800": 1}'))
case("extra_key_empty", '""', lambda route: raw(json.dumps(dict(valid(route), **{"": 1}))))
case("duplicate_key_empty", '""', lambda route: raw(
    json.dumps(valid(route))[:-1] + ', "": null, "": null}'))
case("extra_key_non_ascii", "商户号", lambda route: raw(
    json.dumps(dict(valid(route), 商户号="1"), ensure_ascii=False)))
case("saler_id_lone_surrogate", "saler_id", lambda route: raw(
    json.dumps(valid(route)).replace('"saler1"', r'"s\ud800"')))
for token in ("NaN", "Infinity", "-Infinity"):
    case(f"amount_{token}", "body", amount_literal(token))
case("too_large", "body", lambda route: raw(json.dumps(valid(route)) + " " * MAX_BODY_BYTES))
case("too_large_valid_field", "body", lambda route: raw(json.dumps(
    dict(valid(route), saler_id="s" * (MAX_BODY_BYTES + 1)))))

# request_id.
for name, value in [("19_digits", "2019082917152012345"), ("21_digits", "201908291715201234567"),
                    ("letters", "2019082917152012345a"), ("empty", ""),
                    ("spaces", " 20190829171520123456"), ("signed", "+2019082917152012345"),
                    ("fullwidth_digits", "２０１９０８２９１７１５２０１２３４５６"),
                    ("arabic_indic_digits", "٢٠١٩٠٨٢٩١٧١٥٢٠١٢٣٤٥٦"),
                    ("month_13", "20191329171520123456"), ("month_00", "20190029171520123456"),
                    ("feb_30", "20190230171520123456"), ("feb_29_non_leap", "20190229171520123456"),
                    ("day_32", "20190832171520123456"), ("hour_24", "20190829241520123456"),
                    ("minute_60", "20190829176020123456"), ("second_60", "20190829171560123456"),
                    ("year_0000", "00000829171520123456")]:
    case(f"request_id_{name}", "request_id", with_field("request_id", value))

# request_time.
for name, value in [("slashes", "2019/08/29 17:15:20"), ("iso_t", "2019-08-29T17:15:20"),
                    ("no_padding", "2019-8-29 17:15:20"), ("no_seconds", "2019-08-29 17:15"),
                    ("fraction", "2019-08-29 17:15:20.5"), ("zone", "2019-08-29 17:15:20Z"),
                    ("date_only", "2019-08-29"), ("empty", ""), ("leading_space", " 2019-08-29 17:15:20"),
                    ("trailing_newline", "2019-08-29 17:15:20\n"),
                    ("fullwidth", "２０１９-08-29 17:15:20"),
                    ("feb_30", "2019-02-30 10:00:00"), ("month_13", "2019-13-01 10:00:00"),
                    ("hour_24", "2019-08-29 24:00:00"), ("second_61", "2019-08-29 17:15:61")]:
    case(f"request_time_{name}", "request_time", with_field("request_time", value))

# Amounts.
for name, value in [("zero", 0), ("zero_string", "0"), ("negative", -1), ("negative_string", "-1"),
                    ("plus_string", "+1"), ("fraction_string", "1.0"), ("fraction", 1.5),
                    ("exponent_string", "1e3"), ("leading_space", " 1"), ("trailing_space", "1 "),
                    ("leading_zero", "01"), ("fullwidth", "１"), ("empty", ""),
                    ("underscore", "1_000"), ("hex", "0x10"), ("comma", "1,000"),
                    ("above_max", MAX_AMOUNT_FEN + 1), ("above_max_string", str(MAX_AMOUNT_FEN + 1)),
                    ("huge", 10 ** 40), ("huge_string", "9" * 40)]:
    case(f"amount_{name}", "AMOUNT", with_field("AMOUNT", value))
for name, token in [("float_token", "1.0"), ("exponent_token", "1e3"), ("negative_zero", "-0"),
                    ("overflowing_float", "1e400")]:
    case(f"amount_{name}", "AMOUNT", amount_literal(token))

# saler_id.
for name, value in [("empty", ""), ("65_chars", "s" * 65), ("hash", "a#b"), ("space", "a b"),
                    ("only_space", " "), ("tab", "a\tb"), ("nul", "a\x00b"), ("newline", "a\n"),
                    ("del", "a\x7f"), ("slash", "a/b"), ("non_ascii", "商户"), ("emoji", "a😀")]:
    case(f"saler_id_{name}", "saler_id", with_field("saler_id", value))


@pytest.fixture
def untouched(shared_stack):
    """Every case writes nothing: the shared stack is empty before and after each one."""
    assert shared_stack.footprint() == EMPTY
    yield shared_stack
    assert shared_stack.footprint() == EMPTY


@pytest.mark.parametrize("route", ROUTES, ids=["pay", "withdraw"])
@pytest.mark.parametrize("make, field", CASES)
def test_bad_input_is_400_naming_the_field_and_writes_nothing(untouched, api, route, make, field):
    expected = {"AMOUNT": AMOUNT[route],
                "OTHER_AMOUNT": AMOUNT["/withdraw" if route == "/pay" else "/pay"]}.get(field, field)

    response = api.post_raw(route, make(route))

    assert response.status_code == 400, response.body
    answer = body_of(response)
    assert answer["response_code"] == "FAIL"
    assert answer["field"] == expected
    assert expected in answer["response_msg"]
    assert answer["error_code"] in (1001, 1002, 1003)


@pytest.mark.parametrize("route", ROUTES, ids=["pay", "withdraw"])
def test_the_valid_body_used_above_is_accepted(route):
    """The cases above differ from an accepted request only in the one thing they break."""
    from chalicelib.payments.messages import PayRequest, WithdrawRequest, parse
    model = PayRequest if route == "/pay" else WithdrawRequest
    assert parse(model, json.dumps(valid(route)).encode()).amount == 100


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_other_content_types_are_refused_without_5xx(untouched, api, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = api.post_raw("/pay", b"request_id=1", headers=headers)
    assert 400 <= response.status_code < 500


BAD_PATHS = [
    ("/orders/pay/abc", "request_id"),
    ("/orders/pay/2019082917152012345", "request_id"),
    ("/orders/pay/201908291715201234567", "request_id"),
    ("/orders/pay/20191329171520123456", "request_id"),
    ("/orders/pay/20190230171520123456", "request_id"),
    ("/orders/withdraw/%FF%FE", "request_id"),
    ("/orders/withdraw/%00", "request_id"),
    ("/orders/withdraw/" + "1" * 5000, "request_id"),
    ("/orders/pay/２０１９０８２９１７１５２０１２３４５６", "request_id"),
    ("/orders/pay/20190829171520123456%20", "request_id"),
    ("/orders/pay/%2e%2e", "request_id"),
    ("/accounts/a%23b", "saler_id"),
    ("/accounts/a%20b", "saler_id"),
    ("/accounts/%00", "saler_id"),
    ("/accounts/" + "s" * 65, "saler_id"),
    ("/accounts/商户", "saler_id"),
    ("/accounts/%E5%95%86", "saler_id"),
    ("/accounts/a%2Fb", "saler_id"),
    ("/accounts/a%23b/journal", "saler_id"),
    ("/accounts/" + "s" * 65 + "/journal", "saler_id"),
    ("/accounts/%FF/journal?limit=1", "saler_id"),
]


@pytest.mark.parametrize("path, field", BAD_PATHS, ids=[p[:40] for p, _ in BAD_PATHS])
def test_malformed_path_parameters_are_400(untouched, api, path, field):
    response = api.get(path)
    assert response.status_code == 400, response.body
    answer = body_of(response)
    assert answer["response_code"] == "FAIL"
    assert answer["field"] == field
    assert field in answer["response_msg"]


@pytest.mark.parametrize("path", ["/orders/pay/", "/orders/pay", "/orders/pay/1/2", "/accounts/",
                                  "/accounts//journal", "/orders//", "/pay/extra"])
def test_paths_that_match_no_route_are_not_5xx(untouched, api, path):
    assert api.get(path).status_code < 500
    assert api.post_raw(path, b"{}").status_code < 500


def test_an_empty_object_names_a_missing_field(untouched, api):
    response = api.post_raw("/pay", b"{}")
    assert response.status_code == 400
    assert body_of(response)["field"] in ("request_time", "request_id", "saler_id", "total_fee")
