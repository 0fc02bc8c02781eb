"""Request schemas of the merchant's own API: `POST /merchant/pay` and `POST /merchant/withdraw`.

The merchant makes `request_time` and `request_id` itself; the caller gives only
the saler and the amount, checked by the same rules as the payment API's
(`chalicelib.fields`), so a request the merchant accepts is one the payment API
accepts.
"""
from typing import ClassVar

from pydantic import field_validator

from .. import fields
from ..payments.orders import Kind
from ..schemas import StrictModel, checked


class _MerchantRequest(StrictModel):
    saler_id: str

    _saler_id = field_validator("saler_id")(checked(fields.saler_id))


class MerchantPayRequest(_MerchantRequest):
    total_fee: int

    _total_fee = field_validator("total_fee", mode="before")(checked(fields.amount_fen))

    kind: ClassVar[Kind] = Kind.PAY

    @property
    def amount(self) -> int:
        return self.total_fee


class MerchantWithdrawRequest(_MerchantRequest):
    withdraw_money: int

    _withdraw_money = field_validator("withdraw_money", mode="before")(checked(fields.amount_fen))

    kind: ClassVar[Kind] = Kind.WITHDRAW

    @property
    def amount(self) -> int:
        return self.withdraw_money
