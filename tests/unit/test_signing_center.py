"""Request signing, the center's side: the ordered checks, roles and scopes, and that a refused
request writes nothing (moto in-process, `chalice.test.Client`)."""
import dataclasses
import hashlib
import hmac
import json
from types import SimpleNamespace

import pytest
from chalice.app import MultiDict

from chalicelib import openapi
from chalicelib.auth import credentials, gate, nonces, signature
from chalicelib.auth.credentials import CredentialCache, in_scope, parse, pattern_matches
from chalicelib.auth.verifier import SignedRequest, verify
from chalicelib.errors import ErrorCode, PaySettleError
from tests.support.logs import captured_log_lines
from tests.support.signing import BUSINESS, CALLERS, CHANNEL, MERCHANT, PLATFORM, SigningKey
from tests.unit.support import JSON, body_of, pay_body

NOW = 1_700_000_000
WINDOW = 300


# -- the verifier alone (no I/O) ------------------------------------------------------------

def _credential(key: SigningKey = PLATFORM):
    return parse(json.dumps({"callers": {key.key_id: key.entry()}}))[key.key_id]


class Claims:
    def __init__(self):
        self.claimed = {}

    def __call__(self, key_id, nonce, expires):
        if (key_id, nonce) in self.claimed:
            return False
        self.claimed[(key_id, nonce)] = expires
        return True


def _signed(method="POST", path="/pay", body=b'{"a": 1}', key=PLATFORM, now=NOW, nonce=None):
    headers = signature.signed_headers(key.key_id, key.secret, method, path, body, now=now,
                                       nonce=nonce)
    return SignedRequest(method=method, targets=[path], body=body, headers=headers)


def _verify(request, claims=None, now=NOW):
    known = {c.key_id: _credential(c) for c in CALLERS}
    return verify(request, known.get, claims if claims is not None else Claims(), now, WINDOW)


def _refusal(request, **options) -> PaySettleError:
    with pytest.raises(PaySettleError) as refused:
        _verify(request, **options)
    return refused.value


def test_a_good_request_gives_its_caller_and_claims_its_nonce_with_an_expiry():
    claims = Claims()
    request = _signed()
    caller = _verify(request, claims)
    assert (caller.key_id, caller.merchant_id) == (PLATFORM.key_id, "default")
    assert caller.roles == frozenset(PLATFORM.roles)
    nonce = request.headers[signature.NONCE]
    assert claims.claimed == {(PLATFORM.key_id, nonce): NOW + WINDOW + 60}


@pytest.mark.parametrize("header", signature.HEADERS)
@pytest.mark.parametrize("value", [None, ""])
def test_each_missing_header_is_4011_naming_it(header, value):
    request = _signed()
    headers = dict(request.headers, **{header: value})
    error = _refusal(SignedRequest(request.method, request.targets, request.body, headers))
    assert (error.code, error.field) == (ErrorCode.SIGNATURE_MISSING, header)


def test_an_unknown_key_is_4013():
    stranger = SigningKey("nobody", "f0" * 32, roles=("merchant",))
    error = _refusal(_signed(key=stranger))
    assert (error.code, error.field) == (ErrorCode.KEY_UNKNOWN, "X-Key-Id")


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_timestamps_at_the_window_edge_are_accepted(offset):
    assert _verify(_signed(now=NOW + offset)).key_id == PLATFORM.key_id


@pytest.mark.parametrize("offset", [-301, 301, -86400, 86400])
def test_timestamps_beyond_the_window_are_4014(offset):
    error = _refusal(_signed(now=NOW + offset))
    assert (error.code, error.field) == (ErrorCode.TIMESTAMP_OUT_OF_WINDOW, "X-Timestamp")


@pytest.mark.parametrize("timestamp", ["abc", " 1700000000", "+1700000000", "1_700_000_000",
                                       "1700000000.0", "-1", "1" * 13, "１７００"])
def test_a_timestamp_that_is_not_plain_epoch_seconds_is_4014(timestamp):
    request = _signed()
    headers = dict(request.headers, **{signature.TIMESTAMP: timestamp})
    error = _refusal(SignedRequest(request.method, request.targets, request.body, headers))
    assert error.code is ErrorCode.TIMESTAMP_OUT_OF_WINDOW


def test_a_signature_made_with_another_secret_is_4012_and_claims_no_nonce():
    impostor = SigningKey(PLATFORM.key_id, "00" * 32)
    claims = Claims()
    error = _refusal(_signed(key=impostor), claims=claims)
    assert (error.code, error.field) == (ErrorCode.SIGNATURE_INVALID, "X-Signature")
    assert claims.claimed == {}


