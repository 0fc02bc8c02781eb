"""Request schemas of `POST /pay` and `POST /withdraw`."""
from ..schemas import AmountFen, RequestId, RequestTime, SalerId, StrictModel, parse

# `parse` and the field types stay importable from here: app.py, the API docs and the tests use them.
__all__ = ["PayRequest", "WithdrawRequest", "parse", "AmountFen", "RequestId", "RequestTime",
           "SalerId"]


class _Message(StrictModel):
    request_time: RequestTime
    request_id: RequestId
    saler_id: SalerId


class PayRequest(_Message):
    """The pay request message of the pay/withdraw contract."""
    total_fee: AmountFen

    @property
    def amount(self) -> int:
        return self.total_fee


class WithdrawRequest(_Message):
    """The withdraw request message of the pay/withdraw contract."""
    withdraw_money: AmountFen

    @property
    def amount(self) -> int:
        return self.withdraw_money
