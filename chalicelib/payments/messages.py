"""Request schemas of `POST /pay` and `POST /withdraw` (seed 003)."""
from typing import Type, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from .. import fields
from ..errors import InvalidField
from ..json_body import parse_object


def _checked(parser):
    def check(value):
        try:
            return parser(value)
        except ValueError as exc:
            raise PydanticCustomError("invalid_value", str(exc)) from None
    return check


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    request_time: str
    request_id: str
    saler_id: str

    _request_time = field_validator("request_time")(_checked(fields.request_time))
    _request_id = field_validator("request_id")(_checked(fields.request_id))
    _saler_id = field_validator("saler_id")(_checked(fields.saler_id))


class PayRequest(_Message):
    total_fee: int

    _total_fee = field_validator("total_fee", mode="before")(_checked(fields.amount_fen))

    @property
    def amount(self) -> int:
        return self.total_fee


class WithdrawRequest(_Message):
    withdraw_money: int

    _withdraw_money = field_validator("withdraw_money", mode="before")(_checked(fields.amount_fen))

    @property
    def amount(self) -> int:
        return self.withdraw_money


_READABLE = {
    "missing": "is required",
    "extra_forbidden": "is not an allowed field",
    "string_type": "must be a string",
}

Message = TypeVar("Message", bound=_Message)


def parse(model: Type[Message], raw_body: bytes) -> Message:
    """Parse and validate a request; raise InvalidField naming the first bad field."""
    body = parse_object(raw_body)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        # An empty key is named as the JSON it was: "" (not "body", which would mislead).
        field = ".".join(str(part) or '""' for part in first["loc"]) or "body"
        raise InvalidField(field, _READABLE.get(first["type"], first["msg"])) from None
