"""The RefundQueue's handler: a notice that cannot be handled yet raises (SQS re-delivers it,
then the dead-letter queue), a handled one is idempotent on re-delivery."""
import json

import pytest

from chalicelib.errors import ErrorCode, PaySettleError
from chalicelib.sharing import notifications, orders, refunds, scheduler
from chalicelib.sharing.messages import SharingRequest
from tests.sharing.support import next_id, refund_notice, sharing_body, wait_until
from tests.support.signing import PLATFORM


def _event(body, tenant: str = PLATFORM.merchant_id) -> dict:
    """One queued refund notice of `tenant` (its message attribute, as the producer sets it)."""
    return {"Records": [{"messageId": "m1", "body": body if isinstance(body, str) else json.dumps(body),
                         "messageAttributes": {"tenant": {"stringValue": tenant, "dataType": "String"}}}]}


def test_pending_sharing_raises_for_redelivery_then_is_handled_once(ctx, channel):
    order = next_id("13587585")
    channel.paid(order, processing_ms=400)
    orders.share(ctx, SharingRequest.model_validate(sharing_body(order, [("1900000109", 1000)])))
    notice = refund_notice(order, 10000, 10000)
    with pytest.raises(PaySettleError) as raised:
        notifications.handle_sqs_event(ctx, _event(notice))
    assert raised.value.code == ErrorCode.SHARING_IN_PROGRESS
    with pytest.raises(PaySettleError):
        refunds.view(ctx, notice["refundId"])                       # nothing written
    assert wait_until(lambda: scheduler.run(ctx) and orders.view(ctx, order)["state"] == "FINISHED",
                      timeout=5, step=0.1)
    assert notifications.handle_sqs_event(ctx, _event(notice)) == {"handled": 1}
    assert notifications.handle_sqs_event(ctx, _event(notice)) == {"handled": 1}     # re-delivered
    assert refunds.view(ctx, notice["refundId"])["state"] == 1
    assert len(channel.calls_of("profitsharing.return-orders")) == 1


def test_a_malformed_notice_raises_naming_the_field(ctx):
    with pytest.raises(PaySettleError) as raised:
        notifications.handle_sqs_event(ctx, _event({"refundId": "1"}))
    assert raised.value.code == ErrorCode.INVALID_FIELD and raised.value.field
    with pytest.raises(PaySettleError):
        notifications.handle_sqs_event(ctx, _event("not json"))
