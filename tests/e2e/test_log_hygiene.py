"""What a real run writes to its logs keeps no secret, no signature and no account number.

A stack of its own is started the way `make serve` starts it; everything every part of it
writes (the stack itself, the pump and the functions it runs, the channel simulator, the
payment link, and `chalice local`'s stdout and stderr) goes to one file. Pays and withdraws go
through the merchant system (its own API's `/merchant/pay`, which signs its calls to the API once callers
sign) and directly with a signature; a profit sharing names a receiver whose account is
card-shaped. Then the file is read whole.

What counts as an account number: a run of 12 or more digits in a field that names where money
is kept (a sharing receiver's account, a sub-merchant, an account of the books: the fields of
`chalicelib.logs.ACCOUNT_FIELDS`). WeChat's merchant ids (10 digits) are shorter and may be
logged. Order and transaction ids (request_id: 20 digits, payment order ids, the channel's
transaction ids) are long digit strings too, but name a transaction, not an account: they are
what an operator searches the logs for, and are allowed.
"""
import json
import re
import secrets

import pytest
import requests

from chalicelib.auth import signature
from chalicelib.logs import ACCOUNT_FIELDS
from tests.sharing.support import next_id, sharing_body
from tools.signing import SignedAuth

from .support import new_request_id, new_saler, request_time, start_stack, stop_stack, wait_until

pytestmark = pytest.mark.e2e

# A receiver account shaped like a bank card number (19 digits).
CARD_ACCOUNT = "6222021234567890123"
LONG_DIGITS = re.compile(r"(?<![0-9])[0-9]{12,}(?![0-9])")
HEX_64 = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])")
# Lines other people's code writes in the stack's output, as they are; everything else must
# be one of our JSON events.
FOREIGN_LINES = (
    re.compile(r'^127\.0\.0\.1 - - \[[^]]+\] "[A-Z]+ /[^ "]* HTTP/1\.[01]" [0-9]{3} [-0-9]+$'),  # chalice local
    re.compile(r"^Serving on http://127\.0\.0\.1:[0-9]+$"),                                      # chalice local
    re.compile(r"^Found (credentials|endpoint for [a-z0-9]+ via: [a-z_]+)"),                    # botocore
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("log-hygiene"))
    try:
        yield stack
    finally:
        stop_stack(stack)


def _credential(manifest: dict, role: str) -> dict:
    """The stack's credential for `role` that may act for every saler / sub-merchant."""
    for entry in manifest["merchants"]:
        if role in entry.get("roles", []) and "*" in " ".join(entry.get("salers", []) + entry.get("sub_mchs", [])):
            return entry
    raise AssertionError(f"the stack lists no {role} credential with a '*' scope")


def _sent_signature(answer: requests.Response) -> str:
    return answer.request.headers[signature.SIGNATURE]


