"""The channel's profit-sharing notices (`POST /channel/notifications/profitsharing`), one per
receiver; and refund notices from the SQS queue."""
import logging

from ..errors import ErrorCode
from ..logs import log
from ..schemas import parse
from . import orders, refunds
from .common import SharingError
from .context import Sharing
from .messages import RefundNotification, SharingNotification


def profitsharing(ctx: Sharing, notice: SharingNotification) -> str:
    record = orders.by_outbound_no(ctx, notice.out_order_no)
    if record is None or record.request.get("transaction_id") != notice.transaction_id:
        raise SharingError(ErrorCode.SHARING_NOT_FOUND, field="out_order_no",
                           detail="no profit sharing of ours has this out_order_no and transaction_id")
    before = record.extra["results"].get(notice.receiver.account, {}).get("result")
    body = {"order_id": notice.order_id, "success_time": notice.success_time,
            "receiver": notice.receiver.model_dump()}
    after = orders.apply_results(ctx, record, body).extra["results"].get(notice.receiver.account, {})
    recorded = before == orders.PENDING and after.get("result") != orders.PENDING
    return "recorded" if recorded else "replayed"


def handle_sqs_event(ctx: Sharing, event: dict) -> dict:
    """Each record a refund notice. A notice that cannot be handled now (sharing in progress,
    contention, the channel's answer lost) raises: SQS re-delivers it, and after the queue's
    maxReceiveCount it sits in the dead-letter queue (alarmed). Nothing is half-done: every
    step is idempotent on the refund's records."""
    handled = 0
    for message in event.get("Records", []):
        body = message.get("body", "")
        notice = parse(RefundNotification, body.encode("utf-8") if isinstance(body, str) else body,
                       max_bytes=16384)
        try:
            answer = refunds.handle(ctx, notice)
        except SharingError as error:
            log("sharing_refund.not_handled", level=logging.WARNING, refund_id=notice.refundId,
                code=error.code.name, detail=error.message)
            raise
        log("sharing_refund.handled", refund_id=notice.refundId, state=answer["state"],
            actual_base_return_amount=answer["actualBaseReturnAmount"])
        handled += 1
    return {"handled": handled}
