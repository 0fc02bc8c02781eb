"""Unfreezing what a profit sharing left frozen (解冻剩余资金): `unfreeze(ctx, sharing)`,
`schedule(ctx, sharing)`, `view(ctx, sharing)`.

A sharing with `unfreezeOrder` 1 tells the channel to unfreeze the rest itself
(`unfreeze_unsplit`). With `unfreezeOrder` 2 the rest stays frozen until the center calls the
channel's unfreeze (`POST /v3/profitsharing/orders/unfreeze`), either when the business line asks
(`POST /sharing/orders/{tradeId}/unfreeze`) or, at the latest, `unfreeze_after_seconds` after the
sharing became final (the sharing scheduler, through a `SHARING_UNFREEZE` follow marker
`FOLLOW#<unfreeze key>` whose `record` is the sharing's key).

One unfreeze per sharing order: a reentry record `T#<tenant>#UNFREEZE#<tradeId>#<paymentOrderId>`
whose outbound number is the unfreeze's own out_order_no (never the sharing's: the channel keeps
the two kinds of numbers apart). Asked twice, by the route and the scheduler, or re-sent after an
unknown outcome: the same record, the same number, at most one accepted channel call.

Only a sharing that is over may be unfrozen (FINISHED: every receiver final; or REJECTED /
CANCELLED: nothing was shared): unfreezing earlier would make the channel refuse the sharing
still on its way. A sharing still scheduled, being sent, unknown or with PENDING receivers is
3006; a sharing with `unfreezeOrder` 1 was unfrozen by the channel, and is answered so.
"""
import logging
from typing import Dict, List, Optional

from pynamodb.exceptions import PutError

from ..data.transactions import Delete, Write
from ..dynamo import condition_failed
from ..errors import ErrorCode
from ..logs import log
from ..reentry import FAILED, NEEDS_ATTENTION, SUCCEEDED, UNKNOWN, Record
from ..reentry.record import fingerprint
from .models import FollowMarker, SharingUnfreeze
from .common import SharingError, accepted_outcome, drive, follow_at
from .context import SHARING, SHARING_UNFREEZE, Sharing

NUMBER_FIELD = "out_order_no"
DESCRIPTION = "解冻全部剩余资金"
OVER = ("FINISHED", "REJECTED", "CANCELLED")      # sharing states after which the rest may go back
BY_SHARING = "UNFROZEN_BY_SHARING"                # unfreezeOrder 1: the channel unfroze it itself


def _pk(sharing: Record) -> str:
    extra = sharing.extra
    return SharingUnfreeze.key(extra["tenant"], extra["trade_id"], extra["payment_order_id"])


def marker_key(sharing: Record) -> str:
    return FollowMarker.key(_pk(sharing))


def schedule(ctx: Sharing, sharing: Record) -> None:
    """The scheduled unfreeze of a final sharing with unfreezeOrder 2: a follow marker due
    `unfreeze_after_seconds` from now; written once, and not once the unfreeze is done."""
    done = ctx.store(SHARING_UNFREEZE).get(_pk(sharing))
    if done is not None and done.state == SUCCEEDED:
        return
    # The marker is keyed by the unfreeze (one per sharing) and names the sharing it follows.
    marker = FollowMarker(marker_key(sharing), record=sharing.pk, follow_kind=SHARING_UNFREEZE,
                          follow_at=follow_at(ctx, ctx.unfreeze_after_seconds))
    try:
        marker.save(condition=FollowMarker.pk.does_not_exist())
    except PutError as error:
        if not condition_failed(error):
            raise
        return
    log("sharing_unfreeze.scheduled", trade_id=sharing.extra["trade_id"],
        payment_order_id=sharing.extra["payment_order_id"], after_seconds=ctx.unfreeze_after_seconds)


def _effects(marker_pk: str):
    def effects(before, after, outbound_no, outcome) -> List[Write]:
        if after == SUCCEEDED:       # done: the scheduled unfreeze has nothing left to do
            return [Delete(FollowMarker(marker_pk))]
        return []
    return effects


def _mismatch(stored: Record) -> SharingError:      # the request is fixed by the sharing
    return SharingError(ErrorCode.BUSY, detail=f"{stored.pk}: stored with another request")


def _refused(outcome) -> SharingError:
    return SharingError(ErrorCode.BUSY, detail="the unfreeze could not be recorded; retry")


