"""The return arithmetic (chalicelib/sharing/allocation.py), property-based."""
import pytest
from hypothesis import given, settings, strategies as st

from chalicelib.sharing.allocation import refund_total, split

holdings = st.dictionaries(st.text("0123456789", min_size=1, max_size=10),
                           st.integers(0, 10**9), min_size=1, max_size=50)


@given(holdings, st.data())
@settings(max_examples=500)
def test_parts_sum_to_the_total_and_never_exceed_holdings(held, data):
    total = data.draw(st.integers(0, sum(held.values())))
    parts = split(total, held)
    assert sum(parts.values()) == total
    assert all(0 <= parts[a] <= held[a] for a in held)
    # proportional: no part is more than one fen away from its exact share
    whole = sum(held.values())
    if whole:
        assert all(abs(parts[a] * whole - total * held[a]) < whole for a in held)


@given(st.integers(1, 10**7), st.data())
@settings(max_examples=300)
def test_successive_partial_refunds_return_everything_at_the_end(order_total, data):
    shared = data.draw(st.integers(0, order_total))
    cuts = sorted(set(data.draw(st.lists(st.integers(1, order_total - 1), max_size=12))
                      if order_total > 1 else []))
    bounds = [0] + cuts + [order_total]
    amounts = [b - a for a, b in zip(bounds, bounds[1:])]       # refunds adding up to the total
    refunded = returned = 0
    for amount in amounts:
        returned += refund_total(shared, order_total, refunded, amount)
        refunded += amount
        assert returned == shared * refunded // order_total
    assert returned == shared


@given(st.integers(2, 10**7), st.data())
@settings(max_examples=300)
def test_only_a_refund_of_the_whole_order_takes_a_whole_plan(order_total, data):
    """Why a cancelled delayed sharing needs no unfreeze: partial refunds, however many, leave
    part of a planned sharing (of at least one fen) in place; only the whole order's refund
    takes all of it, and then nothing of the order is left frozen."""
    planned = data.draw(st.integers(1, order_total))
    refunded = data.draw(st.integers(0, order_total - 2))
    amount = data.draw(st.integers(1, order_total - 1 - refunded))
    taken = refund_total(planned, order_total, 0, refunded) if refunded else 0
    taken += refund_total(planned, order_total, refunded, amount)
    assert taken < planned


def test_three_awkward_receivers():
    assert split(1000, {"a": 333, "b": 333, "c": 334}) == {"a": 333, "b": 333, "c": 334}
    assert split(1, {"a": 1001, "b": 997, "c": 1}) == {"a": 1, "b": 0, "c": 0}
    assert split(667, {"a": 1001, "b": 997, "c": 1}) == {"a": 334, "b": 333, "c": 0}  # b: .65 > c: .33
    assert split(2, {"a": 1, "b": 1, "c": 1}) == {"a": 1, "b": 1, "c": 0}


def test_refusals():
    with pytest.raises(ValueError):
        split(3, {"a": 1, "b": 1})
    with pytest.raises(ValueError):
        refund_total(100, 1000, 900, 101)


three = st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6))


@given(three, st.data())
@settings(max_examples=500)
def test_three_receivers_through_a_sequence_of_refunds(shares, data):
    """The center's bookkeeping over successive refunds: each refund's parts sum to its computed
    total, no part exceeds what the receiver still holds, and at the end everything is back."""
    held = dict(zip("abc", shares))
    shared = sum(shares)
    order_total = data.draw(st.integers(max(shared, 1), max(shared, 1) * 4))
    cuts = sorted(set(data.draw(st.lists(st.integers(1, order_total - 1), max_size=8))
                      if order_total > 1 else []))
    bounds = [0] + cuts + [order_total]
    refunded, back = 0, {a: 0 for a in held}
    for amount in (b - a for a, b in zip(bounds, bounds[1:])):
        total = refund_total(shared, order_total, refunded, amount)
        parts = split(total, held)
        assert sum(parts.values()) == total
        assert all(parts[a] <= held[a] for a in held)
        for a in held:
            held[a] -= parts[a]
            back[a] += parts[a]
        refunded += amount
    assert back == dict(zip("abc", shares)) and all(h == 0 for h in held.values())