def test_the_logs_of_a_run_hold_no_secret_signature_or_account_number(run):
    manifest = run.manifest
    merchant, business = _credential(manifest, "merchant"), _credential(manifest, "business_line")
    signed = requests.Session()
    signed.auth = SignedAuth.from_credential(merchant)
    plain = requests.Session()
    signatures, seen = [], []          # what went over the wire: signatures, and every answer

    def call(session, method, url, **kwargs):
        answer = session.request(method, url, timeout=30, **kwargs)
        if signature.SIGNATURE in answer.request.headers:
            signatures.append(_sent_signature(answer))
        seen.append(answer.text)
        return answer

    # Through the merchant system: it makes the request ids and signs its own calls.
    saler = new_saler()
    paid = call(plain, "POST", f"{run.merchant_api}/merchant/pay", json={"saler_id": saler, "total_fee": "120"})
    assert paid.status_code == 200 and paid.json()["state"] == "SUCCESS", paid.text
    # Directly, signed as the merchant.
    direct = call(signed, "POST", f"{run.api}/pay", json={
        "request_time": request_time(), "request_id": new_request_id(), "saler_id": saler, "total_fee": "5"})
    assert direct.status_code == 200, direct.text

    def settled():
        answer = call(signed, "GET", f"{run.api}/accounts/{saler}")
        account = answer.json() if answer.status_code == 200 else {}
        return account.get("balance") == 125 and account.get("pending_credit_count") == 0
    wait_until(settled, 30, "both pays credited")
    withdrawn = call(plain, "POST", f"{run.merchant_api}/merchant/withdraw", json={"saler_id": saler, "withdraw_money": "20"})
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "SUCCESS", withdrawn.text
    # A signature made with a wrong secret: refused once the API checks signatures; its secret
    # and signature must not show up in the refusal's log line either.
    wrong_secret = secrets.token_hex(32)
    forged = requests.Session()
    forged.auth = SignedAuth(merchant["key_id"], wrong_secret)
    call(forged, "POST", f"{run.api}/withdraw", json={
        "request_time": request_time(), "request_id": new_request_id(), "saler_id": new_saler(),
        "withdraw_money": "1"})

    # A profit sharing to a card-shaped receiver account, settled by the simulator's notices.
    sharer = requests.Session()
    sharer.auth = SignedAuth.from_credential(business)
    order = next_id("13587585")
    channel = manifest["channel_url"]
    notice = call(plain, "POST", f"{channel}/_control/orders", json={
        "payment_order_id": order, "biz_order_id": "1835109860518134549_1", "mch_id": "1800007135",
        "sub_mchid": "1692608207", "amount": 10000, "subsidy_limit": 0, "max_sharing_ratio": 0.3,
        "attach": business["merchant_id"]})
    assert notice.status_code == 200, notice.text
    shared = call(sharer, "POST", f"{run.api}/sharing/orders",
                  json=sharing_body(order, [(CARD_ACCOUNT, 1000), ("1900000110", 800)]))
    assert shared.status_code == 200 and shared.json()["code"] == 0, shared.text

    polls = []

    def finished():
        answer = call(sharer, "GET", f"{run.api}/sharing/orders/{order}")
        polls.append(answer)
        return answer.status_code == 200 and answer.json()["data"]["state"] == "FINISHED"
    wait_until(finished, 30, "the receivers' results are in")
    # chalice local writes a request's access-log line after its answer: wait for the last one.
    wait_until(lambda: run.log_text().count(f'"GET /sharing/orders/{order} HTTP') >= len(polls),
               10, "the last access-log line is written")

    text = run.log_text()
    forbidden = {"a credential's secret": [m["secret"] for m in manifest["merchants"]]
                 + [merchant["secret"], business["secret"], wrong_secret],
                 "a signature": signatures,
                 "a card-shaped account number": [CARD_ACCOUNT]}
    assert signatures and all(len(s) == 64 for s in signatures)
    for what, values in forbidden.items():
        for value in values:
            assert value not in text, f"the logs hold {what}"
    # Signatures the merchant system made, which this test never sees, and any other secret:
    # nothing of the form of a secret or a signature may be logged at all.
    assert not HEX_64.findall(text), "the logs hold a 64-hex-digit string (a secret or a signature)"

    # Every line is one of our JSON events or a known line of someone else's code; no account
    # field of an event holds a full account number.
    known_ids = {m for answer in seen for m in LONG_DIGITS.findall(answer)} - {CARD_ACCOUNT}
    events = 0
    for line in text.splitlines():
        if not line.startswith("{"):
            assert any(p.match(line) for p in FOREIGN_LINES), f"not a JSON event: {line!r}"
            # A digit run in a URL is an id the test used, never an account.
            assert set(LONG_DIGITS.findall(line)) <= known_ids, line
            continue
        event = json.loads(line)
        assert {"ts", "level", "event"} <= set(event), line
        events += 1
        for name, value in _fields(event):
            if name in ACCOUNT_FIELDS:
                assert not LONG_DIGITS.search(str(value)), f"full account number in {name}: {line}"
    assert events > 10
    # The masked receiver is still told apart from the other one.
    assert "*" * 15 + CARD_ACCOUNT[-4:] in text


def _fields(value, name=None):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _fields(inner, key)
    elif isinstance(value, list):
        for inner in value:
            yield from _fields(inner, name)
    else:
        yield name, value
