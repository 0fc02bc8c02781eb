"""Pay and withdraw orders: the domain record, free of I/O."""
from dataclasses import asdict, dataclass
from enum import Enum
from typing import List


class Kind(str, Enum):
    PAY = "PAY"
    WITHDRAW = "WITHDRAW"

    @property
    def amount_field(self) -> str:
        return "total_fee" if self is Kind.PAY else "withdraw_money"


SUCCESS = "SUCCESS"
FAIL = "FAIL"


@dataclass(frozen=True)
class Order:
    kind: Kind
    tenant: str
    request_id: str
    request_time: str
    saler_id: str
    amount: int
    response_id: str
    response_time: str
    response_code: str
    response_msg: str
    created_at: str  # ISO UTC, when the payment system recorded it

    def differences(self, request) -> List[str]:
        """The message fields in which a request with this order's request id differs from it."""
        pairs = (("request_time", self.request_time, request.request_time),
                 ("saler_id", self.saler_id, request.saler_id),
                 (self.kind.amount_field, self.amount, request.amount))
        return [name for name, stored, given in pairs if stored != given]

    @property
    def succeeded(self) -> bool:
        return self.response_code == SUCCESS

    def response(self) -> dict:
        """The response message of the pay/withdraw contract (amounts echoed as strings, as the contract shows them)."""
        message = {
            "response_time": self.response_time,
            "request_id": self.request_id,
            "response_id": self.response_id,
            "saler_id": self.saler_id,
            self.kind.amount_field: str(self.amount),
            "response_code": self.response_code,
            "response_msg": self.response_msg,
        }
        if self.kind is Kind.WITHDRAW:
            message["request_time"] = self.request_time
        return message

    def to_record(self) -> dict:
        record = asdict(self)
        record["kind"] = self.kind.value
        return record

    @classmethod
    def from_record(cls, record: dict) -> "Order":
        values = {name: record[name] for name in cls.__dataclass_fields__}
        values["kind"] = Kind(values["kind"])
        values["amount"] = int(values["amount"])
        return cls(**values)
