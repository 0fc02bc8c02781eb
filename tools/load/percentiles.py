"""Exact percentiles by the nearest-rank method.

The p-th percentile of n values is the value at rank ceil(p/100 * n) of the
sorted values (rank 1 is the smallest): always one of the measured values,
never an interpolation between two. p is taken as the decimal it is written as
(95, 99.9, "99.9"), so 99.9 % of 1000 values is rank 999 exactly, not a rank
shifted by binary floating point.
"""
import math
from decimal import Decimal
from fractions import Fraction
from typing import Dict, Iterable, Sequence, Union

Number = Union[int, float, str, Decimal, Fraction]


def _exact(p: Number) -> Fraction:
    value = Fraction(str(p)) if isinstance(p, (float, str)) else Fraction(p)
    if not 0 < value <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    return value


def nearest_rank(p: Number, n: int) -> int:
    """The 1-based rank of the p-th percentile among n sorted values."""
    if n < 1:
        raise ValueError("no values")
    return max(1, math.ceil(_exact(p) * n / 100))


def percentile(values: Sequence[float], p: Number, *, presorted: bool = False) -> float:
    ordered = values if presorted else sorted(values)
    return ordered[nearest_rank(p, len(ordered)) - 1]


def summary(values: Iterable[float], points: Sequence[Number] = (50, 95, 99)) -> Dict[str, float]:
    """{"p50": ..., "p95": ..., "p99": ..., "max": ...}; an empty dict for no values."""
    ordered = sorted(values)
    if not ordered:
        return {}
    result = {f"p{p}": percentile(ordered, p, presorted=True) for p in points}
    result["max"] = ordered[-1]
    return result
