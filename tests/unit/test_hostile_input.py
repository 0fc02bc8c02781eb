"""Hostile input on every route, in process (chalice.test.Client on moto): unicode look-alikes,
invisible and control characters in every id field (body and path), numeric-looking strings at
every limit in every amount field, timestamps at their limits, integral floats in every integer
field, oversized bodies and deep JSON. Each is a 4xx naming the offending field, and nothing is
written anywhere: every DynamoDB table's items and every queue's depth are compared before and
after each test.

The valid bodies are the OpenAPI document's own request examples, so each case differs from an
accepted request only in the one thing it breaks; the id fields are found in the document (every
string with a pattern), so a new id field is covered without editing this file.

Every request goes through `send` (one place to sign them once money routes require it).
"""
import json
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from chalicelib import openapi
from chalicelib.config import MAX_AMOUNT_FEN, MAX_BODY_BYTES
from chalicelib.errors import ErrorCode
from tests.unit.support import body_of

DOCUMENT = openapi.document()
SCHEMAS = DOCUMENT["components"]["schemas"]
REFUSED = {ErrorCode.INVALID_FIELD.number, ErrorCode.MALFORMED_BODY.number,
           ErrorCode.BODY_TOO_LARGE.number}
# Routes whose documented body limit is larger than MAX_BODY_BYTES (app.py, 50 receivers).
LARGER_LIMIT = {"/sharing/orders": 16384, "/sharing/refunds": 16384,
                "/channel/notifications/profitsharing": 16384}
# The one POST without a request example in the document: the channel's profit-sharing notice.
PROFITSHARING_NOTICE = {
    "sub_mchid": "1692608207", "transaction_id": "4200000000000000000000000001", "order_id": "1",
    "out_order_no": "1795329563814480569",
    "receiver": {"type": "MERCHANT_ID", "account": "1900000109", "amount": 100, "description": "d",
                 "result": "SUCCESS", "fail_reason": None, "detail_id": "d"}}


def send(api, method: str, path: str, body: Optional[bytes] = None):
    """Every request of this module, signed by `api` with a key of every role and scope: what
    is refused here is refused for its content, never for its signature."""
    if method == "GET":
        return api.get(path)
    return api.post_raw(path, body if body is not None else b"")


# -- the document: valid bodies and the fields to break -------------------------------------

def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _branches(schema: dict) -> List[dict]:
    schema = _resolve(schema)
    if "anyOf" in schema:
        return [b for branch in schema["anyOf"] for b in _branches(branch)]
    return [schema]


def _descriptions(schema: dict) -> str:
    schema = _resolve(schema)
    return " ".join([schema.get("description") or ""]
                    + [_descriptions(branch) for branch in schema.get("anyOf", ())])


def _patterned(schema: dict) -> bool:
    """A string field with a pattern: an id, a time, or the string form of an amount."""
    return any(b.get("type") == "string" and "pattern" in b for b in _branches(schema))


def post_operations() -> Iterator[Tuple[str, dict]]:
    for path, methods in DOCUMENT["paths"].items():
        if "post" in methods:
            yield path, methods["post"]


def url_of(template: str) -> str:
    """A POST route's URL: path parameters get a valid value (a trade id for /trades/{trans_id})."""
    return template.replace("{trans_id}", "20190829171520123456")


def valid_body(path: str) -> dict:
    if path == "/channel/notifications/profitsharing":
        return json.loads(json.dumps(PROFITSHARING_NOTICE))
    media = DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return json.loads(json.dumps(next(iter(media["examples"].values()))["value"]))


def request_schema(path: str) -> dict:
    media = DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return _resolve(media["schema"])


def patterned_fields(path: str) -> Iterator[Tuple[Tuple, str]]:
    """(location in the body, a valid value) of every patterned string field, nested objects and
    the first item of lists of objects included; absent optional ones get the schema's example."""
    def walk(schema, body, location):
        for name, prop in _resolve(schema).get("properties", {}).items():
            here = location + (name,)
            value = body.get(name) if isinstance(body, dict) else None
            objects = [b for b in _branches(prop) if b.get("type") == "object" or "properties" in b]
            lists = [b for b in _branches(prop) if b.get("type") == "array"]
            if objects and isinstance(value, dict):
                yield from walk(objects[0], value, here)
            elif lists and isinstance(value, list) and value and isinstance(value[0], dict):
                yield from walk(lists[0]["items"], value[0], here + (0,))
            elif _patterned(prop):
                if value is None:
                    examples = [e for b in _branches(prop) for e in b.get("examples", ())
                                if isinstance(e, str)] + [e for e in _resolve(prop).get("examples", ())
                                                          if isinstance(e, str)]
                    if not examples:
                        continue
                    value = examples[0]
                yield here, str(value)
    yield from walk(request_schema(path), valid_body(path), ())


