"""Credit messages: what a successful pay puts on the credit queue.

A credit carries its order's `response_time`, which goes into the journal entry: balances
as of a cutoff are computed by it. A message without one is not a credit (it goes to the
dead-letter queue); its order is still credited, because the sweeper re-enqueues every
successful pay whose journal entry is missing, building the credit from the order.
"""
import json
from dataclasses import dataclass
from typing import Iterable, List

from .. import fields
from .keys import account_key, journal_entry
from .orders import Kind


class PoisonMessage(ValueError):
    """A message on the credit queue that is not a credit; SQS moves it to the DLQ."""


@dataclass(frozen=True)
class Credit:
    tenant: str
    saler_id: str
    request_id: str
    amount: int
    response_time: str          # the pay order's, `yyyy-MM-dd HH:mm:ss` China time

    @property
    def account(self) -> str:
        return account_key(self.tenant, self.saler_id)

    @property
    def entry(self) -> str:
        return journal_entry(Kind.PAY, self.request_id)

    def to_message(self) -> str:
        return json.dumps({"tenant": self.tenant, "saler_id": self.saler_id,
                           "request_id": self.request_id, "amount": self.amount,
                           "response_time": self.response_time},
                          separators=(",", ":"))

    @classmethod
    def from_message(cls, body: str) -> "Credit":
        try:
            data = json.loads(body)
            credit = cls(tenant=data["tenant"], saler_id=fields.saler_id(data["saler_id"]),
                         request_id=fields.request_id(data["request_id"]),
                         amount=fields.amount_fen(data["amount"]),
                         response_time=fields.request_time(data["response_time"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise PoisonMessage(f"not a credit message: {exc}") from None
        if not isinstance(credit.tenant, str) or not credit.tenant:
            raise PoisonMessage("not a credit message: tenant")
        return credit


def enqueue(sqs, queue_url: str, credit: Credit) -> None:
    sqs.send_message(QueueUrl=queue_url, MessageBody=credit.to_message())


def enqueue_many(sqs, queue_url: str, credits: Iterable[Credit]) -> List[str]:
    """Send credits ten at a time; return the request ids SQS did not accept."""
    pending = list(credits)
    refused = []
    for start in range(0, len(pending), 10):
        chunk = pending[start:start + 10]
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "MessageBody": c.to_message()} for i, c in enumerate(chunk)])
        refused += [chunk[int(f["Id"])].request_id for f in answer.get("Failed", [])]
    return refused