@pytest.mark.parametrize("change", [
    {"body": b'{"a": 2}'}, {"body": b'{"a": 1} '}, {"body": b""},
    {"targets": ["/withdraw"]}, {"targets": ["/api/pay"]}, {"targets": ["/pay?x=1"]},
    {"method": "GET"}, {"method": "PUT"},
], ids=lambda change: "-".join(f"{k}={v!r}" for k, v in change.items()))
def test_a_tampered_body_path_or_method_is_4012(change):
    claims = Claims()
    error = _refusal(dataclasses.replace(_signed(), **change), claims=claims)
    assert error.code is ErrorCode.SIGNATURE_INVALID
    assert claims.claimed == {}


def test_a_replayed_nonce_is_4015():
    claims = Claims()
    request = _signed()
    _verify(request, claims)
    error = _refusal(request, claims=claims)
    assert (error.code, error.field) == (ErrorCode.NONCE_REPLAYED, "X-Nonce")


def test_the_same_nonce_of_another_key_is_not_a_replay():
    claims, nonce = Claims(), "n" * 32
    _verify(_signed(key=PLATFORM, nonce=nonce), claims)
    assert _verify(_signed(key=MERCHANT, nonce=nonce), claims).key_id == MERCHANT.key_id


@pytest.mark.parametrize("nonce", ["short", "x" * 65, "has space in it!!", "ünïcödé-nonce-1234",
                                   "a#b" * 8])
def test_a_malformed_nonce_is_4015_and_is_never_stored(nonce):
    claims = Claims()
    error = _refusal(_signed(nonce=nonce), claims=claims)
    assert error.code is ErrorCode.NONCE_REPLAYED
    assert claims.claimed == {}


def test_the_checks_run_in_order():
    """Unknown key before a bad timestamp, a bad timestamp before a bad signature."""
    stranger = SigningKey("nobody", "f0" * 32)
    assert _refusal(_signed(key=stranger, now=NOW - 9999)).code is ErrorCode.KEY_UNKNOWN
    impostor = SigningKey(PLATFORM.key_id, "00" * 32)
    assert _refusal(_signed(key=impostor, now=NOW - 9999)).code is ErrorCode.TIMESTAMP_OUT_OF_WINDOW


# -- credentials and scopes -------------------------------------------------------------------

@pytest.mark.parametrize("pattern, subject, expected", [
    ("*", "anything", True), ("saler*", "saler1", True), ("saler*", "saler", True),
    ("saler*", "xsaler1", False), ("saler1", "saler1", True), ("saler1", "saler12", False),
    ("sa*er", "saler", False), ("*saler", "saler", False), ("**", "x", False), ("", "x", False),
])
def test_scope_patterns(pattern, subject, expected):
    assert pattern_matches(pattern, subject) is expected


def test_an_empty_scope_list_allows_nothing():
    caller = _verify(_signed(key=CHANNEL))
    assert not in_scope(caller.scopes["salers"], "saler1")
    with pytest.raises(PaySettleError) as refused:
        caller.require_subject("salers", "saler1", "saler_id")
    assert (refused.value.code, refused.value.field) == (ErrorCode.SUBJECT_NOT_OWNED, "saler_id")


def test_parse_skips_an_entry_without_a_secret_and_unknown_roles():
    found = parse(json.dumps({"callers": {
        "good": {"secret": "s", "roles": ["merchant", "root"], "salers": ["a*", 5, ""]},
        "bad": {"roles": ["merchant"]}, "worse": "not an object"}}))
    assert set(found) == {"good"}
    assert found["good"].roles == frozenset({"merchant"})
    assert found["good"].scopes["salers"] == ("a*",)
    assert "'s'" not in repr(found["good"]) and "secret" not in repr(found["good"])


def test_the_cache_reads_once_per_ttl_and_an_unknown_key_at_most_once_per_5_seconds():
    reads, clock = [], [0.0]
    secret = {"callers": {"k1": {"secret": "s1"}}}

    def read():
        reads.append(clock[0])
        return json.dumps(secret)

    cache = CredentialCache(read, ttl_seconds=60, clock=lambda: clock[0])
    assert cache.find("k1").secret == "s1" and reads == [0.0]
    assert cache.find("k1") and reads == [0.0]
    secret["callers"]["k2"] = {"secret": "s2"}          # onboarded meanwhile
    clock[0] = 2.0
    assert cache.find("k2") is None and reads == [0.0]  # too soon to re-read for an unknown key
    clock[0] = 5.0
    assert cache.find("k2").secret == "s2" and reads == [0.0, 5.0]
    clock[0] = 6.0
    for _ in range(100):                                 # a flood of made-up key ids
        assert cache.find("made-up") is None
    assert reads == [0.0, 5.0]
    clock[0] = 65.0
    cache.find("k1")
    assert reads == [0.0, 5.0, 65.0]


