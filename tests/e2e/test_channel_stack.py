"""The local stack runs the channel simulator, lists it, and points CHANNEL_URL at it."""
import json

import pytest
import requests

from infra.local_stack import API_FUNCTION, LocalStack
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
    body = {"payment_order_id": "1326216474909544770", "biz_order_id": "1774303629096779780_1",
            "mch_id": "1800007135", "sub_mchid": "1692608207", "amount": 10000, "subsidy_limit": 3000}
    answer = requests.post(f"{local_stack.channel.url}/_control/orders", json=body, timeout=30)
    assert answer.status_code == 200 or (
        answer.status_code == 502 and "the center answered HTTP" in answer.json()["message"]), answer.text
    assert answer.json()["transaction_id"].startswith("4200")
