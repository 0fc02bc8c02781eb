"""The channel's profit-sharing notices (`POST /channel/notifications/profitsharing`), one per
receiver; and refund notices from the SQS queue.

Tenants: a profit-sharing notice is found by its out_order_no, unique across every tenant, and
must match that sharing's transaction_id and sub_mchid: it reaches the one tenant that sent the
order, never another. A refund notice on the queue carries its tenant in the message attribute
`tenant` (String), set by whoever enqueues it for that tenant; the channel's JSON body stays as is.
A message without it is refused (an ERROR log line, then SQS re-delivers it until the
dead-letter queue holds it): a refund is never filed under a guessed tenant."""
import logging

from ..errors import ErrorCode, InvalidField
from ..logs import log
from ..schemas import parse
from . import orders, refunds
from .common import SharingError
from .context import Sharing
from .messages import RefundNotification, SharingNotification


TENANT_ATTRIBUTE = "tenant"


def message_tenant(message: dict) -> str:
    """The tenant a queued refund notice belongs to (its `tenant` message attribute); refused,
    and logged, when it has none: the message goes back to the queue, then to the dead letters."""
    attribute = (message.get("messageAttributes") or {}).get(TENANT_ATTRIBUTE) or {}
    tenant = attribute.get("stringValue") if isinstance(attribute, dict) else None
    if not isinstance(tenant, str) or not tenant or len(tenant) > 64 or not tenant.isprintable():
        log("sharing_refund.no_tenant", level=logging.ERROR, message_id=message.get("messageId"))
        raise InvalidField(TENANT_ATTRIBUTE, "the queued refund notice names no tenant "
                                             "(message attribute 'tenant'); it is not handled")
    return tenant


def profitsharing(ctx: Sharing, notice: SharingNotification) -> str:
    record = orders.by_outbound_no(ctx, notice.out_order_no)
    if (record is None or record.request.get("transaction_id") != notice.transaction_id
            or record.request.get("sub_mchid") != notice.sub_mchid):
        raise SharingError(ErrorCode.SHARING_NOT_FOUND, field="out_order_no",
                           detail=("no profit sharing of ours has this out_order_no, transaction_id "
                                   "and sub_mchid"))
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
        tenant = message_tenant(message)
        body = message.get("body", "")
        notice = parse(RefundNotification, body.encode("utf-8") if isinstance(body, str) else body,
                       max_bytes=16384)
        try:
            answer = refunds.handle(ctx.for_tenant(tenant), notice)
        except SharingError as error:
            log("sharing_refund.not_handled", level=logging.WARNING, tenant=tenant, refund_id=notice.refundId,
                code=error.code.name, detail=error.message)
            raise
        log("sharing_refund.handled", tenant=tenant, refund_id=notice.refundId, state=answer["state"],
            actual_base_return_amount=answer["actualBaseReturnAmount"])
        handled += 1
    return {"handled": handled}

