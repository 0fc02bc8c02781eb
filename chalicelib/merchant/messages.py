"""Request schemas of the merchant's own API: `POST /merchant/pay` and `POST /merchant/withdraw`.

The merchant makes `request_time` and `request_id` itself; the caller gives only
the saler and the amount, checked by the same rules as the payment API's
(`chalicelib.fields`), so a request the merchant accepts is one the payment API
accepts.
"""
from typing import ClassVar

from ..payments.orders import Kind
from ..schemas import AmountFen, SalerId, StrictModel


class _MerchantRequest(StrictModel):
    saler_id: SalerId


class MerchantPayRequest(_MerchantRequest):
    """What the merchant's pay trigger takes: the saler and the amount."""
    total_fee: AmountFen

    kind: ClassVar[Kind] = Kind.PAY

    @property
    def amount(self) -> int:
        return self.total_fee


class MerchantWithdrawRequest(_MerchantRequest):
    """What the merchant's withdraw trigger takes: the saler and the amount."""
    withdraw_money: AmountFen

    kind: ClassVar[Kind] = Kind.WITHDRAW

    @property
    def amount(self) -> int:
        return self.withdraw_money
