"""Request schemas of `POST /pay` and `POST /withdraw` (seed 003)."""
from pydantic import field_validator

from .. import fields
from ..schemas import StrictModel, checked, parse

# `parse` stays importable from here: app.py and the tests parse payment requests with it.
__all__ = ["PayRequest", "WithdrawRequest", "parse"]


class _Message(StrictModel):
    request_time: str
    request_id: str
    saler_id: str

    _request_time = field_validator("request_time")(checked(fields.request_time))
    _request_id = field_validator("request_id")(checked(fields.request_id))
    _saler_id = field_validator("saler_id")(checked(fields.saler_id))


class PayRequest(_Message):
    total_fee: int

    _total_fee = field_validator("total_fee", mode="before")(checked(fields.amount_fen))

    @property
    def amount(self) -> int:
        return self.total_fee


class WithdrawRequest(_Message):
    withdraw_money: int

    _withdraw_money = field_validator("withdraw_money", mode="before")(checked(fields.amount_fen))

    @property
    def amount(self) -> int:
        return self.withdraw_money