# -- the path as the client sent it -----------------------------------------------------------

def _request(context_path, resource, uri_params=None, query=None, event_path=None):
    event = {"path": event_path} if event_path else {}
    return SimpleNamespace(context={"path": context_path}, path=resource, uri_params=uri_params,
                           query_params=MultiDict(query) if query else None,
                           to_original_event=lambda: event)


def test_the_path_includes_the_stage_behind_api_gateway():
    request = _request("/api/trades/20240301100500000001/pay", "/trades/{trans_id}/pay",
                       {"trans_id": "20240301100500000001"},
                       event_path="/trades/20240301100500000001/pay")
    assert gate.targets(request) == ["/api/trades/20240301100500000001/pay"]


def test_the_path_locally_is_the_route_with_its_parameters():
    request = _request("/accounts/saler1/journal", "/accounts/{saler_id}/journal",
                       {"saler_id": "saler1"})
    assert gate.targets(request) == ["/accounts/saler1/journal"]


@pytest.mark.parametrize("sent", [
    "/j?limit=5&cursor=abc", "/j?cursor=a+b", "/j?cursor=a%20b", "/j?cursor=eyJh%3D%3D",
    "/j?cursor=eyJh==", "/j?cursor=%C3%A9", "/j?cursor=a%2Fb", "/j?cursor=a/b",
])
def test_the_query_string_is_rebuilt_as_clients_encode_it(sent):
    from urllib.parse import parse_qs, urlparse

    parsed = urlparse(sent)
    request = _request("/j", "/j", query=parse_qs(parsed.query, keep_blank_values=True))
    assert sent in gate.targets(request)


# -- through the app ---------------------------------------------------------------------------

def _answer(response):
    """(status, code) in either error shape."""
    body = body_of(response)
    return response.status_code, body.get("error_code", body.get("code"))


def _fill(path: str) -> str:
    return path.replace("{trans_id}", "20240301100500000001")


def _example(op) -> bytes:
    if op.request_examples:
        example = next(iter(op.request_examples.values()))
        body = example[1] if isinstance(example, tuple) else example
    else:
        body = {"sub_mchid": "1900000109", "transaction_id": "4200000001",
                "order_id": "3008450740201411110007820472", "out_order_no": "20240301100000",
                "receiver": {"type": "MERCHANT_ID", "account": "1900000110", "amount": 100,
                             "result": "SUCCESS"}}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


MONEY_ROUTES = [op for op in openapi.operations() if op.method == "POST" and op.signed]
CONTRACT_ROLES = {
    "/pay": "merchant", "/withdraw": "merchant",
    "/subsidies": "business_line", "/subsidies/returns": "business_line",
    "/sharing/orders": "business_line", "/sharing/refunds": "business_line",
    "/sharing/orders/{tradeId}/unfreeze": "business_line",
    "/accounts": "business_line", "/trades": "business_line",
    "/trades/{trans_id}/pay": "business_line",
    "/channel/notifications/transactions": "channel",
    "/channel/notifications/profitsharing": "channel",
}
UNSIGNED = {"/openapi.json", "/docs", "/docs/{asset}"}


def test_every_money_route_is_signed_with_the_contracts_role():
    assert {op.path: op.role for op in MONEY_ROUTES} == CONTRACT_ROLES


def test_unsigned_requests_are_401_exactly_on_the_signed_routes(stack, api):
    """Every route of the app, asked without headers: 401 unless it is one of the few the
    contract leaves open (the docs)."""
    for path, methods in paysettle_routes().items():
        for method in methods:
            target = _fill(path).replace("{", "").replace("}", "")
            response = api.http.request(method, target, headers=JSON, body=b"{}", signed=False)
            if path in UNSIGNED:
                assert response.status_code != 401, (method, path)
            else:
                assert _answer(response) == (401, 4011), (method, path, response.body)


def paysettle_routes():
    import app as paysettle

    return {path: list(entries) for path, entries in paysettle.app.routes.items()}


