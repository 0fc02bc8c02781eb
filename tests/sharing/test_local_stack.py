"""The profit-sharing page's walk-through (docs/profit-sharing.md) against the local stack as
`make serve` runs it: the simulator notifies the API of the paid order and of each receiver's
result, a refund notice put on the RefundQueue is handled by the `sharing_refunds` function
through the pump, a partial refund is sent by an operator, and a delayed sharing is executed by
the stack's own `sharing_scheduler`."""
import json
import time

import boto3
import pytest
import requests

from infra.local_stack import LocalStack
from tests.e2e.support import free_port, wait_until
from tests.sharing.support import next_id, refund_notice, sharing_body
from tools.signing import SignedAuth

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sharing-stack")
    stack = LocalStack(api_port=free_port(), aws_port=free_port(),
                       out_path=workdir / "local-stack.json", api_log=workdir / "api.log")
    with stack:
        yield stack


def _tenant(local_stack) -> str:
    """The business line's tenant: its paid orders' attach, its queued refunds' attribute."""
    return local_stack.credential("biz-demo")["merchant_id"]


def _paid(http, channel, order, tenant, amount=10000):
    answer = http.post(f"{channel}/_control/orders", timeout=30, json={
        "payment_order_id": order, "biz_order_id": "1835109860518134549_1", "mch_id": "1800007135",
        "sub_mchid": "1692608207", "amount": amount, "subsidy_limit": 0, "max_sharing_ratio": 0.3,
        "attach": tenant})
    assert answer.status_code == 200, answer.text
    return answer.json()["transaction_id"]


def test_the_walk_through(local_stack):
    api, channel = local_stack.api_url, local_stack.channel.url
    http = requests.Session()
    # The business line's key (the channel's control API ignores the headers).
    http.auth = SignedAuth.from_credential(local_stack.credential("biz-demo"))
    order = next_id("13587585")
    transaction_id = _paid(http, channel, order, _tenant(local_stack))
    shared = http.post(f"{api}/sharing/orders", timeout=30,
                       json=sharing_body(order, [("1900000109", 1000), ("1900000110", 800)]))
    assert shared.status_code == 200 and shared.json()["code"] == 0, shared.text

    def finished():
        data = http.get(f"{api}/sharing/orders/{order}", timeout=10).json()["data"]
        return data if data["state"] == "FINISHED" else None
    assert wait_until(finished, 20, "the receivers settle")["sharedAmount"] == 1800

    # An operator's partial refund (a quarter): 450 back, in proportion.
    partial = http.post(f"{api}/sharing/refunds", timeout=30, json=refund_notice(order, 2500, 10000)).json()
    assert partial["code"] == 0 and partial["data"]["state"] == 1, partial
    assert {r["returnMchId"]: r["amount"] for r in partial["data"]["returns"]} == {"1900000109": 250,
                                                                                 "1900000110": 200}
    # The rest through the queue, as the refund system sends it.
    manifest = local_stack.manifest()
    sqs = boto3.client("sqs", endpoint_url=manifest["aws_endpoint_url"], region_name=manifest["region"],
                       aws_access_key_id="local", aws_secret_access_key="local")
    rest = refund_notice(order, 7500, 10000)
    sqs.send_message(QueueUrl=manifest["queues"]["RefundQueue"], MessageBody=json.dumps(rest),
                     MessageAttributes={"tenant": {"DataType": "String", "StringValue": _tenant(local_stack)}})

    def returned():
        answer = http.get(f"{api}/sharing/refunds/{rest['refundId']}", timeout=10)
        return answer.json()["data"] if answer.status_code == 200 and answer.json()["data"]["state"] == 1 else None
    data = wait_until(returned, 30, "the queued refund is handled")
    assert data["actualBaseReturnAmount"] == 1350
    money = http.get(f"{channel}/_control/orders/{transaction_id}", timeout=5).json()
    assert (money["shared_amount"], money["sharing_returned_amount"]) == (1800, 1800)


def test_a_delayed_sharing_is_executed_by_the_stacks_scheduler(local_stack):
    api, channel = local_stack.api_url, local_stack.channel.url
    http = requests.Session()
    # The business line's key (the channel's control API ignores the headers).
    http.auth = SignedAuth.from_credential(local_stack.credential("biz-demo"))
    order = next_id("13587585")
    _paid(http, channel, order, _tenant(local_stack))
    body = sharing_body(order, [("1900000109", 1000)], sharingMode=2, planSharingTime=int(time.time()) + 3)
    answer = http.post(f"{api}/sharing/orders", timeout=30, json=body).json()
    assert answer["data"]["state"] == "SCHEDULED", answer

    def finished():
        data = http.get(f"{api}/sharing/orders/{order}", timeout=10).json()["data"]
        return data if data["state"] == "FINISHED" else None
    assert wait_until(finished, 40, "the scheduler sends it when due")["sends"] == 1