def with_value(body: dict, location: Tuple, value: Any) -> dict:
    body = json.loads(json.dumps(body))
    node = body
    for step in location[:-1]:
        node = node[step]
    node[location[-1]] = value
    return body


def field_name(location: Tuple) -> str:
    """How a refusal names a nested field (chalicelib/schemas.py: the pydantic location, dotted)."""
    return ".".join(str(step) for step in location)


# -- hostile characters -------------------------------------------------------------------------

CYRILLIC_TWINS = dict(zip("aceopxyiAВCEHKMOPTX03", "асеорхуіАВСЕНКМОРТХОЗ"))
CYRILLIC_TWINS.update({"B": "В", "s": "ѕ", "j": "ј"})
INVISIBLE_AND_CONTROL = {
    "zero_width_joiner": "\u200d", "zero_width_space": "\u200b", "rtl_mark": "\u200f",
    "rtl_override": "\u202e", "byte_order_mark": "\ufeff", "nbsp": "\u00a0", "nul": "\x00",
    "tab": "\t", "newline": "\n", "carriage_return": "\r", "del": "\x7f", "next_line": "\u0085",
    "escape": "\x1b", "space": " ",
}


def hostile_variants(value: str) -> Dict[str, str]:
    """The value made unacceptable in ways a person may not see."""
    variants = {}
    first, middle = value[0], len(value) // 2
    if first.isascii() and first.isdigit():
        variants["fullwidth_digit"] = chr(ord(first) + 0xFEE0) + value[1:]
        variants["arabic_indic_digit"] = chr(0x0660 + int(first)) + value[1:]
        variants["superscript_digit"] = "¹²³⁴⁵⁶⁷⁸⁹⁰"[int(first) - 1] + value[1:]
    elif first.isascii() and first.isalnum():
        variants["fullwidth_letter"] = chr(ord(first) + 0xFEE0) + value[1:]
    twin = next((i for i, ch in enumerate(value) if ch in CYRILLIC_TWINS), None)
    if twin is not None:
        variants["cyrillic_lookalike"] = value[:twin] + CYRILLIC_TWINS[value[twin]] + value[twin + 1:]
    for name, char in INVISIBLE_AND_CONTROL.items():
        variants[f"{name}_inside"] = value[:middle] + char + value[middle:]
    variants["trailing_newline"] = value + "\n"
    variants["leading_space"] = " " + value
    variants["fully_fullwidth"] = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c
                                          for c in value)
    return variants


# -- what is stored -----------------------------------------------------------------------------

def stored(stack) -> dict:
    """Every item of every table and the depth of every queue (the nonce table excepted: a
    request whose signature verified writes its nonce by design, whatever is refused after)."""
    found = {}
    for name in stack.dynamodb.list_tables()["TableNames"]:
        if "nonce" in name.lower():
            continue
        found[name] = sorted(json.dumps(item, sort_keys=True) for item in stack.scan(name))
    for url in stack.sqs.list_queues().get("QueueUrls", []):
        found[url] = stack.queue_depth(url)
    return found


@pytest.fixture(autouse=True)
def _merchant_configured(monkeypatch):
    """Some routes build their context (which needs the payment API's or the channel's URL) before
    they look at the request; a refused request never calls either: nothing listens on port 9."""
    monkeypatch.setenv("PAYMENT_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CHANNEL_URL", "http://127.0.0.1:9")


@pytest.fixture
def untouched(shared_stack):
    """What every test here sends is refused, so nothing anywhere may change."""
    before = stored(shared_stack)
    yield shared_stack
    assert stored(shared_stack) == before


def assert_refused(response, field: str, context: Any = None) -> dict:
    assert 400 <= response.status_code < 500, (context, response.status_code, response.body)
    answer = body_of(response)
    code = answer.get("error_code", answer.get("code"))
    message = answer.get("response_msg", answer.get("message"))
    assert code in REFUSED, (context, answer)
    assert answer["field"] == field, (context, answer)
    assert field in message, (context, answer)
    return answer


def post(api, path: str, body: dict, ascii_only: bool = False):
    return send(api, "POST", url_of(path), json.dumps(body, ensure_ascii=ascii_only).encode())


