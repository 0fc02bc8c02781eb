"""Export one tenant's batch: each side's successful orders of a window to the recon bucket.

    incoming/<tenant>/<batch>/merchant/pay.csv, withdraw.csv, then _manifest.json
    incoming/<tenant>/<batch>/payment/pay.csv, withdraw.csv, balances.csv, then _manifest.json

The payment side holds the tenant's own orders and accounts only; the merchant side is that
tenant's merchant system's own record (the simulated merchant system is one tenant's).

Each file is streamed from DynamoDB to a temporary file (hashed and counted on the
way) and uploaded with boto3's managed transfer (multipart when large); the side's
`_manifest.json` ({"files": [{"name", "rows", "sha256"}]}, the format the reconciler
checks) is uploaded last, so a manifest means its side is complete. The sides are
independent: one failing or refused never stops the other.

Outcomes, per side:
* EXPORTED: every file and then the manifest were uploaded;
* PENDING_CREDITS (payment side): successful pays answered before the window's end
  are not yet in the journal, so balances as of the end would be short; nothing of
  the side was uploaded; export again after the aggregator's next run;
* FAILED: anything else (a missing setting, a value that cannot be exported, AWS);
  the manifest was not written, so the reconciler does not start on a partial side.

Exporting a batch again rewrites its files and manifest; identical content gives
identical objects, which the reconciler recognises as already reconciled.
"""
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from .. import aws, clock
from ..auth.credentials import all_tenants
from ..config import TENANT_PATTERN, MissingSetting, export_settings
from ..logs import log
from ..payments.orders import Kind
from ..recon.formats import MANIFEST, MERCHANT, PAYMENT, valid_batch_name
from ..recon.s3 import BatchRef, incoming_prefix
from . import balances, sources
from .csvfile import BALANCE_COLUMNS, CsvSpool, order_header
from .window import InvalidWindow, Window, not_after, previous_day

SIDES = (MERCHANT, PAYMENT)
EXPORTED, PENDING_CREDITS, FAILED = "EXPORTED", "PENDING_CREDITS", "FAILED"
CSV_TYPE = "text/csv; charset=utf-8"
KIND_FILES = ((Kind.PAY, "pay.csv"), (Kind.WITHDRAW, "withdraw.csv"))


class InvalidExport(ValueError):
    """The request itself is wrong (batch name, window, side): nothing is exported."""


@dataclass
class Exports:
    """The collaborators of an export, passed in (tests give moto clients)."""
    s3: Any
    bucket: str
    tmp_dir: str
    tenant: str                         # whose batch: its orders, accounts and S3 folder
    merchant_orders_table: str = ""
    orders_table: str = ""
    ledger_table: str = ""
    page_size: int = 1000
    scan_segments: int = 1
    now: Callable[[], datetime] = clock.utc_now


def from_environment(tenant: str) -> Exports:
    settings = export_settings()
    return Exports(s3=aws.client("s3"), bucket=settings.bucket,
                   tmp_dir=settings.tmp_dir, tenant=tenant,
                   merchant_orders_table=settings.merchant_orders_table,
                   orders_table=settings.orders_table, ledger_table=settings.ledger_table,
                   page_size=settings.page_size)


@dataclass(frozen=True)
class WrittenFile:
    name: str
    key: str
    rows: int
    sha256: str
    bytes: int

    def manifest_entry(self) -> dict:
        return {"name": self.name, "rows": self.rows, "sha256": self.sha256}


@dataclass
class SideOutcome:
    side: str
    outcome: str
    files: List[WrittenFile] = field(default_factory=list)
    manifest: Optional[str] = None       # its key, once written
    detail: Optional[str] = None
    pending_credits: Optional[dict] = None

    def as_dict(self) -> dict:
        found = {"outcome": self.outcome,
                 "files": [dict(f.__dict__) for f in self.files]}
        for name in ("manifest", "detail", "pending_credits"):
            if getattr(self, name) is not None:
                found[name] = getattr(self, name)
        return found


