"""The duration sketch's quantiles: the bisect walk gives exactly the values of a plain linear walk."""

from __future__ import annotations

import random
from collections.abc import Sequence

from airflow_provider_gradient.core.eventlog.sketch import bucket_of, bucket_value, quantiles
from airflow_provider_gradient.core.eventlog.summary import QUANTILE_LEVELS


def _linear(buckets: dict[int, int], levels: Sequence[float], lo: float, hi: float) -> tuple[float, ...]:
    """Reference: walk the sorted buckets one by one, counting values, for each level in turn."""
    total = sum(buckets.values())
    if total <= 0:
        return tuple(0.0 for _ in levels)
    keys = sorted(buckets)
    out: list[float] = []
    i = 0
    cum = buckets[keys[0]]
    for q in levels:
        if q <= 0.0:
            out.append(float(lo))
        elif q >= 1.0:
            out.append(float(hi))
        else:
            rank = q * (total - 1)
            while cum - 1 < rank and i < len(keys) - 1:
                i += 1
                cum += buckets[keys[i]]
            out.append(min(max(bucket_value(keys[i]), float(lo)), float(hi)))
    return tuple(out)


def test_quantiles_equal_the_linear_walk() -> None:
    rnd = random.Random(3)
    for n in range(5000):
        size = rnd.choice([1, 1, 2, 3, 5, 20, 100])
        buckets = {rnd.randint(-1, 400): rnd.choice([1, 1, 2, 3, 7, 100, 10**6]) for _ in range(size)}
        lo, hi = rnd.randint(0, 50), rnd.randint(0, 10**7)
        levels = QUANTILE_LEVELS if n % 3 else sorted(rnd.random() for _ in range(rnd.randint(1, 30)))
        assert quantiles(buckets, levels, lo, hi) == _linear(buckets, levels, lo, hi)


def test_quantiles_of_known_durations() -> None:
    durations = list(range(1, 1001))
    buckets: dict[int, int] = {}
    for d in durations:
        buckets[bucket_of(d)] = buckets.get(bucket_of(d), 0) + 1
    q = quantiles(buckets, QUANTILE_LEVELS, 1, 1000)
    assert q[0] == 1.0 and q[-1] == 1000.0
    assert abs(q[10] - 500) / 500 < 0.03 and abs(q[18] - 900) / 900 < 0.03
    assert quantiles({}, QUANTILE_LEVELS, 0, 0) == (0.0,) * 21
