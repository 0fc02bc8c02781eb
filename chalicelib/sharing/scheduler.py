"""The scheduled `sharing_scheduler`: everything that moves profit sharing forward by itself.

Each run, bounded by `scheduler_max_records` and a time budget (no channel call is started that
could end after `scheduler_budget_seconds`):
1. due sharing records of the reentry `open` index: delayed sharings whose planSharingTime has
   come, UNKNOWN ones (re-sent, same sharingOrderId), stale leases; a record the scheduler has
   re-sent `scheduler_max_tries` times without an answer is given up: NEEDS_ATTENTION, out of
   the index, one ERROR log line and one CloudWatch metric line (`PaySettle/Sharing`
   `NeedsAttention`); the business line's (or an operator's) re-send still re-sends it;
2. due return records of the same index (re-sent, same sharingReturnNo);
3. due `follow` markers: a sharing with PENDING receivers is queried
   (`GET /v3/profitsharing/orders/{out_order_no}`), a PROCESSING return is queried
   (`GET /v3/profitsharing/return-orders/{out_return_no}`), a relation whose returns are not
   all final is continued, and a final sharing with unfreezeOrder 2 whose scheduled unfreeze is
   due is unfrozen (chalicelib/sharing/unfreeze.py: the same record and outbound number as an
   unfreeze the business line asked for). A marker not yet resolved is pushed
   `follow_after_seconds` on.
Notifications may have settled a result first: every write is conditional on PENDING /
PROCESSING, so a final state never moves.
"""
import logging
from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import UpdateError

from .. import clock
from ..channel import port
from ..dynamo import condition_failed
from ..logs import count_metric, log
from ..reentry import NEEDS_ATTENTION_METRIC, Claimed, LeaseLost, SUCCEEDED, attempt
from . import orders, refunds, unfreeze
from ..reentry.models import to_value
from .models import FollowMarker, SharingReturn
from .context import SHARING, SHARING_RETURN, SHARING_UNFREEZE, Sharing

PAGE_SIZE = 25


METRIC_NAMESPACE = "PaySettle/Sharing"


@dataclass
class SchedulerReport:
    examined: int = 0
    sent: int = 0
    needs_attention: int = 0
    followed: int = 0
    settled: int = 0
    skipped: int = 0
    stopped: str = "done"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _budget_left(ctx: Sharing, started: float, report: SchedulerReport) -> bool:
    if report.examined >= ctx.scheduler_max_records:
        report.stopped = "max_records"
        return False
    if ctx.monotonic() - started + getattr(ctx.channel, "call_seconds", 0) > ctx.scheduler_budget_seconds:
        report.stopped = "time_budget"
        return False
    return True


def _send_due(ctx: Sharing, kind: str, started: float, report: SchedulerReport) -> None:
    store = ctx.store(kind)
    cursor = None
    while True:
        records, cursor = store.due(PAGE_SIZE, cursor)
        for candidate in records:
            if not _budget_left(ctx, started, report):
                return
            report.examined += 1
            record = store.get(candidate.pk)
            if record is None or record.final:
                report.skipped += 1
                continue
            if record.sweeps >= ctx.scheduler_max_tries and record.sends:
                _give_up(ctx, store, record, report)
                continue
            if kind == SHARING:
                effects, send = orders.effects_for(ctx, record), orders.send(ctx)
            else:
                effects, send = refunds.return_effects(ctx, record.pk), refunds.send_return(ctx)
            number = orders.NUMBER_FIELD if kind == SHARING else refunds.NUMBER_FIELD
            claimed = store.claim(record.pk, record.reentry_key, record.fingerprint, record.request,
                                  number, effects=effects, sweep=True)
            if not isinstance(claimed, Claimed):
                report.skipped += 1
                continue
            finished = attempt(store, claimed.record, send, effects)
            report.sent += 1
            if not isinstance(finished, LeaseLost) and finished.record.state == SUCCEEDED:
                if kind == SHARING:
                    orders.apply_results(ctx, finished.record, finished.record.result or {})
                else:
                    relation = refunds.get_relation(ctx, finished.record.extra["relation_pk"])
                    if relation:
                        refunds.settle(ctx, relation)
            log("sharing_scheduler.sent", kind=kind, pk=record.pk, outbound_no=record.outbound_no,
                before=record.state, after=finished.record.state)
        if not cursor:
            return