@dataclass
class ExportReport:
    tenant: str
    batch: str
    window: Window
    sides: Dict[str, SideOutcome]

    @property
    def exported(self) -> bool:
        return all(s.outcome == EXPORTED for s in self.sides.values())

    def as_dict(self) -> dict:
        return {"tenant": self.tenant, "batch": self.batch, "window": self.window.as_dict(),
                "sides": {name: outcome.as_dict() for name, outcome in self.sides.items()}}


def _needs(value: str, variable: str) -> str:
    if not value:
        raise MissingSetting(f"environment variable {variable} is not set")
    return value


def _upload_csv(ctx: Exports, batch: str, side: str, name: str, header: Sequence[str],
                rows: Iterable[Sequence]) -> WrittenFile:
    with CsvSpool(ctx.tmp_dir, header) as spool:
        spool.write_all(rows)
        spooled = spool.close()
    key = f"{incoming_prefix(BatchRef(ctx.tenant, batch))}{side}/{name}"
    try:
        ctx.s3.upload_file(str(spooled.path), ctx.bucket, key, ExtraArgs={"ContentType": CSV_TYPE})
    finally:
        Path(spooled.path).unlink(missing_ok=True)
    log("export.file_uploaded", tenant=ctx.tenant, batch=batch, side=side, key=key,
        rows=spooled.rows, bytes=spooled.size, sha256=spooled.sha256)
    return WrittenFile(name, key, spooled.rows, spooled.sha256, spooled.size)


def _upload_manifest(ctx: Exports, batch: str, side: str, files: List[WrittenFile]) -> str:
    key = f"{incoming_prefix(BatchRef(ctx.tenant, batch))}{side}/{MANIFEST}"
    body = json.dumps({"files": [f.manifest_entry() for f in files]}, indent=1).encode() + b"\n"
    ctx.s3.put_object(Bucket=ctx.bucket, Key=key, Body=body, ContentType="application/json")
    return key


def _export_merchant(ctx: Exports, batch: str, window: Window, outcome: SideOutcome) -> None:
    # The merchant system's model reads its stage's table; a stage without it fails here.
    _needs(ctx.merchant_orders_table, "MERCHANT_ORDERS_TABLE")
    for kind, name in KIND_FILES:
        rows = (row.fields() for row in sources.merchant_orders(kind, window, ctx.page_size))
        outcome.files.append(_upload_csv(ctx, batch, MERCHANT, name, order_header(kind), rows))


def _export_payment(ctx: Exports, batch: str, window: Window, outcome: SideOutcome) -> None:
    # The models read the stage's tables; a stage without them fails here, before any read.
    _needs(ctx.orders_table, "ORDERS_TABLE")
    _needs(ctx.ledger_table, "LEDGER_TABLE")
    # Both before any upload: a refused or failed side leaves nothing behind.
    pending = balances.pending_credits(ctx.tenant, window.end, ctx.page_size)
    if pending:
        raise balances.PendingCredits(pending, window.end)
    accounts = balances.balances_as_of(ctx.tenant, window, ctx.page_size, ctx.scan_segments)
    for kind, name in KIND_FILES:
        rows = (row.fields() for row in
                sources.payment_orders(ctx.tenant, kind, window, ctx.page_size))
        outcome.files.append(_upload_csv(ctx, batch, PAYMENT, name, order_header(kind), rows))
    outcome.files.append(_upload_csv(ctx, batch, PAYMENT, "balances.csv", BALANCE_COLUMNS,
                                     (a.fields() for a in accounts)))


EXPORTERS = {MERCHANT: _export_merchant, PAYMENT: _export_payment}


