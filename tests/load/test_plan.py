"""The load plan: deterministic from its seed, the counts asked for, withdraws sized as documented."""
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from tools.load.plan import (MAX_AMOUNT_FEN, PAY, PAYS_FIRST_SHARE, WITHDRAW, PlanSpec,
                             overdraw_count, plan, saler_ids)


def test_the_same_seed_gives_the_same_calls_and_another_seed_others():
    spec = PlanSpec(pays=300, withdraws=60, salers=10, seed=42)
    assert plan(spec) == plan(PlanSpec(pays=300, withdraws=60, salers=10, seed=42))
    assert plan(spec) != plan(PlanSpec(pays=300, withdraws=60, salers=10, seed=43))


def test_the_default_plan_has_the_issue_s_shape():
    calls = plan(PlanSpec())
    kinds = Counter(call.kind for call in calls)
    assert kinds == {PAY: 2000, WITHDRAW: 400}
    assert sum(call.overdraw for call in calls) == 40
    assert {call.saler_id for call in calls} <= set(saler_ids(PlanSpec()))
    assert len({call.saler_id for call in calls if call.kind == PAY}) == 50


def test_withdraws_start_after_the_first_pays_and_are_interleaved():
    spec = PlanSpec(pays=500, withdraws=100, seed=5)
    calls = plan(spec)
    first_withdraw = next(c.index for c in calls if c.kind == WITHDRAW)
    assert first_withdraw >= int(spec.pays * PAYS_FIRST_SHARE)
    last_pay = max(c.index for c in calls if c.kind == PAY)
    assert first_withdraw < last_pay, "withdraws must be mixed with pays, not all after them"


def test_saler_ids_are_numbered_with_the_prefix():
    assert saler_ids(PlanSpec(salers=3, saler_prefix="m7-")) == ["m7-01", "m7-02", "m7-03"]
    assert saler_ids(PlanSpec(salers=120))[-1] == "saler-120"


def test_message_bodies_follow_the_merchant_contract():
    calls = plan(PlanSpec(pays=20, withdraws=5, seed=1))
    pay = next(c for c in calls if c.kind == PAY)
    withdraw = next(c for c in calls if c.kind == WITHDRAW)
    assert pay.path == "/merchant/pay"
    assert pay.body() == {"saler_id": pay.saler_id, "total_fee": str(pay.amount)}
    assert withdraw.path == "/merchant/withdraw"
    assert withdraw.body() == {"saler_id": withdraw.saler_id,
                               "withdraw_money": str(withdraw.amount)}


@pytest.mark.parametrize("field, value", [
    ("pays", -1), ("withdraws", -1), ("salers", 0), ("min_amount", 0),
    ("max_amount", MAX_AMOUNT_FEN + 1), ("overdraw_share", 1.5), ("saler_prefix", "")])
def test_an_unusable_spec_is_refused_naming_the_option(field, value):
    with pytest.raises(ValueError, match=f"--{field.replace('_', '-')}"):
        plan(PlanSpec(**{field: value}))


def test_min_above_max_is_refused():
    with pytest.raises(ValueError, match="--min-amount must not exceed --max-amount"):
        plan(PlanSpec(min_amount=500, max_amount=100))


specs = st.builds(
    PlanSpec,
    pays=st.integers(0, 300), withdraws=st.integers(0, 120), salers=st.integers(1, 20),
    min_amount=st.integers(1, 1000), max_amount=st.integers(1000, 100_000),
    overdraw_share=st.floats(0, 1), seed=st.integers(0, 2**32))


@settings(max_examples=150, deadline=None)
@given(specs)
def test_every_plan_keeps_its_counts_order_and_amount_rules(spec):
    calls = plan(spec)
    assert [c.index for c in calls] == list(range(spec.pays + spec.withdraws))
    pays = [c for c in calls if c.kind == PAY]
    withdraws = [c for c in calls if c.kind == WITHDRAW]
    assert len(pays) == spec.pays and len(withdraws) == spec.withdraws
    assert sum(c.overdraw for c in withdraws) == overdraw_count(spec) == round(
        spec.withdraws * spec.overdraw_share)
    assert not any(c.overdraw for c in pays)
    assert all(spec.min_amount <= c.amount <= spec.max_amount for c in pays)
    assert all(c.amount >= 1 for c in calls)

    # Walk the plan in order: what each saler has been paid so far, and asked back so far.
    total = Counter()
    for c in pays:
        total[c.saler_id] += c.amount
    paid, withdrawn = Counter(), Counter()
    for c in calls:
        if c.kind == PAY:
            paid[c.saler_id] += c.amount
        elif c.overdraw:
            assert c.amount > total[c.saler_id], "an overdraw exceeds every pay to its saler"
        else:
            available = paid[c.saler_id] - withdrawn[c.saler_id]
            if any(paid[s] > withdrawn[s] for s in paid):
                assert 0 < c.amount <= max(1, available // 2), \
                    "a normal withdraw asks at most half of what is left to the saler"
            withdrawn[c.saler_id] += c.amount
