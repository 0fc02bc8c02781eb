"""The one error table, and how refusals are rendered."""
import json
import re

import pytest
from botocore.exceptions import EndpointConnectionError

import app as paysettle
from chalicelib.errors import REENTRY_WORDS, ErrorCode, InvalidField, PaySettleError, ReentryRefused, differing
from chalicelib.http import envelope_error_body, error_body
from tests.unit.support import ROOT, body_of, pay_body


def test_every_error_code_has_a_unique_number_and_an_http_status():
    numbers = [code.number for code in ErrorCode]
    assert len(numbers) == len(set(numbers))
    for code in ErrorCode:
        assert isinstance(code.number, int) and code.number > 0, code
        assert isinstance(code.http_status, int) and 200 <= code.http_status <= 599, code
        assert isinstance(code.message, str) and code.message.strip(), code


def test_the_reentry_code_is_1030_with_the_contract_message():
    assert ErrorCode.REENTRY_MISMATCH.number == 1030
    assert ErrorCode.REENTRY_MISMATCH.http_status == 409
    assert "请求重入参数校验失败" in ErrorCode.REENTRY_MISMATCH.message
    assert ErrorCode.INSUFFICIENT_BALANCE.message == "账户余额不足，提款失败"


@pytest.mark.parametrize("code", list(ErrorCode), ids=lambda c: c.name)
def test_every_code_renders_as_a_contract_style_failure(code):
    body = error_body(PaySettleError(code, field="request_id", detail="explained"))
    assert body["response_code"] == "FAIL"
    assert body["error_code"] == code.number
    assert body["error_name"] == code.name
    assert body["field"] == "request_id"
    assert body["response_msg"] == "request_id: explained"
    json.dumps(body, ensure_ascii=False)


def test_an_invalid_field_names_the_field_in_its_message():
    error = InvalidField("total_fee", "must be greater than zero")
    assert error.code is ErrorCode.INVALID_FIELD
    assert error.field == "total_fee"
    assert error.message.startswith("total_fee")


class _Answer:
    """The HTTP side of an answer a `before-call` handler makes up (botocore reads the status)."""
    status_code, headers, content = 400, {}, b""


def _throttled_call(**_):
    return _Answer(), {"Error": {"Code": "ThrottlingException", "Message": "slow down"},
                       "ResponseMetadata": {"HTTPStatusCode": 400}}


def _unreachable_call(**_):
    raise EndpointConnectionError(endpoint_url="http://dynamodb")


@pytest.mark.parametrize("trouble", [_throttled_call, _unreachable_call],
                         ids=["throttled", "unreachable"])
def test_aws_trouble_is_a_503_busy_answer_not_a_stack_trace(stack, api, monkeypatch, trouble):
    from chalicelib.payments.models.orders import PaymentOrder

    broken = stack.context()
    monkeypatch.setattr(paysettle, "from_environment", lambda tenant=None: broken)
    # Pay's transaction goes through the order model's own client: the trouble is there.
    client = PaymentOrder.low_level_client()
    event = "before-call.dynamodb.TransactWriteItems"
    client.meta.events.register_first(event, trouble, unique_id="aws-trouble")
    try:
        response = api.post("/pay", pay_body())
    finally:
        client.meta.events.unregister(event, trouble, unique_id="aws-trouble")
    assert response.status_code == 503
    answer = body_of(response)
    assert answer["response_code"] == "FAIL"
    assert answer["error_code"] == ErrorCode.BUSY.number
    monkeypatch.undo()
    assert stack.footprint() == {"orders": 0, "ledger": 0, "credit_queue": 0,
                                 "dead_letter_queue": 0}


def test_the_errors_page_explains_every_code_and_no_other():
    """The docs site's error table is generated from errors.py at build time; the page's
    explanations are written by hand, so each code must have one and no stale one may stay."""
    page = (ROOT / "docs" / "api" / "errors.md").read_text(encoding="utf-8")
    explained = re.findall(r"^\* \*\*([A-Z][A-Z0-9_]+)\*\*: ", page, re.M)
    assert sorted(explained) == sorted(code.name for code in ErrorCode)
    assert len(explained) == len(set(explained))
    assert "<!-- generated: error-table -->" in page


def test_a_reentry_refusal_begins_with_the_words_then_names_the_key_and_what_differs():
    refused = ReentryRefused("bizSubsidiesId", "1329128824390000640", differing(
        {"amount": 2332, "mchId": "1800007135", "subMchId": "1"}, {"amount": 100, "mchId": "1800007135"}))
    assert (refused.code.number, refused.code.http_status, refused.field) == (1030, 409, "bizSubsidiesId")
    assert refused.message == ("请求重入参数校验失败: bizSubsidiesId 1329128824390000640 was already used "
                               "with other parameters: amount, subMchId")
    assert error_body(refused)["response_msg"] == refused.message
    assert envelope_error_body(refused)["message"] == refused.message
    assert envelope_error_body(refused)["field"] == "bizSubsidiesId"
    named = ReentryRefused("request_id", "20190829171520000001", ["kind"], was={"kind": "PAY"})
    assert named.message.endswith("was already used with other parameters: kind (was PAY)")


def test_every_reentry_refusal_is_built_by_the_one_builder():
    """No service answers 1030 by hand: each goes through ReentryRefused, so the words, the key and
    the differing parameters come out alike on every API (the payment center and the merchant)."""
    by_hand = []
    for folder in ("chalicelib", "merchant_system/vendor"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name in ("errors.py", "api_docs.py"):
                continue
            text = path.read_text(encoding="utf-8")
            if "ErrorCode.REENTRY_MISMATCH" in text or f'"{REENTRY_WORDS}' in text:
                by_hand.append(str(path.relative_to(ROOT)))
    assert by_hand == []
