"""Drift detection (the job changed: code, data shape) and the expected input size of the next run.

The optimiser is stateless, so the current *epoch* (runs since the last detected drift) is recomputed from
the whole history on each call. A drift starts where two consecutive comparable runs disagree with what was
known, in the same direction: a repeated shape running much slower/faster (after input-size normalisation),
or an out-of-memory failure on a shape that had succeeded in the epoch.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from airflow_provider_gradient.core.optimizer.types import Observation

#: Smallest |log ratio| on the same shape that counts as a surprise (≈ ±28 %).
DRIFT_LOG_THRESHOLD = 0.25


@dataclass(frozen=True, slots=True)
class Epoch:
    """Where the current epoch starts and why.

    :param start: index in the history of the first run of the epoch.
    :param reason: human-readable cause ("" when no drift was detected).
    """

    start: int
    reason: str


def _key(o: Observation) -> tuple[str, float]:
    return (o.shape.node_type_id, o.shape.effective_workers)


def size_ratios(history: Sequence[Observation], ref_bytes: float | None) -> np.ndarray:
    """Input-size ratio of each run relative to ``ref_bytes`` (1.0 when unknown)."""
    out = np.ones(len(history))
    if not ref_bytes:
        return out
    for i, o in enumerate(history):
        if o.input_bytes and o.input_bytes > 0:
            out[i] = o.input_bytes / ref_bytes
    return out


def reference_bytes(history: Sequence[Observation]) -> float | None:
    """Median known input size of ``history`` (None when no run reports it)."""
    sizes = [o.input_bytes for o in history if o.input_bytes and o.input_bytes > 0]
    return float(np.median(sizes)) if sizes else None


def expected_next_bytes(history: Sequence[Observation]) -> float | None:
    """Expected input size of the next run: linear trend over the last (≤ 6) known sizes, never below 0."""
    sizes = [float(o.input_bytes) for o in history if o.input_bytes and o.input_bytes > 0][-6:]
    if not sizes:
        return None
    if len(sizes) < 3:
        return sizes[-1]
    if abs(sizes[-1] - sizes[-2]) <= 0.01 * max(sizes[-1], 1e-9):
        return sizes[-1]  # the input stopped growing: a plateau, not a trend
    x = np.arange(len(sizes), dtype=float)
    slope, intercept = np.polyfit(x, np.array(sizes), 1)
    nxt = float(intercept + slope * len(sizes))
    # only extrapolate a trend, never below the smallest recent size
    return max(nxt, sizes[-1]) if slope > 0 else sizes[-1]


def detect_epoch(history: Sequence[Observation]) -> Epoch:
    """Find the start of the current epoch.

    :param history: all runs, oldest first.
    """
    start = 0
    reason = ""
    seen: dict[tuple[str, float], list[float]] = {}
    ok_shapes: set[tuple[str, float]] = set()
    pending: tuple[int, float] | None = None  # (index, signed deviation) of the last surprise
    ref = reference_bytes(history)
    for i, o in enumerate(history):
        k = _key(o)
        if not o.succeeded:
            if o.failure_kind == "oom" and k in ok_shapes:
                start, reason = i, f"{int(k[1])}×{k[0]} ran out of memory after succeeding before"
                seen, ok_shapes, pending = {}, set(), None
            continue
        size = (o.input_bytes / ref) if (ref and o.input_bytes) else 1.0
        lt = math.log(max(o.runtime_s, 1e-3) / max(size, 1e-9))
        prev = seen.get(k)
        surprise = 0.0
        if prev:
            d = lt - statistics.median(prev[-10:])
            if abs(d) > DRIFT_LOG_THRESHOLD:
                surprise = d
        if surprise:
            if pending is not None and np.sign(pending[1]) == np.sign(surprise):
                j = pending[0]
                pct = (math.exp(surprise) - 1.0) * 100.0
                start = j
                reason = f"runtime changed {pct:+.0f}% on the same cluster ({int(k[1])}×{k[0]})"
                seen, ok_shapes = {}, set()
                for o2 in history[j:i + 1]:
                    if o2.succeeded:
                        s2 = (o2.input_bytes / ref) if (ref and o2.input_bytes) else 1.0
                        seen.setdefault(_key(o2), []).append(math.log(max(o2.runtime_s, 1e-3) / max(s2, 1e-9)))
                        ok_shapes.add(_key(o2))
                pending = None
                continue
            pending = (i, surprise)
        else:
            pending = None
        seen.setdefault(k, []).append(lt)
        ok_shapes.add(k)
    return Epoch(start=start, reason=reason)
