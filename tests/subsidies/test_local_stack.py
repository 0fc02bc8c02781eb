"""The walk-through of the marketing-subsidies page (docs/subsidies.md) against the local stack
as `make serve` runs it: the channel simulator notifies the API, a lost answer is resolved by the
stack's own subsidy_sweeper (its function, environment and schedule from the template), a re-send
replays, a return goes through."""
import pytest
import requests

from infra.local_stack import LocalStack
from tests.e2e.support import free_port, wait_until
from tests.subsidies.support import create_body, next_id, return_body
from tools.signing import SignedAuth

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("subsidy-stack")
    stack = LocalStack(api_port=free_port(), aws_port=free_port(),
                       out_path=workdir / "local-stack.json", api_log=workdir / "api.log")
    with stack:
        yield stack


def test_the_walk_through(local_stack):
    api, channel = local_stack.api_url, local_stack.channel.url
    http = requests.Session()
    # The business line's key (the channel's control API ignores the headers).
    http.auth = SignedAuth.from_credential(local_stack.credential("biz-demo"))
    payment_order_id = next_id("13262164")
    # Placed for the business line's tenant: the notice's attach files it under that tenant.
    paid = http.post(f"{channel}/_control/orders", timeout=30, json={
        "payment_order_id": payment_order_id, "biz_order_id": "1774303629096779780_1",
        "mch_id": "1800007135", "sub_mchid": "1692608207", "amount": 10000, "subsidy_limit": 5000,
        "attach": local_stack.credential("biz-demo")["merchant_id"]})
    assert paid.status_code == 200, paid.text                  # the API acknowledged the notice

    body = create_body(payment_order_id)
    # The answer is withheld longer than the API's channel timeout (5 s): UNKNOWN.
    http.post(f"{channel}/_control/faults", timeout=5, json={
        "operation": "subsidies.create", "fault": "timeout_after_commit", "count": 1, "delay_ms": 6500})
    lost = http.post(f"{api}/subsidies", json=body, timeout=30)
    assert lost.status_code == 504 and lost.json()["code"] == 5041, lost.text
    number = lost.json()["data"]["paymentSubsidiesId"]

    def resolved():
        view = http.get(f"{api}/subsidies/{body['bizSubsidiesId']}", timeout=10).json()["data"]
        return view if view["state"] == "SUCCEEDED" else None
    view = wait_until(resolved, 40, "the subsidy sweeper resolves the lost answer")
    assert view["sweeps"] >= 1 and view["paymentSubsidiesId"] == number

    again = http.post(f"{api}/subsidies", json=body, timeout=30).json()
    assert again["code"] == 0 and again["data"]["proxyChannelSubsidiesId"] == view["proxyChannelSubsidiesId"]
    calls = http.get(f"{channel}/_control/calls", timeout=5).json()["calls"]
    assert [(c["outbound_no"], c["outcome"]) for c in calls] == [(number, "APPLIED"), (number, "REPLAYED")]

    http.post(f"{channel}/_control/faults", timeout=5, json={
        "operation": "subsidies.return", "fault": "system_error", "count": 1})
    back = return_body(again["data"], amount="2332")
    assert http.post(f"{api}/subsidies/returns", json=back, timeout=30).json()["code"] == 5041
    done = http.post(f"{api}/subsidies/returns", json=back, timeout=30).json()
    assert done["code"] == 0, done
    money = http.get(f"{channel}/_control/orders/{paid.json()['transaction_id']}", timeout=5).json()
    assert money["subsidy"]["out_subsidy_no"] == number and money["returned_amount"] == 2332
