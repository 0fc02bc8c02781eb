"""The scheduled `subsidy_sweeper`: drives open subsidies and returns to a final state.

Each run pages through the sparse `open` index (RECEIVED, IN_FLIGHT, UNKNOWN records whose
`retry_at` has come: an expired lease, or UNKNOWN for `retry_after_seconds`), subsidies first,
then returns. Each record is re-read (the index is eventually consistent) and claimed as the
sweeper (`sweeps` + 1); the claim re-sends its IDENTICAL stored request with its outbound number.
A record still not final after `sweeper_max_tries` sweeper claims is marked NEEDS_ATTENTION:
one log line `subsidy_sweeper.needs_attention` (ERROR) and one CloudWatch embedded-metric
line (`PaySettle/Subsidies` `NeedsAttention`, dimension `Kind`). NEEDS_ATTENTION is out of the
index; the business line's own retry of the same request still re-sends it.

Work per run is bounded: at most `sweeper_max_records` records, and no re-send is started that
could end after `sweeper_budget_seconds` (the Lambda has 120 s: .chalice/config.json).

Per record, the named outcomes counted in the report: `succeeded`, `failed`, `still_unknown`,
`needs_attention`, `skipped` (final, or held by a live lease, by the time it was read).

The index spans every tenant: each record is re-read by its own key and acted on under its own
tenant (its `tenant` attribute, the prefix of its key), so one run serves every tenant.
"""
import logging
from dataclasses import dataclass
from typing import Iterator

from ..logs import count_metric, log
from ..reentry import (FAILED, NEEDS_ATTENTION_METRIC, SUCCEEDED, Claimed, LeaseLost, Record, attempt)
from .context import RETURN, SUBSIDY, Subsidies
from .service import _channel_outcome, _return_effects
from .messages import SubsidyReturnRequest

PAGE_SIZE = 25
NUMBER_FIELDS = {SUBSIDY: "out_subsidy_no", RETURN: "out_order_no"}
METRIC_NAMESPACE = "PaySettle/Subsidies"


@dataclass
class SweepReport:
    examined: int = 0
    succeeded: int = 0
    failed: int = 0
    still_unknown: int = 0
    needs_attention: int = 0
    skipped: int = 0
    stopped: str = "done"       # "done" | "max_records" | "time_budget"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _due(ctx: Subsidies, kind: str) -> Iterator[Record]:
    cursor = None
    while True:
        records, cursor = ctx.store(kind).due(PAGE_SIZE, cursor)
        yield from records
        if not cursor:
            return


def _effects(ctx: Subsidies, record: Record):
    if record.kind != RETURN:
        return lambda before, after, outbound_no, outcome: []
    echo = record.extra["echo"]
    request = SubsidyReturnRequest.model_construct(**{
        name: echo.get(name) for name in ("bizReturnSubsidiesId", "bizRefundId", "paymentRefundId",
                                          "amount")})
    return _return_effects(record.extra["tenant"], request, record.extra["subsidy_pk"])


def _send(ctx: Subsidies, kind: str):
    if kind == SUBSIDY:
        return lambda r: _channel_outcome(ctx.channel.create_subsidy(r.request))
    return lambda r: _channel_outcome(ctx.channel.return_subsidy(r.request))


def _give_up(ctx: Subsidies, kind: str, record: Record, report: SweepReport) -> None:
    given = ctx.store(kind).give_up(record, f"still {record.state} after {record.sweeps} sweeper tries: "
                                            f"{record.last_error or ''}".strip())
    if isinstance(given, LeaseLost):
        report.skipped += 1
        return
    report.needs_attention += 1
    log("subsidy_sweeper.needs_attention", level=logging.ERROR, kind=kind, pk=record.pk,
        outbound_no=record.outbound_no, sends=record.sends, sweeps=record.sweeps,
        last_error=record.last_error)
    count_metric("subsidy_sweeper.needs_attention_metric", METRIC_NAMESPACE, NEEDS_ATTENTION_METRIC,
                 int(ctx.now().timestamp() * 1000), {"Kind": kind},
                 pk=record.pk, outbound_no=record.outbound_no)


def sweep_one(ctx: Subsidies, kind: str, record: Record, report: SweepReport) -> None:
    store = ctx.store(kind)
    now_ms = int(ctx.now().timestamp() * 1000)
    if record.final or record.lease_live(now_ms) or record.state not in ("RECEIVED", "IN_FLIGHT", "UNKNOWN"):
        report.skipped += 1
        return
    if record.sweeps >= ctx.sweeper_max_tries:
        _give_up(ctx, kind, record, report)
        return
    effects = _effects(ctx, record)
    claimed = store.claim(record.pk, record.reentry_key, record.fingerprint, record.request,
                          NUMBER_FIELDS[kind], effects=effects, sweep=True)
    if not isinstance(claimed, Claimed):
        report.skipped += 1
        return
    finished = attempt(store, claimed.record, _send(ctx, kind), effects)
    after = finished.record
    if isinstance(finished, LeaseLost):
        report.skipped += 1
    elif after.state == SUCCEEDED:
        report.succeeded += 1
    elif after.state == FAILED:
        report.failed += 1
    else:
        report.still_unknown += 1
        if after.sweeps >= ctx.sweeper_max_tries:
            _give_up(ctx, kind, after, report)
    log("subsidy_sweeper.record", kind=kind, pk=record.pk, outbound_no=record.outbound_no,
        before=record.state, after=after.state, sweeps=after.sweeps)


def run(ctx: Subsidies) -> SweepReport:
    report = SweepReport()
    started = ctx.monotonic()
    call_seconds = getattr(ctx.channel, "call_seconds", 0)
    for kind in (SUBSIDY, RETURN):
        for candidate in _due(ctx, kind):
            if report.examined >= ctx.sweeper_max_records:
                report.stopped = "max_records"
                break
            if ctx.monotonic() - started + call_seconds > ctx.sweeper_budget_seconds:
                report.stopped = "time_budget"    # no re-send that could outlive the Lambda
                break
            report.examined += 1
            record = ctx.store(kind).get(candidate.pk)
            if record is None:
                report.skipped += 1
                continue
            sweep_one(ctx, kind, record, report)
    log("subsidy_sweeper.run", **report.as_dict())
    return report
