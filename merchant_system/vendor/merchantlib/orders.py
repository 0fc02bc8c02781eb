"""The merchant's order and its state machine: the domain record, free of I/O.

States and the only transitions allowed:

    INIT ──answered──▶ SUCCESS | FAIL     the payment API gave its answer
    INIT ──lost──────▶ UNKNOWN            no answer: timeout, connection error, 5xx, garbled
    UNKNOWN ─answered▶ SUCCESS | FAIL     a re-send of the identical message was answered
    UNKNOWN ─lost────▶ UNKNOWN            a re-send was lost too (attempts counts it)

SUCCESS and FAIL are final: nothing changes them. UNKNOWN is never FAIL: the
payment system may have recorded the order; only its answer to the identical
message (same request_id, request_time, amount) tells.

The record also carries its sparse index keys, derived from the state:
`unresolved_kind` (= kind) while INIT or UNKNOWN, `success_day`
(`<KIND>#<yyyyMMdd of response_time>`) once SUCCESS.
"""
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import List, Optional

from chalicelib import clock
from chalicelib.exports.sources import merchant_success_day_key as success_day_key
from chalicelib.payments.orders import Kind


class State(str, Enum):
    INIT = "INIT"
    UNKNOWN = "UNKNOWN"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"

    @property
    def final(self) -> bool:
        return self in (State.SUCCESS, State.FAIL)


UNRESOLVED_STATES = (State.INIT, State.UNKNOWN)
# Sparse GSIs of MerchantOrdersTable (infra/resources.json).
UNRESOLVED_INDEX = "unresolved"
SUCCESSFUL_BY_DAY_INDEX = "successful_by_day"


class IllegalTransition(Exception):
    """A transition the state machine does not have (e.g. out of a final state)."""


@dataclass(frozen=True)
class Answer:
    """What the payment system answered, recorded on the order as given."""
    response_code: str                  # "SUCCESS" | "FAIL"
    response_msg: str
    response_time: Optional[str]
    response_id: Optional[str]          # None when the payment API refused without recording

    @property
    def state(self) -> State:
        return State.SUCCESS if self.response_code == "SUCCESS" else State.FAIL


@dataclass(frozen=True)
class MerchantOrder:
    kind: Kind
    request_id: str
    request_time: str
    saler_id: str
    amount: int
    state: State
    created_at: str                     # ISO UTC: when the merchant stored it (INIT)
    updated_at: str
    attempts: int = 0                   # sends whose outcome was recorded
    response_id: Optional[str] = None
    response_time: Optional[str] = None
    response_code: Optional[str] = None
    response_msg: Optional[str] = None
    last_error: Optional[str] = None    # why the last send was lost (UNKNOWN only)
    idempotency_key: Optional[str] = None  # the caller's Idempotency-Key, if it sent one

    # -- making and moving ---------------------------------------------------

    @classmethod
    def new(cls, kind: Kind, request_id: str, saler_id: str, amount: int,
            moment: datetime, idempotency_key: Optional[str] = None) -> "MerchantOrder":
        stamp = clock.iso_utc(moment)
        return cls(kind=kind, request_id=request_id, request_time=clock.message_time(moment),
                   saler_id=saler_id, amount=amount, state=State.INIT,
                   created_at=stamp, updated_at=stamp, idempotency_key=idempotency_key)

    def _moved(self, state: State, moment: datetime, **changes) -> "MerchantOrder":
        if self.state.final:
            raise IllegalTransition(f"{self.request_id} is {self.state.value}, which is final")
        return replace(self, state=state, updated_at=clock.iso_utc(moment),
                       attempts=self.attempts + 1, **changes)

    def answered(self, answer: Answer, moment: datetime) -> "MerchantOrder":
        return self._moved(answer.state, moment, response_id=answer.response_id,
                           response_time=answer.response_time,
                           response_code=answer.response_code,
                           response_msg=answer.response_msg, last_error=None)

    def lost(self, reason: str, moment: datetime) -> "MerchantOrder":
        return self._moved(State.UNKNOWN, moment, last_error=reason)

    # -- questions -----------------------------------------------------------

    def needs_resolution(self, now: datetime, stranded_after_seconds: float) -> bool:
        """UNKNOWN always; INIT only once its sender must have given up (it died)."""
        if self.state is State.UNKNOWN:
            return True
        if self.state is State.INIT:
            cutoff = clock.iso_utc(now - timedelta(seconds=stranded_after_seconds))
            return self.created_at <= cutoff
        return False

    def differences(self, kind: Kind, saler_id: str, amount: int) -> List[str]:
        """What differs between a request for (kind, saler_id, amount) and the one this order
        was made for (empty: it is the same request)."""
        pairs = (("kind", self.kind, kind), ("saler_id", self.saler_id, saler_id),
                 (kind.amount_field, self.amount, amount))
        return [name for name, stored, given in pairs if stored != given]

    # -- what is sent, stored and shown ----------------------------------------

    def message(self) -> dict:
        """The contract's request message; the same bytes' worth on every (re-)send."""
        if self.kind is Kind.PAY:
            return {"request_time": self.request_time, "request_id": self.request_id,
                    "saler_id": self.saler_id, "total_fee": str(self.amount)}
        return {"request_time": self.request_time, "request_id": self.request_id,
                "withdraw_money": str(self.amount), "saler_id": self.saler_id}

    @property
    def unresolved_kind(self) -> Optional[str]:
        return self.kind.value if self.state in UNRESOLVED_STATES else None

    @property
    def success_day(self) -> Optional[str]:
        if self.state is not State.SUCCESS or not self.response_time:
            return None
        return success_day_key(self.kind, self.response_time[:10].replace("-", ""))

    def to_record(self) -> dict:
        """The DynamoDB item (None values are left out by `dynamo.to_item`)."""
        record = asdict(self)
        record["kind"] = self.kind.value
        record["state"] = self.state.value
        record["unresolved_kind"] = self.unresolved_kind
        record["success_day"] = self.success_day
        return record

    @classmethod
    def from_record(cls, record: dict) -> "MerchantOrder":
        values = {name: record.get(name) for name in cls.__dataclass_fields__}
        values["kind"] = Kind(values["kind"])
        values["state"] = State(values["state"])
        values["amount"] = int(values["amount"])
        values["attempts"] = int(values["attempts"] or 0)
        return cls(**values)

    def view(self) -> dict:
        """The merchant order as its API shows it (response_* null until answered)."""
        return {"request_id": self.request_id, "request_time": self.request_time,
                "kind": self.kind.value, "saler_id": self.saler_id,
                self.kind.amount_field: str(self.amount), "state": self.state.value,
                "response_id": self.response_id, "response_time": self.response_time,
                "response_code": self.response_code, "response_msg": self.response_msg,
                "attempts": self.attempts, "idempotency_key": self.idempotency_key}

