"""What a refund takes back from a profit sharing's holdings, as plain rules: no AWS."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.sharing.refund_holdings import (HoldingsShort, RefundExceedsOrder, RefundRuleError,
                                                check_refund, take)


def test_a_partial_refund_takes_its_share_in_proportion_to_the_holdings():
    taken = take({"A": 600, "B": 300}, shared=900, order_total=1000, refunded_before=0, amount=500)
    assert taken.back == 450 and taken.parts == {"A": 300, "B": 150}
    assert taken.holdings_after == {"A": 300, "B": 150} and taken.refunded_after == 500


def test_a_full_refund_takes_everything_still_held():
    first = take({"A": 600, "B": 300}, 900, 1000, 0, 333)
    rest = take(first.holdings_after, 900, 1000, 333, 667)
    assert first.back + rest.back == 900
    assert rest.holdings_after == {"A": 0, "B": 0}


def test_refunds_over_the_order_total_are_refused():
    with pytest.raises(RefundExceedsOrder) as refused:
        take({"A": 10}, 10, 100, 60, 41)
    assert str(refused.value) == "60 already refunded + 41 is over orderTotal 100"


def test_holdings_that_no_longer_cover_the_return_are_refused():
    with pytest.raises(HoldingsShort):
        take({"A": 10}, shared=900, order_total=1000, refunded_before=0, amount=500)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_a_refund_is_a_positive_whole_number_of_fen(bad):
    with pytest.raises(RefundRuleError):
        check_refund(0, bad, 100)


def test_nothing_shared_takes_nothing():
    taken = take({}, 0, 100, 0, 40)
    assert taken.back == 0 and taken.parts == {} and taken.refunded_after == 40


@settings(max_examples=300, deadline=None)
@given(data=st.data(), order_total=st.integers(1, 10_000),
       shares=st.dictionaries(st.sampled_from("ABCDE"), st.integers(0, 5_000), max_size=5))
def test_refunds_never_take_a_holding_below_zero_and_a_full_refund_takes_all(data, order_total, shares):
    holdings, shared = dict(shares), sum(shares.values())
    refunded = 0
    back_total = 0
    while refunded < order_total:
        amount = data.draw(st.integers(1, order_total - refunded))
        taken = take(holdings, shared, order_total, refunded, amount)
        assert sum(taken.parts.values()) == taken.back
        assert all(0 < part <= holdings[a] for a, part in taken.parts.items())
        assert all(h >= 0 for h in taken.holdings_after.values())
        holdings, refunded = taken.holdings_after, taken.refunded_after
        back_total += taken.back
        assert back_total == shared * refunded // order_total or refunded == order_total
    assert back_total == shared and all(h == 0 for h in holdings.values())
    with pytest.raises(RefundExceedsOrder):
        take(holdings, shared, order_total, refunded, 1)
