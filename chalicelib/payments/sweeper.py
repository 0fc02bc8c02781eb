"""The sweeper: finds successful pays whose credit never arrived, and re-enqueues them.

A pay writes its order, then sends its credit; the send can fail or the process
can die in between. Every successful pay carries `unsettled_account` (a sparse
index) until the sweeper has seen its journal entry. Orders older than the
grace period whose entry is missing are enqueued again; a credit that was only
late becomes a duplicate, which the aggregator drops.
"""
from dataclasses import dataclass
from datetime import timedelta
from typing import List

from botocore.exceptions import ClientError

from .. import clock
from ..dynamo import condition_failed, from_item, to_item
from ..logs import log
from . import credits, ledger
from .context import Payments
from .keys import UNSETTLED_INDEX, journal_entry
from .orders import Kind


@dataclass
class SweeperReport:
    examined: int = 0
    settled: int = 0
    requeued: int = 0
    waiting: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _mark_settled(ctx: Payments, pk: str) -> None:
    try:
        ctx.dynamodb.update_item(TableName=ctx.orders_table, Key=to_item({"pk": pk}),
                                 UpdateExpression="REMOVE unsettled_account",
                                 ConditionExpression="attribute_exists(pk)")
    except ClientError as error:
        if not condition_failed(error):
            raise


def _sweep_page(ctx: Payments, orders: List[dict], cutoff: str, report: SweeperReport) -> None:
    keys = [(o["unsettled_account"], journal_entry(Kind.PAY, o["request_id"])) for o in orders]
    journaled = ledger.existing_entries(ctx.dynamodb, ctx.ledger_table, keys)
    stranded = []
    for order, key in zip(orders, keys):
        report.examined += 1
        if key in journaled:
            _mark_settled(ctx, order["pk"])
            report.settled += 1
        elif order["created_at"] <= cutoff:
            stranded.append(credits.Credit(order["tenant"], order["saler_id"],
                                           order["request_id"], order["amount"],
                                           order["response_time"]))
        else:
            report.waiting += 1
    if stranded:
        refused = credits.enqueue_many(ctx.sqs, ctx.credit_queue_url, stranded)
        report.requeued += len(stranded) - len(refused)
        for credit in stranded:
            log("sweeper.requeued", request_id=credit.request_id, refused=credit.request_id in refused)


def run(ctx: Payments, grace_seconds: int = None) -> SweeperReport:
    grace = ctx.credit_grace_seconds if grace_seconds is None else grace_seconds
    cutoff = clock.iso_utc(ctx.now() - timedelta(seconds=grace))
    report = SweeperReport()
    request = {"TableName": ctx.orders_table, "IndexName": UNSETTLED_INDEX, "Limit": 100}
    while report.examined < ctx.sweeper_max_orders:
        answer = ctx.dynamodb.scan(**request)
        orders = [from_item(item) for item in answer.get("Items", [])]
        if orders:
            _sweep_page(ctx, orders, cutoff, report)
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    log("sweeper.run", **report.as_dict())
    return report
