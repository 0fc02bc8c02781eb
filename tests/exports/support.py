"""A small world for the export tests: both sides' tables and the recon bucket in moto, a clock
set in China time, payment orders made through the payment services, merchant orders written
in the merchant table's schema (merchant_system/resources.json)."""
import csv
import io
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, List, Optional

from chalicelib import clock
from chalicelib.dynamo import to_item
from chalicelib.exports import service as export_service
from chalicelib.exports.window import Window
from chalicelib.payments import aggregator, service
from chalicelib.payments.context import Payments
from chalicelib.payments.messages import PayRequest, WithdrawRequest
from chalicelib.payments.orders import Order

TENANT = "default"
FORMAT = "%Y-%m-%d %H:%M:%S"
_serial = itertools.count(1)


def china(text: str) -> datetime:
    """A `yyyy-MM-dd HH:mm:ss` China time as an aware datetime."""
    return datetime.strptime(text, FORMAT).replace(tzinfo=clock.CHINA)


class Clock:
    def __init__(self, text: str = "2026-11-01 09:00:00"):
        self.moment = china(text)

    def set(self, text: str) -> None:
        self.moment = china(text)

    def __call__(self) -> datetime:
        return self.moment


def request_id(moment: datetime) -> str:
    return moment.astimezone(clock.CHINA).strftime("%Y%m%d%H%M%S") + f"{next(_serial) % 1_000_000:06d}"


@dataclass
class World:
    dynamodb: Any
    sqs: Any
    s3: Any
    provisioned: Any
    tmp_dir: Path
    clock: Clock = field(default_factory=Clock)

    @property
    def bucket(self) -> str:
        return self.provisioned.buckets["ReconBucket"]

    @property
    def merchant_table(self) -> str:
        return self.provisioned.tables["MerchantOrdersTable"]

    def payments(self, **overrides) -> Payments:
        settings = dict(sqs=self.sqs,
                        orders_table=self.provisioned.tables["OrdersTable"],
                        ledger_table=self.provisioned.tables["LedgerTable"],
                        credit_queue_url=self.provisioned.queues["CreditQueue"],
                        tenant=TENANT, now=self.clock, sleep=lambda seconds: None)
        settings.update(overrides)
        return Payments(**settings)

    def exports(self, **overrides) -> export_service.Exports:
        settings = dict(s3=self.s3, bucket=self.bucket,
                        tmp_dir=str(self.tmp_dir), tenant=TENANT,
                        merchant_orders_table=self.merchant_table,
                        orders_table=self.provisioned.tables["OrdersTable"],
                        ledger_table=self.provisioned.tables["LedgerTable"],
                        page_size=25, now=lambda: china("2026-12-01 00:00:00"))
        settings.update(overrides)
        return export_service.Exports(**settings)

    # -- the payment side ------------------------------------------------------

    def pay(self, saler_id: str, amount: int, at: str, mirror: bool = True,
            tenant: str = TENANT, rid: Optional[str] = None,
            merchant_table: Optional[str] = None) -> Order:
        """A pay of `tenant` answered at `at` (China time); by default its merchant records it
        too (in `merchant_table`, that tenant's merchant system's, default the world's)."""
        self.clock.set(at)
        request = PayRequest(request_time=at, request_id=rid or request_id(self.clock()),
                             saler_id=saler_id, total_fee=amount)
        order = service.pay(self.payments(tenant=tenant), request).order
        if mirror and order.succeeded:
            self.merchant_order(order, table=merchant_table)
        return order

    def withdraw(self, saler_id: str, amount: int, at: str, mirror: bool = True,
                 tenant: str = TENANT, rid: Optional[str] = None,
                 merchant_table: Optional[str] = None) -> Order:
        self.clock.set(at)
        request = WithdrawRequest(request_time=at, request_id=rid or request_id(self.clock()),
                                  saler_id=saler_id, withdraw_money=amount)
        order = service.withdraw(self.payments(tenant=tenant), request).order
        if mirror:
            self.merchant_order(order, table=merchant_table)
        return order

    def aggregate(self, at: Optional[str] = None) -> None:
        """The aggregator's run (at `at`, later than the pays it credits)."""
        if at:
            self.clock.set(at)
        aggregator.run(self.payments(tenant=None))       # every tenant's credits

    # -- the merchant side -----------------------------------------------------

    def merchant_order(self, order: Order, state: Optional[str] = None, amount: Optional[int] = None,
                       table: Optional[str] = None) -> dict:
        """The merchant's record of a payment order, in the merchant table's schema."""
        state = state or ("SUCCESS" if order.succeeded else "FAIL")
        record = {"request_id": order.request_id, "kind": order.kind.value,
                  "saler_id": order.saler_id, "amount": amount or order.amount,
                  "request_time": order.request_time, "state": state,
                  "response_id": order.response_id, "response_time": order.response_time,
                  "response_code": order.response_code, "response_msg": order.response_msg,
                  "created_at": order.created_at, "updated_at": order.created_at, "attempts": 1}
        if state == "SUCCESS":
            record["success_day"] = f"{order.kind.value}#{order.response_time[:10].replace('-', '')}"
        if state in ("INIT", "UNKNOWN"):
            record["unresolved_kind"] = order.kind.value
        self.dynamodb.put_item(TableName=table or self.merchant_table, Item=to_item(record))
        return record

    # -- the bucket ------------------------------------------------------------

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def keys(self, prefix: str = "incoming/") -> List[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def rows(self, batch: str, side: str, name: str, tenant: str = TENANT) -> List[dict]:
        text = self.get(f"incoming/{tenant}/{batch}/{side}/{name}").decode("utf-8")
        return list(csv.DictReader(io.StringIO(text, newline="")))

    def manifest(self, batch: str, side: str, tenant: str = TENANT) -> dict:
        return json.loads(self.get(f"incoming/{tenant}/{batch}/{side}/_manifest.json"))

    def download(self, batch: str, folder: Path, tenant: str = TENANT) -> Path:
        for key in self.keys(f"incoming/{tenant}/{batch}/"):
            target = folder / key[len(f"incoming/{tenant}/{batch}/"):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.get(key))
        return folder

    def export(self, batch: str, start: str, end: str, sides=export_service.SIDES, **overrides):
        return export_service.export_batch(self.exports(**overrides), batch, Window.parse(start, end), sides)


def order_row(order: Order) -> dict:
    """The export row an order must produce (strings, as read back from the CSV)."""
    return {"request_time": order.request_time, "request_id": order.request_id,
            "response_time": order.response_time, "response_id": order.response_id,
            "saler_id": order.saler_id, order.kind.amount_field: str(order.amount)}