@pytest.mark.parametrize("op", MONEY_ROUTES, ids=lambda op: op.path)
def test_an_unsigned_or_tampered_money_request_writes_nothing(stack, api, op):
    path, raw = _fill(op.path), _example(op)
    before = stack.snapshot()
    unsigned = api.http.post(path, headers=JSON, body=raw, signed=False)
    assert _answer(unsigned) == (401, 4011), unsigned.body
    headers = dict(JSON, **api.http.headers_for("POST", path, raw))
    tampered = api.http.post(path, headers=headers, body=raw.replace(b"}", b', "x": 1}', 1))
    assert _answer(tampered) == (401, 4012), tampered.body
    elsewhere = api.http.post("/withdraw" if path != "/withdraw" else "/pay", headers=headers,
                              body=raw)
    assert _answer(elsewhere) == (401, 4012)
    assert stack.snapshot() == before
    # Refusals answer in the route's own shape.
    shape = "error_code" if path in ("/pay", "/withdraw") else "code"
    assert shape in body_of(unsigned) and shape in body_of(tampered)


def test_a_signed_pay_goes_through_and_a_replay_of_it_is_4015(stack, api):
    raw = json.dumps(pay_body("saler1")).encode()
    headers = dict(JSON, **api.http.headers_for("POST", "/pay", raw))
    first = api.http.post("/pay", headers=headers, body=raw)
    assert first.status_code == 200 and body_of(first)["response_code"] == "SUCCESS"
    before = stack.snapshot()
    replay = api.http.post("/pay", headers=headers, body=raw)
    assert _answer(replay) == (401, 4015)
    assert body_of(replay)["field"] == "X-Nonce"
    assert stack.snapshot() == before


@pytest.mark.parametrize("key, path, body", [
    (BUSINESS, "/pay", pay_body("saler1")),
    (CHANNEL, "/withdraw", {"request_time": "2019-08-29 17:16:21", "request_id": "20190829171621000001",
                            "withdraw_money": "30", "saler_id": "saler1"}),
    (MERCHANT, "/accounts", {"account_id": "B1", "kind": "B"}),
    (MERCHANT, "/trades", {"trans_id": "20240301100500000001", "buyer_id": "B1", "seller_id": "B2",
                           "cash_amount": 100, "settlement_type": "REALTIME",
                           "payment_mode": "BALANCE"}),
])
def test_a_key_without_the_routes_role_is_403_4031_and_writes_only_its_nonce(stack, api, key, path,
                                                                              body):
    before = stack.snapshot()
    response = api.as_caller(key).post(path, body)
    assert _answer(response) == (403, 4031), response.body
    _assert_only_a_nonce_was_written(stack, before, key)


@pytest.mark.parametrize("key, path, body, field", [
    (MERCHANT, "/pay", pay_body("other1"), "saler_id"),
    (MERCHANT, "/withdraw", {"request_time": "2019-08-29 17:16:21", "request_id": "20190829171621000002",
                             "withdraw_money": "30", "saler_id": "xsaler"}, "saler_id"),
    (BUSINESS, "/accounts", {"account_id": "C1", "kind": "C"}, "account_id"),
    (BUSINESS, "/trades", {"trans_id": "20240301100500000002", "buyer_id": "B1", "seller_id": "X2",
                           "cash_amount": 100, "settlement_type": "REALTIME",
                           "payment_mode": "BALANCE"}, "seller_id"),
])
def test_a_subject_outside_the_keys_scope_is_403_4032_and_writes_only_its_nonce(stack, api, key, path,
                                                                                 body, field):
    before = stack.snapshot()
    response = api.as_caller(key).post(path, body)
    assert _answer(response) == (403, 4032), response.body
    assert body_of(response)["field"] == field
    _assert_only_a_nonce_was_written(stack, before, key)


def test_a_merchant_acts_on_its_own_salers_and_reads_only_their_accounts(stack, api):
    merchant = api.as_caller(MERCHANT)
    assert body_of(merchant.post("/pay", pay_body("saler7")))["response_code"] == "SUCCESS"
    assert merchant.get("/accounts/saler7").status_code in (200, 404)
    assert _answer(merchant.get("/accounts/other7")) == (403, 4032)
    assert _answer(merchant.get("/accounts/other7/journal?limit=5")) == (403, 4032)


def test_the_role_is_checked_before_the_body_is_parsed(stack, api):
    """A key of another role learns nothing about the route's request schema."""
    assert _answer(api.as_caller(CHANNEL).post_raw("/pay", b"{not json")) == (403, 4031)
    assert _answer(api.as_caller(MERCHANT).post_raw("/pay", b"{not json")) == (400, 1002)


