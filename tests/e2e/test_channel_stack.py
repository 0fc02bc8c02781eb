"""The local stack runs the channel simulator, lists it, and points CHANNEL_URL at it."""
import json

import pytest
import requests

from infra.local_stack import API_FUNCTION, MERCHANT, LocalStack
from infra.provision import load_template

from .support import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("channel-stack")
    stack = LocalStack(api_port=free_port(), aws_port=free_port(),
                       out_path=workdir / "local-stack.json", api_log=workdir / "api.log")
    with stack:
        yield stack


def test_the_manifest_lists_the_channel_and_it_answers(local_stack):
    manifest = json.loads(local_stack.out_path.read_text())
    url = manifest["channel_url"]
    assert url.startswith("http://127.0.0.1:") and url == local_stack.channel.url
    answer = requests.get(f"{url}/_control/calls", timeout=5)
    assert answer.status_code == 200 and "calls" in answer.json()


def test_the_api_gets_the_simulators_url_as_channel_url(local_stack):
    """Through the template Parameter ChannelUrl, as any function that references it."""
    variables = load_template()["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["CHANNEL_URL"] == {"Ref": "ChannelUrl"}
    environment = local_stack.function_environment(API_FUNCTION).variables
    assert environment["CHANNEL_URL"] == local_stack.channel.url


def test_a_paid_order_notifies_the_api(local_stack):
    """The notification reaches the stack's API (its route comes with the subsidies work:
    until then the API's own refusal comes back in the 502, proving the wiring)."""
    manifest = json.loads(local_stack.out_path.read_text())
    tenant = next(c["merchant_id"] for c in manifest["merchants"] if c["key_id"] == "biz-demo")
    body = {"payment_order_id": "1326216474909544770", "biz_order_id": "1774303629096779780_1",
            "mch_id": "1800007135", "sub_mchid": "1692608207", "amount": 10000, "subsidy_limit": 3000,
            "attach": tenant}
    answer = requests.post(f"{local_stack.channel.url}/_control/orders", json=body, timeout=30)
    assert answer.status_code == 200 or (
        answer.status_code == 502 and "the center answered HTTP" in answer.json()["message"]), answer.text
    assert answer.json()["transaction_id"].startswith("4200")


# -- the callers' credentials: drawn at start, seeded, handed to whoever signs ----------

def test_every_local_caller_has_a_fresh_credential_in_the_manifest(local_stack):
    manifest = json.loads(local_stack.out_path.read_text())
    merchants = {c["key_id"]: c for c in manifest["merchants"]}
    assert set(merchants) == {"mch-demo", "mch-other", "biz-demo", "channel-sim"}
    for credential in merchants.values():
        assert set(credential) == {"key_id", "secret", "merchant_id", "roles", "salers",
                                   "sub_mchs", "accounts"}
        assert len(credential["secret"]) == 64 and int(credential["secret"], 16) >= 0
    assert len({c["secret"] for c in merchants.values()}) == 4
    assert (merchants["mch-demo"]["roles"], merchants["mch-demo"]["salers"]) == (["merchant"], ["*"])
    assert merchants["mch-other"]["salers"] == ["*"]
    # Two tenants: mch-demo and biz-demo share demo's records, mch-other has its own; the
    # channel's key belongs to no tenant.
    assert {k: c["merchant_id"] for k, c in merchants.items()} == {
        "mch-demo": "demo", "biz-demo": "demo", "mch-other": "other", "channel-sim": None}
    assert (merchants["biz-demo"]["sub_mchs"], merchants["biz-demo"]["accounts"]) == (["*"], ["*"])
    assert merchants["channel-sim"]["roles"] == ["channel"]
    # The file holds secrets: its owner alone may read it.
    assert local_stack.out_path.stat().st_mode & 0o077 == 0
    # No committed key: the next start draws others (the draw itself, without a second stack).
    from infra.callers import new_credentials
    assert not {c["secret"] for c in new_credentials()} & {c["secret"] for c in merchants.values()}


def test_both_secrets_are_seeded_in_the_embedded_aws(local_stack):
    secrets = local_stack._client("secretsmanager")
    manifest = local_stack.manifest()
    merchants = {c["key_id"]: c for c in manifest["merchants"]}
    stored = json.loads(secrets.get_secret_value(
        SecretId=manifest["secrets"]["CallerCredentials"])["SecretString"])
    assert set(stored["callers"]) == set(merchants)
    for key_id, entry in stored["callers"].items():
        assert entry == {k: v for k, v in merchants[key_id].items() if k != "key_id"}
    signing = json.loads(secrets.get_secret_value(
        SecretId=manifest["secrets"]["MerchantSigningKey"])["SecretString"])
    assert signing == {"key_id": "mch-demo", "secret": merchants["mch-demo"]["secret"]}


def test_the_api_verifies_with_the_credentials_and_the_merchant_signs_with_its_key(local_stack):
    secrets = local_stack.manifest()["secrets"]
    api = local_stack.function_environment(API_FUNCTION).variables
    assert api["CALLER_CREDENTIALS_SECRET"] == secrets["CallerCredentials"]
    assert "MERCHANT_SIGNING_SECRET" not in api     # the center holds no merchant key
    # The merchant system's own functions: its API (/merchant/* routes) and its resolver.
    merchant_api = local_stack.function_environment(API_FUNCTION, MERCHANT).variables
    assert merchant_api["MERCHANT_SIGNING_SECRET"] == secrets["MerchantSigningKey"]
    assert "CALLER_CREDENTIALS_SECRET" not in merchant_api
    resolver = local_stack.function_environment("merchant_resolver", MERCHANT).variables
    assert resolver["MERCHANT_SIGNING_SECRET"] == secrets["MerchantSigningKey"]  # its re-sends
    # A function that calls nobody gets neither.
    aggregator = local_stack.function_environment("aggregator").variables
    assert "MERCHANT_SIGNING_SECRET" not in aggregator and "CALLER_CREDENTIALS_SECRET" not in aggregator


def test_the_simulator_signs_with_the_channel_credential(local_stack):
    assert local_stack.channel.credential == local_stack.credential("channel-sim")


def test_no_secret_reaches_the_apis_log(local_stack):
    """After the calls above (a notification, the merchant's): the key ids may be logged, never a secret."""
    log = (local_stack.out_path.parent / "api.log").read_text(encoding="utf-8", errors="replace")
    assert log
    for credential in local_stack.credentials:
        assert credential["secret"] not in log