def unfreeze(ctx: Sharing, sharing: Record) -> Dict:
    """Unfreeze the rest of this sharing order (reentrant on its own outbound number)."""
    from .orders import sharing_state
    if sharing.extra.get("params", {}).get("unfreezeOrder") != 2:
        return _data(sharing, None)
    state = sharing_state(sharing)
    if state not in OVER:
        raise SharingError(ErrorCode.SHARING_IN_PROGRESS, field="tradeId",
                           detail=(f"the profit sharing is {state}; what it leaves frozen is unfrozen "
                                   "once it is FINISHED"))
    store = ctx.store(SHARING_UNFREEZE)
    pk = _pk(sharing)
    request = {"sub_mchid": sharing.extra["sub_mchid"],
               "transaction_id": sharing.extra["transaction_id"], "description": DESCRIPTION}
    fingerprint_ = fingerprint({"sharing": sharing.pk, **request})
    attributes = {"tenant": sharing.extra["tenant"], "sharing_pk": sharing.pk,
                  "trade_id": sharing.extra["trade_id"],
                  "payment_order_id": sharing.extra["payment_order_id"]}
    effects = _effects(marker_key(sharing))

    def claim():
        return store.claim(pk, pk, fingerprint_, request, NUMBER_FIELD, attributes, effects)

    record = drive(ctx, store, claim, send(ctx), effects, _mismatch, _refused)
    log("sharing_unfreeze.answered", trade_id=sharing.extra["trade_id"],
        payment_order_id=sharing.extra["payment_order_id"], outbound_no=record.outbound_no,
        state=record.state, sends=record.sends)
    return answer(sharing, record)


def send(ctx: Sharing):
    return lambda record: accepted_outcome(ctx.channel.unfreeze_sharing(record.request))


def _state(record: Optional[Record]) -> str:
    if record is None:
        return "FROZEN"
    if record.state == SUCCEEDED:
        return "UNFROZEN"
    if record.state == FAILED:
        return "REJECTED"
    if record.state in (UNKNOWN, NEEDS_ATTENTION):
        return "UNKNOWN"
    return "SENDING"


def _data(sharing: Record, record: Optional[Record], scheduled_at: str = "") -> Dict:
    if sharing.extra.get("params", {}).get("unfreezeOrder") != 2:
        return {"tradeId": sharing.extra["trade_id"], "paymentOrderId": sharing.extra["payment_order_id"],
                "sharingOrderId": sharing.outbound_no, "state": BY_SHARING, "unfreezeOrderNo": "",
                "wxUnfreezeOrderId": "", "scheduledAt": "", "sends": 0, "channelFailure": None}
    return {"tradeId": sharing.extra["trade_id"], "paymentOrderId": sharing.extra["payment_order_id"],
            "sharingOrderId": sharing.outbound_no, "state": _state(record),
            "unfreezeOrderNo": record.outbound_no if record else "",
            "wxUnfreezeOrderId": (record.result or {}).get("order_id", "") if record else "",
            "scheduledAt": scheduled_at, "sends": record.sends if record else 0,
            "channelFailure": record.failure if record else None}


def answer(sharing: Record, record: Record) -> Dict:
    body = _data(sharing, record)
    if record.state == FAILED:
        failure = record.failure or {}
        raise SharingError(ErrorCode.CHANNEL_REJECTED,
                           detail=f"channel rejected the unfreeze: {failure.get('code')} {failure.get('message')}",
                           data={**body, "channelCode": failure.get("code"),
                                 "channelMessage": failure.get("message")})
    if record.state in (UNKNOWN, NEEDS_ATTENTION):
        raise SharingError(ErrorCode.OUTCOME_UNKNOWN,
                           detail=(f"the channel's answer for unfreeze {record.outbound_no} is unknown "
                                   f"({record.last_error or record.state}); retry: the same number is "
                                   "sent again"), data=body)
    return body


def view(ctx: Sharing, sharing: Record) -> Dict:
    """The unfreeze of a sharing as recorded (FROZEN with `scheduledAt` while only scheduled)."""
    if sharing.extra.get("params", {}).get("unfreezeOrder") != 2:
        return _data(sharing, None)
    record = ctx.store(SHARING_UNFREEZE).get(_pk(sharing))
    try:
        at = FollowMarker.get(marker_key(sharing), consistent_read=True).follow_at
    except FollowMarker.DoesNotExist:
        at = ""
    return _data(sharing, record, at)


def follow(ctx: Sharing, sharing_pk: str) -> bool:
    """The scheduler's due unfreeze: True when nothing is left to do (unfrozen, or refused by
    the channel: logged, left for an operator), False to come back later."""
    sharing = ctx.store(SHARING).get(sharing_pk)
    if sharing is None:
        return True
    try:
        unfreeze(ctx.for_tenant(sharing.extra["tenant"]), sharing)
    except SharingError as error:
        if error.code == ErrorCode.CHANNEL_REJECTED:
            log("sharing_unfreeze.rejected", level=logging.WARNING, trade_id=sharing.extra["trade_id"],
                payment_order_id=sharing.extra["payment_order_id"], detail=error.message)
            return True
        if error.code in (ErrorCode.OUTCOME_UNKNOWN, ErrorCode.REENTRY_IN_PROGRESS,
                          ErrorCode.SHARING_IN_PROGRESS, ErrorCode.BUSY):
            return False
        raise
    return True


__all__ = ["unfreeze", "schedule", "view", "follow"]
