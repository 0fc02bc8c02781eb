"""Request schemas of the merchant's own API: `POST /merchant/pay` and `POST /merchant/withdraw`.

The merchant makes `request_time` and `request_id` itself; the caller gives only
the saler and the amount, checked by the same rules as the payment API's
(`chalicelib.fields`), so a request the merchant accepts is one the payment API
accepts; and, optionally, an `Idempotency-Key` header that makes its retries safe.
"""
from typing import ClassVar, Mapping, Optional

from chalicelib import fields
from chalicelib.errors import InvalidField
from chalicelib.payments.orders import Kind
from chalicelib.schemas import AmountFen, SalerId, StrictModel

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


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


def idempotency_key(headers: Mapping[str, str]) -> Optional[str]:
    """The request's Idempotency-Key (None without one). `headers` must look names up
    case-insensitively, as Chalice's do."""
    value = headers.get(IDEMPOTENCY_KEY_HEADER)
    if value is None:
        return None
    try:
        return fields.idempotency_key(value)
    except ValueError as exc:
        raise InvalidField(IDEMPOTENCY_KEY_HEADER, str(exc)) from None