POSTS = [path for path, _ in post_operations()]
ID_FIELDS = [pytest.param(path, location, value, id=f"{path}:{field_name(location)}")
             for path in POSTS for location, value in patterned_fields(path)]


def test_every_post_route_and_its_id_fields_are_found():
    """The discovery above really sees the routes and fields it is meant to break: every POST
    route of the payment center's app (the merchant system's routes are its own app's, covered
    by tests/unit/merchant/test_hostile_input.py)."""
    import app as center
    assert set(POSTS) == {path for path, methods in center.app.routes.items() if "POST" in methods}
    assert len(POSTS) >= 11, POSTS
    found = {(p.values[0], field_name(p.values[1])) for p in ID_FIELDS}
    for expected in [("/pay", "request_id"), ("/pay", "saler_id"), ("/pay", "request_time"),
                     ("/trades", "buyer_id"), ("/subsidies", "subMchId"),
                     ("/sharing/orders", "receivers.0.receiveMchId"),
                     ("/channel/notifications/transactions", "transaction_id"),
                     ("/channel/notifications/profitsharing", "receiver.account")]:
        assert expected in found, sorted(found)


@pytest.mark.parametrize("path, location, value", ID_FIELDS)
def test_lookalikes_invisible_and_control_characters_in_an_id_are_refused(untouched, api, path,
                                                                          location, value):
    body = valid_body(path)
    for name, hostile in hostile_variants(value).items():
        for ascii_only in (False, True):      # raw UTF-8, and \\uXXXX escapes
            response = post(api, path, with_value(body, location, hostile), ascii_only)
            assert_refused(response, field_name(location), (name, hostile, ascii_only))


def path_operations() -> Iterator[Tuple[str, str, str]]:
    """(path template, parameter, valid value) of every GET with a patterned path parameter."""
    for path, methods in DOCUMENT["paths"].items():
        for parameter in methods.get("get", {}).get("parameters", []):
            if parameter["in"] == "path" and _patterned(parameter["schema"]):
                example = (parameter["schema"].get("examples") or ["20190829171520123456"])[0]
                yield path, parameter["name"], example


PATH_IDS = [pytest.param(*case, id=f"{case[0]}") for case in path_operations()]


def test_every_get_with_an_id_in_its_path_is_found():
    assert len(PATH_IDS) >= 9, PATH_IDS


@pytest.mark.parametrize("template, name, value", PATH_IDS)
def test_lookalikes_invisible_and_control_characters_in_a_path_id_are_refused(untouched, api,
                                                                              template, name,
                                                                              value):
    for variant, hostile in hostile_variants(value).items():
        if any(char in hostile for char in "\t\r\n"):
            # Python's URL parsing (in chalice's gateway) drops these before any route sees the
            # path, and no HTTP request line carries them raw; the body tests cover them.
            continue
        # As Lambda gets it from API Gateway: the parameter decoded (chalice's test client hands
        # the path over as given, without percent-decoding it).
        response = send(api, "GET", template.replace("{" + name + "}", hostile))
        assert_refused(response, name, (variant, hostile))


# -- amounts at every limit ---------------------------------------------------------------------

def amount_fields(path: str) -> Iterator[Tuple[Tuple, bool]]:
    """(location, zero allowed) of every amount field (documented as an amount in fen)."""
    def walk(schema, body, location):
        for name, prop in _resolve(schema).get("properties", {}).items():
            here = location + (name,)
            value = body.get(name) if isinstance(body, dict) else None
            branches = _branches(prop)
            lists = [b for b in branches if b.get("type") == "array"]
            objects = [b for b in branches if "properties" in b]
            if objects and isinstance(value, dict):
                yield from walk(objects[0], value, here)
            elif lists and isinstance(value, list) and value and isinstance(value[0], dict):
                yield from walk(lists[0]["items"], value[0], here + (0,))
            elif value is not None and "amount in fen" in _descriptions(prop):
                yield here, any(b.get("minimum") == 0 for b in branches), any(
                    b.get("type") == "null" for b in branches)
    yield from walk(request_schema(path), valid_body(path), ())


AMOUNT_FIELDS = [pytest.param(path, location, zero_ok, nullable, id=f"{path}:{field_name(location)}")
                 for path in POSTS for location, zero_ok, nullable in amount_fields(path)]
NUMERIC_LOOKING = ["-0", "1e3", "1E3", " 1", "1 ", "0x10", "0o7", "0b1", str(MAX_AMOUNT_FEN + 1),
                   "٣", "１２３", "¹", "+1", "01", "00", "1.0", "1.", ".5", "1_000", "1,000", "", " ",
                   "-1", "Infinity", "NaN", "9" * 19, "9" * 400, "\u200d1", "1\u200f", "1\x00"]
