"""The channel adapter's reading of profit-sharing answers (`classify`, pure): the order's
`state` and the return's `result` are the fields that say it was taken; anything else is
Unknown (re-sent with the same number), never a failure."""
import json

import pytest

from chalicelib.channel.http_adapter import RETURN_RESULTS, SHARING_STATES, classify
from chalicelib.channel.port import Accepted, Rejected, Unknown

ORDER = {"sub_mchid": "1692608207", "transaction_id": "4200", "out_order_no": "1795", "order_id": "3008",
         "state": "PROCESSING", "receivers": []}
RETURN = {"out_return_no": "1796", "out_order_no": "1795", "return_id": "3006", "amount": 10,
          "result": "PROCESSING"}


def _order(status, body):
    return classify(status, json.dumps(body).encode(), ("order_id", "state", "receivers"),
                    {"out_order_no": "1795", "transaction_id": "4200"}, results=SHARING_STATES,
                    result_field="state")


def _return(status, body):
    return classify(status, json.dumps(body).encode(), ("return_id", "result"),
                    {"out_return_no": "1796", "out_order_no": "1795", "amount": 10}, results=RETURN_RESULTS)


@pytest.mark.parametrize("state", ["PROCESSING", "FINISHED"])
def test_an_order_taken_by_the_channel(state):
    assert isinstance(_order(200, dict(ORDER, state=state)), Accepted)


@pytest.mark.parametrize("change", [{"state": "WHATEVER"}, {"order_id": ""}, {"out_order_no": "1797"}])
def test_an_order_answer_that_does_not_answer_us_is_unknown(change):
    assert isinstance(_order(200, dict(ORDER, **change)), Unknown)


@pytest.mark.parametrize("result", ["PROCESSING", "SUCCESS", "FAILED"])
def test_a_return_taken_by_the_channel_whatever_its_result(result):
    assert isinstance(_return(200, dict(RETURN, result=result)), Accepted)


def test_a_return_answer_for_another_amount_is_unknown():
    assert isinstance(_return(200, dict(RETURN, amount=11)), Unknown)


@pytest.mark.parametrize("status, body, kind", [
    (400, {"code": "INVALID_REQUEST", "message": "分账金额超出最大分账比例"}, Rejected),
    (404, {"code": "ORDER_NOT_EXIST", "message": "x"}, Rejected),
    (500, {"code": "SYSTEM_ERROR", "message": "系统繁忙，请稍后再试"}, Unknown),
    (429, {"code": "FREQUENCY_LIMITED", "message": "x"}, Unknown),
])
def test_refusals_and_errors(status, body, kind):
    assert isinstance(_order(status, body), kind)
    assert isinstance(_return(status, body), kind)
