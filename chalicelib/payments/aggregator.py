"""The credit aggregator: drains the credit queue and applies credits in batches.

Exactly once, however often SQS delivers a message and wherever the process
dies: a credit is applied by putting its journal entry (`PAY#<request_id>`)
with `attribute_not_exists` in the same transaction as the balance increment.
A journal entry that already exists cancels the transaction; those credits are
dropped as duplicates and the rest is sent again. Messages are deleted only
after their credit is known applied; a message that is not a credit is never
deleted, so SQS's redrive policy moves it to the dead-letter queue.

Per batch: one balance update per account (plus one per 99 credits), one
journal put per credit; transactions of up to 100 items.
"""
import hashlib
import json
from dataclasses import dataclass
from typing import Dict, List, Tuple

from botocore.exceptions import ClientError

from .. import clock
from ..dynamo import TransactionCancelled, retryable, transact_write
from ..logs import log
from ..retry import CREDIT_BATCH
from . import ledger
from .context import Payments
from .credits import Credit, PoisonMessage

TRANSACTION_ITEMS = 100
RECEIVE_BATCH = 10


@dataclass
class AggregatorReport:
    received: int = 0
    applied: int = 0
    applied_amount: int = 0
    duplicates: int = 0
    poison: int = 0
    unapplied: int = 0
    transactions: int = 0
    transaction_items: int = 0
    sqs_requests: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _receive(ctx: Payments, report: AggregatorReport, limit: int) -> List[dict]:
    messages: List[dict] = []
    while len(messages) < limit:
        answer = ctx.sqs.receive_message(QueueUrl=ctx.credit_queue_url,
                                         MaxNumberOfMessages=min(RECEIVE_BATCH, limit - len(messages)),
                                         WaitTimeSeconds=0)
        report.sqs_requests += 1
        batch = answer.get("Messages", [])
        if not batch:
            break
        messages += batch
    return messages


def _pack(credits_by_account: Dict[str, List[Credit]]) -> List[List[List[Credit]]]:
    """Transactions, each a list of per-account groups (one balance item + its credits)."""
    transactions: List[List[List[Credit]]] = []
    current: List[List[Credit]] = []
    size = 0
    for account_credits in credits_by_account.values():
        for start in range(0, len(account_credits), TRANSACTION_ITEMS - 1):
            group = account_credits[start:start + TRANSACTION_ITEMS - 1]
            if size + 1 + len(group) > TRANSACTION_ITEMS:
                transactions.append(current)
                current, size = [], 0
            current.append(group)
            size += 1 + len(group)
    if current:
        transactions.append(current)
    return transactions


def _items(ctx: Payments, groups: List[List[Credit]]) -> Tuple[List[dict], List[Credit]]:
    """Transaction items, and for each item the credit it journals (None for balance items)."""
    posted_at = clock.iso_utc(ctx.now())
    items, owners = [], []
    for group in groups:
        first = group[0]
        items.append(ledger.credit_item(ctx.ledger_table, first.tenant, first.saler_id,
                                        sum(c.amount for c in group)))
        owners.append(None)
        for credit in group:
            items.append(ledger.journal_item(ctx.ledger_table, credit.tenant, credit.saler_id,
                                             credit.entry, credit.amount, credit.request_id,
                                             posted_at, credit.response_time))
            owners.append(credit)
    return items, owners


def _token(items: List[dict]) -> str:
    """Same items, same token: a resent transaction that already committed is not applied twice."""
    return hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()[:36]


def _apply(ctx: Payments, groups: List[List[Credit]], report: AggregatorReport) -> List[Credit]:
    """Apply one transaction's credits; return those now known journaled."""
    settled: List[Credit] = []
    items, owners = _items(ctx, groups)
    policy = CREDIT_BATCH.using(sleep=ctx.sleep)
    for attempt in range(policy.attempts):
        if not items:
            return settled
        try:
            transact_write(ctx.dynamodb, items, token=_token(items))
            break
        except TransactionCancelled as cancelled:
            duplicates = {id(owners[i]) for i in range(len(items))
                          if owners[i] is not None and cancelled.condition_failed(i)}
            if duplicates:
                report.duplicates += len(duplicates)
                settled += [c for g in groups for c in g if id(c) in duplicates]
                groups = [[c for c in g if id(c) not in duplicates] for g in groups]
                groups = [g for g in groups if g]
                items, owners = _items(ctx, groups)
                continue
            if not cancelled.conflicted:
                raise
        except ClientError as error:
            if not retryable(error):
                raise
        policy.pause(attempt)
        items, owners = _items(ctx, groups)
    else:
        unapplied = sum(len(g) for g in groups)
        report.unapplied += unapplied
        log("aggregator.transaction_gave_up", credits=unapplied)
        return settled
    report.transactions += 1
    report.transaction_items += len(items)
    applied = [c for g in groups for c in g]
    report.applied += len(applied)
    report.applied_amount += sum(c.amount for c in applied)
    return settled + applied


def _delete(ctx: Payments, handles: List[str], report: AggregatorReport) -> None:
    for start in range(0, len(handles), 10):
        chunk = handles[start:start + 10]
        answer = ctx.sqs.delete_message_batch(QueueUrl=ctx.credit_queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)])
        report.sqs_requests += 1
        if answer.get("Failed"):
            # Undeleted messages come back; their credits are then duplicates.
            log("aggregator.delete_failed", count=len(answer["Failed"]))


def run(ctx: Payments, max_credits: int = None) -> AggregatorReport:
    """Drain up to `max_credits` messages from the credit queue and apply them."""
    report = AggregatorReport()
    budget = max_credits or ctx.aggregator_max_credits
    while report.received < budget:
        messages = _receive(ctx, report, min(500, budget - report.received))
        if not messages:
            break
        report.received += len(messages)
        handles_by_key: Dict[Tuple[str, str], List[str]] = {}
        by_account: Dict[str, List[Credit]] = {}
        for message in messages:
            try:
                credit = Credit.from_message(message["Body"])
            except PoisonMessage as poison:
                report.poison += 1
                log("aggregator.poison_message", message_id=message.get("MessageId"),
                    reason=str(poison))
                continue
            key = (credit.account, credit.entry)
            if key in handles_by_key:
                report.duplicates += 1
            else:
                by_account.setdefault(credit.account, []).append(credit)
            handles_by_key.setdefault(key, []).append(message["ReceiptHandle"])
        settled: List[Credit] = []
        for groups in _pack(by_account):
            settled += _apply(ctx, groups, report)
        _delete(ctx, [h for c in settled for h in handles_by_key[(c.account, c.entry)]], report)
    log("aggregator.run", **report.as_dict())
    return report