# Raw JSON tokens for the amount (not strings): fractions and exponents, even integral ones,
# are refused (they may have been floats on the way); bounds; other types.
AMOUNT_TOKENS = ["100.0", "1e3", "1E+2", "-0", "-1", "0.5", "1e400", str(MAX_AMOUNT_FEN + 1),
                 str(2 ** 63), str(2 ** 64), "10" + "0" * 400, "true", "false", "null", "[1]",
                 '{"fen": 1}', "-0.0"]


def test_every_amount_field_is_found():
    found = {(p.values[0], field_name(p.values[1])) for p in AMOUNT_FIELDS}
    for expected in [("/pay", "total_fee"), ("/withdraw", "withdraw_money"), ("/trades", "cash_amount"),
                     ("/trades", "fee_amount"), ("/subsidies", "amount"),
                     ("/sharing/orders", "receivers.0.amount"),
                     ("/channel/notifications/transactions", "amount")]:
        assert expected in found, sorted(found)


@pytest.mark.parametrize("path, location, zero_ok, nullable", AMOUNT_FIELDS)
def test_numeric_looking_amounts_at_every_limit_are_refused(untouched, api, path, location,
                                                            zero_ok, nullable):
    body = valid_body(path)
    refused = NUMERIC_LOOKING + ([] if zero_ok else ["0"])
    for text in refused:
        response = post(api, path, with_value(body, location, text))
        assert_refused(response, field_name(location), text)
    placeholder = "__AMOUNT__"
    raw = json.dumps(with_value(body, location, placeholder))
    for token in AMOUNT_TOKENS + ([] if zero_ok else ["0"]):
        if zero_ok and token == "-0" or nullable and token == "null":
            continue            # -0 is the integer 0, which a fee may be; null: an optional fee
        response = send(api, "POST", url_of(path), raw.replace(f'"{placeholder}"', token).encode())
        assert_refused(response, field_name(location), token)


@pytest.mark.parametrize("model_path", ["/pay", "/trades", "/subsidies"])
def test_the_limits_themselves_are_accepted_by_the_parser(model_path):
    """The other side of each limit: the largest amount, as integer and as string, is valid."""
    from chalicelib.schemas import parse
    from chalicelib.payments.messages import PayRequest
    from chalicelib.payments.trades.messages import TradeRequest
    from chalicelib.subsidies.messages import SubsidyRequest
    model = {"/pay": PayRequest, "/trades": TradeRequest, "/subsidies": SubsidyRequest}[model_path]
    location = next(loc for loc, zero_ok, _ in amount_fields(model_path) if not zero_ok)
    for value in (MAX_AMOUNT_FEN, str(MAX_AMOUNT_FEN), 1, "1"):
        parse(model, json.dumps(with_value(valid_body(model_path), location, value)).encode(),
              max_bytes=16384)


# -- integers written as floats, timestamps at their limits -----------------------------------

def integer_fields(path: str) -> Iterator[Tuple[Tuple, Any]]:
    """(location, valid value) of every top-level field the document types as a JSON integer."""
    body = valid_body(path)
    for name, prop in request_schema(path).get("properties", {}).items():
        if isinstance(body.get(name), int) and not isinstance(body.get(name), bool) and any(
                b.get("type") == "integer" for b in _branches(prop)):
            yield (name,), body[name]


INTEGER_FIELDS = [pytest.param(path, location, value, id=f"{path}:{field_name(location)}")
                  for path in POSTS for location, value in integer_fields(path)]


@pytest.mark.parametrize("path, location, value", INTEGER_FIELDS)
def test_an_integer_written_with_a_fraction_or_exponent_is_refused(untouched, api, path, location,
                                                                   value):
    """JSON Schema's `integer` admits 100.0; this API does not (docs/api/index.md, Amounts): the same value
    written as 100.0 or 1e2 is refused, the field named."""
    raw = json.dumps(with_value(valid_body(path), location, "__N__"))
    tokens = [f"{value}.0", f"{value}e0", f"{value}.000", f"{value}E+0", "true", "false"]
    prop = request_schema(path)["properties"][location[-1]]
    if not any(b.get("type") == "string" for b in _branches(prop)):
        tokens.append(f'"{value}"')        # amounts may be strings of digits; the others not
    for token in tokens:
        response = send(api, "POST", url_of(path), raw.replace('"__N__"', token).encode())
        assert_refused(response, field_name(location), token)


