"""Only signed callers move money, through the stack `make serve` starts.

For every money route: unsigned, a tampered body, a wrong secret, an unknown key, a stale
timestamp, a replayed nonce and a key of another role are refused (401 / 403), and nothing
mentioning the request is written anywhere; balances stay as they were. Another tenant's merchant
naming the same saler id moves only its own tenant's money.
"""
import hashlib
import hmac
import json
import secrets
import time

import pytest
import requests

from chalicelib.auth import signature
from tests.sharing.support import refund_notice, sharing_body
from tests.subsidies.support import MCH_ID, SUB_MCHID, create_body, next_id, return_body

from .support import new_request_id, new_saler, request_time

pytestmark = pytest.mark.e2e

ROLE_KEYS = {"merchant": "mch-demo", "business_line": "biz-demo", "channel": "channel-sim"}
# A key that holds the wrong role for each route's role.
OTHER_ROLE = {"merchant": "biz-demo", "business_line": "mch-demo", "channel": "mch-demo"}
FUNDS = 1_000


def money_routes(saler: str):
    """(role, path, body, the body's unique marker) for each money route, fresh ids each call."""
    rid, order, trans = new_request_id(), next_id("13262164"), new_request_id()
    subsidy = {"bizOrderId": "1774303629096779780_1", "paymentOrderId": order,
               "bizRelOrderId": "1329128496286412800_0", "bizSubsidiesId": next_id("13291288"),
               "paymentSubsidiesId": next_id("13291288")}
    returned = return_body(subsidy, amount="1")
    account = f"acct{trans}"
    return [
        ("merchant", "/pay", {"request_time": request_time(), "request_id": rid, "saler_id": saler,
                              "total_fee": "100"}, rid),
        ("merchant", "/withdraw", {"request_time": request_time(), "request_id": rid,
                                   "saler_id": saler, "withdraw_money": "100"}, rid),
        ("business_line", "/subsidies", create_body(order), order),
        ("business_line", "/subsidies/returns", returned, returned["bizReturnSubsidiesId"]),
        ("business_line", "/sharing/orders", sharing_body(order, [("1900000109", 100)]), order),
        ("business_line", "/sharing/refunds", refund_notice(order, 100, 1000), order),
        ("business_line", "/accounts", {"account_id": account, "kind": "B"}, account),
        ("business_line", "/trades", {"trans_id": trans, "buyer_id": account, "seller_id": "seller1",
                                      "cash_amount": 100, "settlement_type": "REALTIME",
                                      "payment_mode": "BALANCE", "fee_amount": 0}, trans),
        ("business_line", f"/trades/{trans}/pay", {"fee_type": 1, "fee_settlement_type": "REALTIME",
                                                   "pay_mode": "BALANCE", "buyer_fee_amount": 0,
                                                   "trace": trans}, trans),
        ("channel", "/channel/notifications/transactions", {
            "attach": "demo", "payment_order_id": order, "biz_order_id": "1774303629096779780_1", "mch_id": MCH_ID,
            "sub_mchid": SUB_MCHID, "transaction_id": "4200" + order[:15], "openid": "o-e2e",
            "amount": 100, "success_time": "2025-02-21T16:07:41+08:00"}, order),
        ("channel", "/channel/notifications/profitsharing", {
            "sub_mchid": SUB_MCHID, "transaction_id": "4200" + order[:15], "order_id": f"SO{order}",
            "out_order_no": order, "receiver": {"type": "MERCHANT_ID", "account": "1900000109",
                                                "amount": 100, "description": "分账",
                                                "result": "SUCCESS", "detail_id": f"D{order}"}},
         order),
    ]


def _route_id(role: str, path: str) -> str:
    if path.startswith("/trades/"):
        path = "/trades/{id}/pay"
    return f"{role}:{path}"


ROUTES = money_routes("e2e-ids")        # for the test ids only; each test draws fresh ids
IDS = [_route_id(role, path) for role, path, _, _ in ROUTES]


def raw(body: dict) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def post(stack, path: str, data: bytes, headers: dict) -> requests.Response:
    # Plain requests: the test decides every header; no session auth adds its own.
    return requests.post(stack.api + path, data=data, timeout=30,
                         headers={"Content-Type": "application/json", **headers})


def signed(stack, key_id: str, path: str, data: bytes, secret=None, now=None) -> dict:
    secret = secret or stack.credential(key_id)["secret"]
    return signature.signed_headers(key_id, secret, "POST", path, data, now=now)


def mentions(stack, marker: str) -> list:
    """Every stored item, in any table of the stack, whose content names `marker`."""
    dynamodb, found = stack.client("dynamodb"), []
    for table in stack.manifest["tables"].values():
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            found += [(table, item) for item in page["Items"] if marker in json.dumps(item)]
    return found


def tampered(body: dict) -> dict:
    """The same request with its amount changed (or a field added where there is none)."""
    for name in ("total_fee", "withdraw_money", "amount", "cash_amount", "amt"):
        if name in body:
            value = body[name]
            return dict(body, **{name: str(int(value) * 100) if isinstance(value, str) else value * 100})
    return dict(body, kind="C") if "kind" in body else dict(body, tampered=True)


@pytest.fixture(scope="module")
def saler(stack):
    """A saler of mch-demo's with FUNDS on its account, so a withdraw could really move money."""
    saler = new_saler()
    assert stack.pay(saler, str(FUNDS)).status_code == 200
    stack.wait_for_balance(saler, FUNDS)
    return saler


