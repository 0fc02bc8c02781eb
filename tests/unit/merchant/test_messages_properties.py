"""The merchant's request schemas accept exactly what the payment API's accept.

What the merchant lets through it sends on, and a message the payment API then
refused would become a FAIL the caller could have been told about at once. So
for any saler and amount, `MerchantPayRequest` (`MerchantWithdrawRequest`)
accepts iff `PayRequest` (`WithdrawRequest`) accepts with the same values, parses
the same amount, and otherwise names the same field.
"""
import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.config import MAX_AMOUNT_FEN
from chalicelib.errors import InvalidField, PaySettleError
from merchantlib.messages import MerchantPayRequest, MerchantWithdrawRequest
from chalicelib.payments.messages import PayRequest, WithdrawRequest
from chalicelib.schemas import parse

PAIRS = [(MerchantPayRequest, PayRequest, "total_fee"),
         (MerchantWithdrawRequest, WithdrawRequest, "withdraw_money")]
CONTRACT_FIELDS = {"request_time": "2019-08-29 17:15:20", "request_id": "20190829171520123456"}

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=20))
amounts = st.one_of(json_scalars, st.integers(1, MAX_AMOUNT_FEN), st.integers(1, 10 ** 12).map(str),
                    st.lists(st.integers(), max_size=2))
salers = st.one_of(json_scalars, st.from_regex(r"[A-Za-z0-9_.-]{1,70}", fullmatch=True))


def outcome(model, body):
    try:
        request = parse(model, json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    except InvalidField as refused:
        return ("refused", refused.field)
    except PaySettleError as refused:
        return ("refused", refused.field)
    return ("accepted", request.saler_id, request.amount)


@settings(max_examples=300, deadline=None)
@given(saler=salers, amount=amounts, pair=st.sampled_from(PAIRS))
@example(saler="saler2", amount="100", pair=PAIRS[0])
@example(saler="saler2", amount="0100", pair=PAIRS[1])
def test_the_merchant_accepts_exactly_what_the_payment_api_accepts(saler, amount, pair):
    merchant_model, payment_model, amount_field = pair
    body = {"saler_id": saler, amount_field: amount}
    assert outcome(merchant_model, body) == outcome(payment_model, dict(CONTRACT_FIELDS, **body))


@settings(max_examples=100, deadline=None)
@given(extra=st.text(min_size=1, max_size=12).filter(lambda k: k not in ("saler_id", "total_fee")))
def test_any_other_field_is_refused_by_name(extra):
    body = {"saler_id": "s", "total_fee": 1, extra: "x"}
    assert outcome(MerchantPayRequest, body) == ("refused", extra)