def _export_side(ctx: Exports, batch: str, window: Window, side: str) -> SideOutcome:
    outcome = SideOutcome(side, FAILED)
    try:
        EXPORTERS[side](ctx, batch, window, outcome)
        outcome.manifest = _upload_manifest(ctx, batch, side, outcome.files)
        outcome.outcome = EXPORTED
        log("export.side_exported", tenant=ctx.tenant, batch=batch, side=side,
            rows={f.name: f.rows for f in outcome.files})
    except balances.PendingCredits as pending:
        outcome.outcome, outcome.detail = PENDING_CREDITS, str(pending)
        outcome.pending_credits = {"count": pending.count, "amount": pending.amount,
                                   "request_ids": pending.request_ids}
        log("export.pending_credits", level=logging.WARNING, tenant=ctx.tenant, batch=batch,
            side=side, count=pending.count, amount=pending.amount)
    except Exception as error:  # noqa: BLE001 - one side's failure must not stop the other
        outcome.detail = f"{type(error).__name__}: {error}"
        log("export.side_failed", level=logging.ERROR, tenant=ctx.tenant, batch=batch, side=side,
            error_type=type(error).__name__, error=str(error), uploaded=[f.key for f in outcome.files])
    return outcome


def export_batch(ctx: Exports, batch: str, window: Window,
                 sides: Sequence[str] = SIDES) -> ExportReport:
    """Export the successful orders answered in `window` (and, for the payment side, the
    balances at its end and start) as batch `batch`; see the module docstring for outcomes.
    Raises InvalidExport, before anything is read or written, for a bad request."""
    if not TENANT_PATTERN.fullmatch(ctx.tenant or ""):
        raise InvalidExport(f"tenant {ctx.tenant!r}: 1-64 characters of A-Z a-z 0-9 _ - .")
    if not valid_batch_name(batch):
        raise InvalidExport(f"batch {batch!r}: 1-128 characters of A-Z a-z 0-9 . _ - "
                            "starting with a letter or digit")
    unknown = [s for s in sides if s not in SIDES]
    if unknown or not sides:
        raise InvalidExport(f"sides must be among {SIDES}, got {list(sides)}")
    try:
        not_after(window, ctx.now())
    except InvalidWindow as error:
        raise InvalidExport(str(error)) from None
    report = ExportReport(ctx.tenant, batch, window, {})
    for side in dict.fromkeys(sides):
        report.sides[side] = _export_side(ctx, batch, window, side)
    log("export.batch", **report.as_dict())
    return report


class ExportIncomplete(RuntimeError):
    """A scheduled export did not export its side; raising lets Lambda retry the invocation."""


def scheduled_tenants(side: str) -> List[str]:
    """Whose batches a daily run of `side` exports.

    Payment side: every tenant of the caller credentials secret. A record gets a tenant only
    from a signed request of one of that tenant's keys, so the secret names every tenant that
    can have records, in one read, where finding them in the data would mean scanning whole
    tables; and a tenant with no order that day still gets its (empty) batch, reconciled like
    any other, so a quiet day is proven balanced rather than skipped. (A tenant whose last
    key is removed is no longer exported: export its final batch before removing it.)
    Merchant side: the simulated merchant system is one tenant's, MERCHANT_SYSTEM_TENANT."""
    if side == PAYMENT:
        return list(all_tenants())
    tenant = export_settings().merchant_tenant
    return [tenant] if tenant else []


def scheduled(side: str, event_time: Optional[str]) -> dict:
    """The daily run of one side, for every tenant (scheduled_tenants): the China-time day
    before the event's time, as batch `yyyyMMdd`. The event's own time (not the clock) names
    the day, so a retried or late invocation exports the same batches. Every tenant is
    exported before a failure is raised: one tenant's pending credits never hold back another's."""
    moment = None
    if event_time:
        moment = datetime.strptime(event_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    batch, window = previous_day(moment)
    reports = {}
    for tenant in scheduled_tenants(side):
        reports[tenant] = export_batch(from_environment(tenant), batch, window, sides=(side,))
    incomplete = {tenant: report.sides[side] for tenant, report in reports.items()
                  if not report.exported}
    if incomplete:
        raise ExportIncomplete(f"batch {batch} {side}: " + "; ".join(
            f"{tenant}: {outcome.outcome}: {outcome.detail}" for tenant, outcome in incomplete.items()))
    return {"batch": batch, "window": window.as_dict(), "side": side,
            "tenants": {tenant: report.sides[side].as_dict() for tenant, report in reports.items()}}