def attacks(stack, role: str, path: str, body: dict):
    """(name, headers, bytes sent, expected status) for one route."""
    key_id, data = ROLE_KEYS[role], raw(body)
    headers = signed(stack, key_id, path, data)
    yield "unsigned", {}, data, 401
    yield "tampered body", headers, raw(tampered(body)), 401
    yield "wrong secret", signed(stack, key_id, path, data, secret=secrets.token_hex(32)), data, 401
    yield "unknown key", signed(stack, "mch-nobody", path, data, secret=secrets.token_hex(32)), data, 401
    yield "stale timestamp", signed(stack, key_id, path, data, now=time.time() - 3600), data, 401
    yield "signature without key id", {k: v for k, v in headers.items() if k != signature.KEY_ID}, data, 401
    yield "another role's key", signed(stack, OTHER_ROLE[role], path, data), data, 403


@pytest.mark.parametrize("index", range(len(ROUTES)), ids=IDS)
def test_a_request_not_signed_by_its_caller_moves_nothing(stack, saler, index):
    role, path, body, marker = money_routes(saler)[index]
    before = stack.account(saler)
    for name, headers, data, expected in attacks(stack, role, path, body):
        answer = post(stack, path, data, headers)
        assert answer.status_code == expected, f"{name}: {answer.status_code} {answer.text}"
    assert mentions(stack, marker) == []
    # No wait needed: the account view counts an accepted pay at once (pending credits are read
    # from the orders), and a withdraw debits in its own transaction.
    assert stack.account(saler) == before


@pytest.mark.parametrize("index", range(len(ROUTES)), ids=IDS)
def test_a_replayed_request_is_refused(stack, index):
    # A saler of its own: the original request really moves its money, no one else's.
    role, path, body, marker = money_routes(new_saler())[index]
    data = raw(body)
    headers = signed(stack, ROLE_KEYS[role], path, data)
    first = post(stack, path, data, headers)
    assert first.status_code not in (401, 403), first.text     # the original got through
    again = post(stack, path, data, headers)
    assert again.status_code == 401, again.text


@pytest.mark.parametrize("path, amount_field", [("/pay", "total_fee"), ("/withdraw", "withdraw_money")])
def test_another_tenants_merchant_with_the_same_saler_id_moves_only_its_own_money(
        stack, saler, path, amount_field):
    """mch-other (tenant other) names mch-demo's saler id: it acts on its own tenant's account of
    that id (a withdraw finds nothing there), and neither tenant sees the other's order."""
    before = stack.account(saler)
    rid = new_request_id()
    data = raw({"request_time": request_time(), "request_id": rid, "saler_id": saler,
                amount_field: "100" if path == "/pay" else "99999999"})
    answer = post(stack, path, data, signed(stack, "mch-other", path, data))
    assert answer.status_code == 200, answer.text
    assert answer.json()["response_code"] == ("SUCCESS" if path == "/pay" else "FAIL")
    order = f"/orders/{path[1:]}/{rid}"
    assert stack.http.get(stack.api + order, timeout=30).status_code == 404     # mch-demo
    theirs = requests.get(stack.api + order, timeout=30, headers=signature.signed_headers(
        "mch-other", stack.credential("mch-other")["secret"], "GET", order, b""))
    assert theirs.status_code == 200 and theirs.json()["request_id"] == rid
    assert stack.account(saler) == before


@pytest.mark.parametrize("sent", ["/pay/", "//pay"])
def test_the_signed_path_is_the_canonical_one_whatever_spelling_is_sent(stack, sent):
    """PATH is signed in canonical form (README, Request signing): `/pay/` and `//pay` are
    signed as `/pay`; an HMAC over the spelling as sent does not verify (4012)."""
    def send(signed_path):
        body = raw({"request_time": request_time(), "request_id": new_request_id(),
                    "saler_id": new_saler(), "total_fee": "100"})
        secret = stack.credential("mch-demo")["secret"]
        timestamp, nonce = str(int(time.time())), signature.new_nonce()
        mac = hmac.new(secret.encode(), f"POST\n{signed_path}\n{timestamp}\n{nonce}\n".encode()
                       + body + b"\n", hashlib.sha256).hexdigest()
        return post(stack, sent, body, {signature.KEY_ID: "mch-demo", signature.TIMESTAMP: timestamp,
                                        signature.NONCE: nonce, signature.SIGNATURE: mac})

    accepted = send("/pay")
    assert accepted.status_code == 200 and accepted.json()["response_code"] == "SUCCESS", accepted.text
    refused = send(sent)
    assert refused.status_code == 401 and refused.json()["error_code"] == 4012, refused.text


def test_mch_other_may_act_on_its_own_salers(stack):
    own = "other-" + new_saler()
    data = raw({"request_time": request_time(), "request_id": new_request_id(), "saler_id": own,
                "total_fee": "100"})
    answer = post(stack, "/pay", data, signed(stack, "mch-other", "/pay", data))
    assert answer.status_code == 200 and answer.json()["response_code"] == "SUCCESS", answer.text


@pytest.mark.parametrize("template", ["/accounts/{saler}", "/accounts/{saler}/journal",
                                      "/orders/pay/20190829171520000001", "/recon/20190829"])
def test_reads_of_money_data_need_a_signature_too(stack, saler, template):
    path = template.format(saler=saler)
    assert requests.get(stack.api + path, timeout=30).status_code == 401
    assert stack.http.get(stack.api + path, timeout=30).status_code in (200, 404)


def test_a_paid_order_sent_from_the_docs_page_without_a_key_is_refused(stack):
    """What Swagger UI's Try-it-out sends for /pay: no signature (the page holds no secret)."""
    rid = new_request_id()
    answer = requests.post(f"{stack.api}/pay", timeout=30, json={
        "request_time": request_time(), "request_id": rid, "saler_id": new_saler(), "total_fee": "100"})
    assert answer.status_code == 401
    assert mentions(stack, rid) == []
