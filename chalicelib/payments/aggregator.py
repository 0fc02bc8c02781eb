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

from pynamodb.exceptions import PynamoDBException

from .. import clock
from ..data.transactions import Cancelled, Transaction
from ..dynamo import RETRYABLE_ERRORS
from ..logs import log
from ..retry import CREDIT_BATCH
from .context import Payments
from .credits import Credit, PoisonMessage
from .keys import ACCOUNT_ENTRY
from .models.ledger import Account, JournalEntry

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


def _transaction(groups: List[List[Credit]], posted_at: str) -> Tuple[Transaction, int]:
    """One transaction applying `groups`, and its number of items. Each journal put is owned by
    its credit (a cancellation names the credits already journaled); each balance update by its
    account's group. Its token: same credits, same run time, same token, so a resent transaction
    that already committed is not applied twice."""
    transaction = Transaction(Account, client_request_token=_token(groups, posted_at))
    size = 0
    for group in groups:
        first = group[0]
        transaction.update(Account(first.account, ACCOUNT_ENTRY),
                           [Account.balance.add(sum(c.amount for c in group)),
                            Account.tenant.set(first.tenant), Account.saler_id.set(first.saler_id)],
                           owner=group)
        for credit in group:
            # `posted` is when the credit reached the balance (this run); `response_time` is
            # when the payment system answered the pay (China time), by which balances as of a
            # cutoff are computed (chalicelib/exports/balances.py).
            transaction.save(JournalEntry(credit.account, credit.entry,
                                          posted=JournalEntry.posted_key(posted_at, credit.entry),
                                          amount=credit.amount, request_id=credit.request_id,
                                          tenant=credit.tenant, saler_id=credit.saler_id,
                                          response_time=credit.response_time),
                             condition=JournalEntry.entry.does_not_exist(), owner=credit)
        size += 1 + len(group)
    return transaction, size


def _token(groups: List[List[Credit]], posted_at: str) -> str:
    content = [posted_at] + [[c.to_message() for c in group] for group in groups]
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:36]


def _apply(ctx: Payments, groups: List[List[Credit]], report: AggregatorReport) -> List[Credit]:
    """Apply one transaction's credits; return those now known journaled."""
    settled: List[Credit] = []
    posted_at = clock.iso_utc(ctx.now())
    policy = CREDIT_BATCH.using(sleep=ctx.sleep)
    size = 0
    for attempt in range(policy.attempts):
        if not groups:
            return settled
        transaction, size = _transaction(groups, posted_at)
        try:
            transaction.commit()
            break
        except Cancelled as cancelled:
            duplicates = {id(owner) for owner in cancelled.failed_owners if isinstance(owner, Credit)}
            if duplicates:
                report.duplicates += len(duplicates)
                settled += [c for g in groups for c in g if id(c) in duplicates]
                groups = [[c for c in g if id(c) not in duplicates] for g in groups]
                groups = [g for g in groups if g]
                posted_at = clock.iso_utc(ctx.now())
                continue
            if not cancelled.conflicted:
                raise
        except PynamoDBException as error:
            if error.cause_response_code not in RETRYABLE_ERRORS:
                raise
        policy.pause(attempt)
        posted_at = clock.iso_utc(ctx.now())
    else:
        unapplied = sum(len(g) for g in groups)
        report.unapplied += unapplied
        log("aggregator.transaction_gave_up", credits=unapplied)
        return settled
    report.transactions += 1
    report.transaction_items += size
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