def _give_up(ctx: Sharing, store, record, report: SchedulerReport) -> None:
    given = store.give_up(record, f"still {record.state} after {record.sweeps} scheduler tries: "
                                  f"{record.last_error or ''}".strip())
    if isinstance(given, LeaseLost):
        report.skipped += 1
        return
    report.needs_attention += 1
    log("sharing_scheduler.needs_attention", level=logging.ERROR, kind=record.kind, pk=record.pk,
        outbound_no=record.outbound_no, sends=record.sends, last_error=record.last_error)
    count_metric("sharing_scheduler.needs_attention_metric", METRIC_NAMESPACE, NEEDS_ATTENTION_METRIC,
                 int(ctx.now().timestamp() * 1000), {"Kind": record.kind},
                 pk=record.pk, outbound_no=record.outbound_no)


def _follow_sharing(ctx: Sharing, record_pk: str) -> bool:
    record = ctx.store(SHARING).get(record_pk)
    if record is None or record.state != SUCCEEDED:
        return True
    outcome = ctx.channel.query_sharing(record.request["sub_mchid"], record.request["transaction_id"],
                                        record.outbound_no)
    if isinstance(outcome, port.Accepted):
        record = orders.apply_results(ctx, record, outcome.body)
    return all(r["result"] != orders.PENDING for r in record.extra["results"].values())


def _follow_return(ctx: Sharing, record_pk: str) -> bool:
    store = ctx.store(SHARING_RETURN)
    record = store.get(record_pk)
    if record is None or record.state != SUCCEEDED:
        return True
    if record.extra.get("settled"):
        return True
    outcome = ctx.channel.query_return(record.request["sub_mchid"], record.request["out_order_no"],
                                       record.outbound_no)
    if not isinstance(outcome, port.Accepted) or outcome.body.get("result") == "PROCESSING":
        return False
    settle_return(ctx, record, outcome.body)
    return True


def settle_return(ctx: Sharing, record, body: dict) -> None:
    """A return's final result (SUCCESS / FAILED), written once."""
    settled = {k: body.get(k) for k in ("result", "fail_reason", "return_id", "finish_time")}
    try:
        SharingReturn(record.pk).update(actions=[SharingReturn.settled.set(to_value(settled))],
                                        condition=SharingReturn.settled.does_not_exist())
    except UpdateError as error:
        if not condition_failed(error):
            raise
    relation = refunds.get_relation(ctx, record.extra["relation_pk"])
    if relation:
        refunds.settle(ctx, relation)


def _follow_relation(ctx: Sharing, relation_pk: str, deadline: float) -> bool:
    relation = refunds.get_relation(ctx, relation_pk)
    if relation is None:
        return True
    return refunds.continue_relation(ctx, relation, deadline)["state"] != 0


FOLLOWERS = {SHARING: _follow_sharing, SHARING_RETURN: _follow_return,
             "SHARING_REFUND": _follow_relation, SHARING_UNFREEZE: unfreeze.follow}


def _follow_due(ctx: Sharing, started: float, report: SchedulerReport) -> None:
    for kind, follow in FOLLOWERS.items():
        # PynamoDB pages the `follow` index itself, PAGE_SIZE markers per request.
        due = FollowMarker.follow.query(kind, FollowMarker.follow_at <= clock.iso_utc(ctx.now()),
                                        page_size=PAGE_SIZE)
        for marker in due:
            if not _budget_left(ctx, started, report):
                return
            report.examined += 1
            if follow is _follow_relation:
                done = follow(ctx, marker.record, started + ctx.scheduler_budget_seconds)
            else:
                done = follow(ctx, marker.record)
            if done:
                marker.delete()
                report.settled += 1
            else:
                _postpone(ctx, marker)
                report.followed += 1


def _postpone(ctx: Sharing, marker: FollowMarker) -> None:
    later = clock.iso_utc(ctx.now() + timedelta(seconds=ctx.follow_after_seconds))
    try:          # conditional: a marker deleted meanwhile (settled) is not brought back
        marker.update(actions=[FollowMarker.follow_at.set(later)], condition=FollowMarker.pk.exists())
    except UpdateError as error:
        if not condition_failed(error):
            raise


def run(ctx: Sharing) -> SchedulerReport:
    report = SchedulerReport()
    started = ctx.monotonic()
    for kind in (SHARING, SHARING_RETURN):
        _send_due(ctx, kind, started, report)
    _follow_due(ctx, started, report)
    log("sharing_scheduler.run", **report.as_dict())
    return report
