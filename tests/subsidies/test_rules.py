"""The amounts of a subsidy under its returns, as plain rules: no AWS, no clock."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.subsidies.rules import (Amounts, NotReserved, ReturnExceedsSubsidy, SubsidyRuleError,
                                        release, reserve, settle, settle_released)


def test_a_return_reserves_then_settles():
    granted = Amounts.granted(100)
    reserved = reserve(30).apply(granted)
    assert reserved == Amounts(total=100, returnable=70, returning=30, returned=0)
    assert settle(30).apply(reserved) == Amounts(total=100, returnable=70, returning=0, returned=30)


def test_a_rejected_return_gives_its_reservation_back():
    reserved = reserve(30).apply(Amounts.granted(100))
    assert release(30).apply(reserved) == Amounts.granted(100)


def test_more_than_is_returnable_is_refused():
    reserved = reserve(60).apply(Amounts.granted(100))
    with pytest.raises(ReturnExceedsSubsidy):
        reserve(41).apply(reserved)
    assert reserve(40).apply(reserved).returnable == 0


@pytest.mark.parametrize("movement", [settle(1), release(1)])
def test_nothing_reserved_cannot_be_settled_or_released(movement):
    with pytest.raises(NotReserved):
        movement.apply(Amounts.granted(100))


def test_a_late_confirmation_after_a_release_is_recorded_even_when_it_overdraws():
    # Return A released as rejected, its fen reserved and settled by return B; then the channel
    # confirms A after all: the money moved, so it is recorded, and the subsidy shows overdrawn.
    amounts = release(80).apply(reserve(80).apply(Amounts.granted(100)))
    amounts = settle(80).apply(reserve(80).apply(amounts))
    late = settle_released(80).apply(amounts)
    assert late == Amounts(total=100, returnable=-60, returning=0, returned=160)
    assert late.overdrawn and not amounts.overdrawn


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, "10", None])
def test_an_amount_is_a_positive_whole_number_of_fen(bad):
    with pytest.raises(SubsidyRuleError):
        reserve(bad)


def test_the_writes_increment_exactly_the_amounts_that_change():
    assert reserve(7).changes() == {"returnable_amount": -7, "returning_amount": 7}
    assert settle(7).changes() == {"returning_amount": -7, "returned_amount": 7}
    assert release(7).changes() == {"returning_amount": -7, "returnable_amount": 7}
    assert reserve(7).requires_returnable == 7 and not settle(7).requires_returnable


def test_amounts_read_from_a_stored_subsidy():
    item = {"total_amount": 100, "returnable_amount": 40, "returning_amount": 35, "returned_amount": 25}
    assert Amounts.of(item) == Amounts(100, 40, 35, 25)


# Each step: (what happens, which return, its amount). A return reserves once, then settles or
# releases its own reservation; a released return may be reserved again (the same return re-sent).
steps = st.lists(st.tuples(st.sampled_from(["reserve", "settle", "release"]),
                           st.integers(0, 5), st.integers(1, 60)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(total=st.integers(1, 200), steps=steps)
def test_returns_never_take_back_more_than_was_granted(total, steps):
    amounts = Amounts.granted(total)
    reserved = {}                # return -> its reserved amount
    for action, ret, amount in steps:
        before = amounts
        try:
            if action == "reserve" and ret not in reserved:
                amounts = reserve(amount).apply(amounts)
                reserved[ret] = amount
            elif action == "settle" and ret in reserved:
                amounts = settle(reserved.pop(ret)).apply(amounts)
            elif action == "release" and ret in reserved:
                amounts = release(reserved.pop(ret)).apply(amounts)
        except ReturnExceedsSubsidy:
            assert amount > before.returnable and amounts == before    # refused: nothing moved
        assert amounts.returnable + amounts.returning + amounts.returned == total
        assert amounts.returning + amounts.returned <= total
        assert min(amounts.returnable, amounts.returning, amounts.returned) >= 0
        assert amounts.returning == sum(reserved.values())
