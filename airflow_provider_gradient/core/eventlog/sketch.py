"""A bounded quantile sketch of task durations (log-spaced buckets, constant memory per stage)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

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

    The value at level q is that of the first bucket (in value order) holding the value of rank
    ``q * (count - 1)``, i.e. the first bucket ``i`` whose count of values before its last one
    reaches that rank; the last bucket when none does.

    :param buckets: bucket index -> count.
    :param levels: increasing quantile levels in [0, 1].
    :param lo: exact minimum seen.
    :param hi: exact maximum seen.
    """
    total = sum(buckets.values())
    if total <= 0:
        return tuple(0.0 for _ in levels)
    flo, fhi = float(lo), float(hi)
    first = 0  # levels <= 0 come first, levels >= 1 last
    while first < len(levels) and levels[first] <= 0.0:
        first += 1
    end = first
    while end < len(levels) and levels[end] < 1.0:
        end += 1
    out = [flo] * first
    scale = total - 1
    ranks = [q * scale for q in levels[first:end]]
    done = 0
    cum = 0
    keys = sorted(buckets)
    for k in keys[:-1]:
        if done == len(ranks):
            break
        cum += buckets[k]
        upto = bisect_right(ranks, cum - 1, done)  # the levels whose rank this bucket reaches
        if upto > done:
            out += [min(max(bucket_value(k), flo), fhi)] * (upto - done)
            done = upto
    if done < len(ranks):
        out += [min(max(bucket_value(keys[-1]), flo), fhi)] * (len(ranks) - done)
    out += [fhi] * (len(levels) - end)
    return tuple(out)
