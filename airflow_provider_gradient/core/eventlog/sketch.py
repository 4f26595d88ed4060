"""A bounded quantile sketch of task durations (log-spaced buckets, constant memory per stage)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate

#: Bucket growth factor: a value is reported within about +-1.5 % of its true value.
GAMMA = 1.03
_INV_LOG_GAMMA = 1.0 / math.log(GAMMA)


def bucket_of(value: float) -> int:
    """Bucket index of a duration in ms (durations below 1 ms share bucket -1)."""
    if value < 1.0:
        return -1
    return int(math.log(value) * _INV_LOG_GAMMA)


def bucket_value(index: int) -> float:
    """Representative value of a bucket (its geometric middle)."""
    if index < 0:
        return 0.0
    return float(GAMMA ** (index + 0.5))


def quantiles(buckets: dict[int, int], levels: Sequence[float], lo: float, hi: float) -> tuple[float, ...]:
    """Values at the given quantile levels (0..1) from bucket counts, clamped to the exact min/max.

    :param buckets: bucket index -> count.
    :param levels: increasing quantile levels in [0, 1].
    :param lo: exact minimum seen.
    :param hi: exact maximum seen.
    """
    total = sum(buckets.values())
    if total <= 0:
        return tuple(0.0 for _ in levels)
    flo, fhi = float(lo), float(hi)
    keys = sorted(buckets)
    last = len(keys) - 1
    # below[i]: how many values lie before the last one of bucket i; the value at rank r is in the
    # first bucket with below[i] >= r (the last bucket when none is).
    below = [c - 1 for c in accumulate([buckets[k] for k in keys])]
    values: dict[int, float] = {}
    out: list[float] = []
    for q in levels:
        if q <= 0.0:
            out.append(flo)
        elif q >= 1.0:
            out.append(fhi)
        else:
            i = bisect_left(below, q * (total - 1), 0, last)
            v = values.get(i)
            if v is None:
                v = values[i] = min(max(bucket_value(keys[i]), flo), fhi)
            out.append(v)
    return tuple(out)