TIMESTAMPS = [
    # (route, field, refused values): one past each end, and the edges of what the calendar has.
    ("/pay", "request_time", ["0000-01-01 00:00:00", "10000-01-01 00:00:00", "2019-12-31 24:00:00",
                              "2019-12-31 23:59:60", "2019-02-29 00:00:00", "1900-02-29 00:00:00",
                              "2019-00-10 00:00:00", "2019-01-00 00:00:00", "2019-04-31 00:00:00",
                              "-2019-01-01 00:00:00", "2019-01-01 00:00:00.000",
                              "2019-01-01T00:00:00", "2019-01-01 00:00:00+08:00"]),
    ("/pay", "request_id", ["00000101000000000000", "99991231235960000000", "20190229000000000000",
                            "20191231240000000000", "2019123123595900000", "201912312359590000000"]),
    ("/subsidies", "timestamp", [-1, 99_999_999_999 + 1, 2 ** 63, 2 ** 64, "1740125261", True,
                                 1740125261.5, None]),
    ("/sharing/orders", "timestamp", [-1, 99_999_999_999 + 1, 2 ** 63, "1744027000", False]),
]


@pytest.mark.parametrize("path, field, values", TIMESTAMPS, ids=[f"{p}:{f}" for p, f, _ in TIMESTAMPS])
def test_timestamps_past_their_limits_are_refused(untouched, api, path, field, values):
    for value in values:
        assert_refused(post(api, path, with_value(valid_body(path), (field,), value)), field, value)


def test_timestamps_at_their_limits_are_accepted_by_the_parser():
    """The last valid moment on each side of the limits refused above."""
    from chalicelib import fields
    for moment in ("0001-01-01 00:00:00", "9999-12-31 23:59:59", "2020-02-29 23:59:59",
                   "2000-02-29 00:00:00"):
        assert fields.request_time(moment) == moment
    for request_id in ("00010101000000000000", "99991231235959999999"):
        assert fields.request_id(request_id) == request_id


# -- size and depth -----------------------------------------------------------------------------

def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


@pytest.mark.parametrize("path", POSTS)
def test_oversized_and_deeply_nested_bodies_are_refused_naming_the_body(untouched, api, path):
    limit = LARGER_LIMIT.get(path, MAX_BODY_BYTES)
    body = valid_body(path)
    text = json.dumps(body)
    padded = text[:-1] + ", " + json.dumps("x" * (limit - len(text))) + ': 1}'
    cases = {
        "one byte over the limit, padded with spaces": (text + " " * (limit + 1 - len(text))).encode(),
        "a valid body with a huge extra field": padded.encode(),
        "a megabyte": b"{" + b" " * (1 << 20) + b"}",
        "10,000 levels of arrays": nested(10_000).encode(),
        "10,000 levels of objects": ('{"a":' * 10_000 + "1" + "}" * 10_000).encode(),
        # As deep as the limit allows: the depth itself, not the size, is what is refused.
        "arrays nested up to the limit": nested(limit // 2).encode(),
        "objects nested up to the limit": ('{"a":' * (limit // 6) + "1" + "}" * (limit // 6)).encode(),
        "a field nested up to the limit": json.dumps(body)[:-1].encode()
        + b', "deep": ' + nested((limit - len(text)) // 2 - 10).encode() + b"}",
    }
    for name, raw in cases.items():
        response = send(api, "POST", url_of(path), raw)
        if len(raw) > limit:
            answer = assert_refused(response, "body", name)
            assert answer.get("error_code", answer.get("code")) == ErrorCode.BODY_TOO_LARGE.number
        else:
            # Deeper than the parser's recursion limit: malformed `body`; shallower: the
            # object's first missing or unknown field, named.
            answer = body_of(response)
            assert_refused(response, answer.get("field") or "body", name)
            if name.startswith("arrays"):
                assert answer["field"] == "body", (name, answer)


def test_the_size_limit_is_on_bytes_not_characters(untouched, api):
    """4096 bytes of 3-byte characters are 1366 characters: refused by bytes, named `body`."""
    body = valid_body("/pay")
    text = json.dumps(dict(body, saler_id="商" * 1400), ensure_ascii=False)
    assert len(text) < MAX_BODY_BYTES < len(text.encode())
    answer = assert_refused(send(api, "POST", "/pay", text.encode()), "body")
    assert answer["error_code"] == ErrorCode.BODY_TOO_LARGE.number
