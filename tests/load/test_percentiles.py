"""Nearest-rank percentiles, checked against the definition on the sorted values."""
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from tools.load.percentiles import nearest_rank, percentile, summary

values = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1,
                  max_size=300) | st.lists(st.integers(0, 50), min_size=1, max_size=300)
whole_points = st.integers(1, 100)
decimal_points = st.decimals(min_value="0.1", max_value="100", places=1)


def reference(data, p) -> float:
    """The smallest value with at least p % of the values at or below it."""
    ordered = sorted(data)
    share = Fraction(str(p))
    for value in ordered:
        if Fraction(sum(1 for x in ordered if x <= value) * 100, len(ordered)) >= share:
            return value
    raise AssertionError("p <= 100 always finds a value")


@given(values, whole_points | decimal_points)
def test_percentile_is_the_smallest_value_covering_p_percent(data, p):
    assert percentile(data, p) == reference(data, p)


@given(values, whole_points, whole_points)
def test_percentile_never_decreases_with_p(data, p, q):
    low, high = sorted((p, q))
    assert percentile(data, low) <= percentile(data, high)


@given(values)
def test_p100_is_the_maximum_and_the_summary_agrees(data):
    assert percentile(data, 100) == max(data)
    result = summary(data)
    assert result["max"] == max(data)
    assert result["p50"] <= result["p95"] <= result["p99"] <= result["max"]
    assert all(result[key] in data for key in result)


def test_known_examples():
    data = [15, 20, 35, 40, 50]
    assert [percentile(data, p) for p in (5, 30, 40, 50, 100)] == [15, 20, 20, 35, 50]
    thousand = list(range(1, 1001))
    assert percentile(thousand, 99.9) == 999     # exact: not shifted by binary floating point
    assert percentile(thousand, "99.9") == 999
    assert nearest_rank(95, 20) == 19
    assert percentile([7.5], 1) == 7.5


def test_nonsense_is_refused_and_no_values_give_an_empty_summary():
    with pytest.raises(ValueError):
        percentile([1, 2], 0)
    with pytest.raises(ValueError):
        percentile([1, 2], 100.5)
    with pytest.raises(ValueError):
        percentile([], 50)
    assert summary([]) == {}