def _assert_only_a_nonce_was_written(stack, before, key):
    after = stack.snapshot()
    assert {k: v for k, v in after.items() if k != "NoncesTable"} == \
        {k: v for k, v in before.items() if k != "NoncesTable"}
    new = [json.loads(item) for item in set(after["NoncesTable"]) - set(before["NoncesTable"])]
    assert len(new) == 1 and new[0]["nonce_key"]["S"].startswith(key.key_id + "#")


def test_the_window_edge_through_the_app(stack, api, monkeypatch):
    monkeypatch.setattr(gate, "now", lambda: NOW)
    for offset, expected in ((-300, 404), (300, 404), (-301, 401), (301, 401)):
        headers = api.http.headers_for("GET", "/accounts/nobody", b"", now=NOW + offset)
        response = api.http.get("/accounts/nobody", headers=headers)
        assert response.status_code == expected, (offset, response.body)


def test_the_nonce_item_expires_after_the_window(stack, api):
    headers = api.http.headers_for("GET", "/accounts/nobody", b"")
    api.http.get("/accounts/nobody", headers=headers)
    [item] = stack.scan(stack.tables["NoncesTable"])
    assert item["nonce_key"]["S"] == f"{PLATFORM.key_id}#{headers['X-Nonce']}"
    assert int(item["expires_at"]["N"]) == int(headers["X-Timestamp"]) + WINDOW + nonces.TTL_MARGIN_SECONDS
    ttl = stack.dynamodb.describe_time_to_live(TableName=stack.tables["NoncesTable"])
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_secrets_and_signatures_never_reach_the_logs(stack, api):
    impostor = SigningKey(MERCHANT.key_id, "99" * 32, roles=("merchant",))
    sent = []
    with captured_log_lines() as lines:
        for key in (PLATFORM, MERCHANT, impostor, SigningKey("nobody", "77" * 32)):
            raw = json.dumps(pay_body("saler1")).encode()
            headers = dict(JSON, **signature.signed_headers(key.key_id, key.secret, "POST", "/pay", raw))
            sent.append(headers[signature.SIGNATURE])
            api.http.post("/pay", headers=headers, body=raw)
            api.http.post("/pay", headers=headers, body=raw)       # the replay
    text = json.dumps(lines)
    assert any(line["event"] == "auth.refused" for line in lines)
    for key in CALLERS + (impostor,):
        assert key.secret not in text
    for value in sent:
        assert value not in text


def test_the_cached_credentials_are_dropped_between_tests():
    assert credentials._caches == {}


# -- PATH: the target in canonical form ------------------------------------------------------

@pytest.mark.parametrize("sent", ["/pay/", "//pay", "/pay//", "//pay/"])
def test_the_path_is_signed_in_its_canonical_form(sent):
    """Whatever spelling is sent, PATH is `/pay`: signed so, it verifies; an HMAC over the
    spelling as sent does not (4012). signed_headers applies the canonical form itself."""
    assert signature.canonical_target(sent) == "/pay"
    assert _verify(_signed(path="/pay")).key_id == PLATFORM.key_id
    assert _verify(dataclasses.replace(_signed(path=sent), targets=["/pay"])).key_id == PLATFORM.key_id
    body, nonce, timestamp = b'{"a": 1}', "n" * 16, str(NOW)
    as_sent = hmac.new(PLATFORM.secret.encode(), f"POST\n{sent}\n{timestamp}\n{nonce}\n".encode()
                       + body + b"\n", hashlib.sha256).hexdigest()
    request = SignedRequest(method="POST", targets=["/pay"], body=body, headers={
        signature.KEY_ID: PLATFORM.key_id, signature.TIMESTAMP: timestamp,
        signature.NONCE: nonce, signature.SIGNATURE: as_sent})
    assert _refusal(request).code is ErrorCode.SIGNATURE_INVALID


@pytest.mark.parametrize("target, canonical", [
    ("/", "/"), ("", "/"), ("/api//pay/", "/api/pay"), ("/orders/pay/1?x=a//b", "/orders/pay/1?x=a//b"),
    ("/accounts/s1/journal/?limit=5", "/accounts/s1/journal?limit=5"), ("/pay?", "/pay")])
def test_only_empty_path_segments_are_dropped_and_the_query_stays_as_sent(target, canonical):
    assert signature.canonical_target(target) == canonical
