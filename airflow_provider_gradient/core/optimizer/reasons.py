"""Human-readable pieces of the recommendation's reason text."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from airflow_provider_gradient.core.optimizer.model import RuntimeModel
from airflow_provider_gradient.core.optimizer.space import Candidates
from airflow_provider_gradient.core.optimizer.types import Observation


def fmt_shape(cands: Candidates, i: int) -> str:
    """``8×r5.xlarge``."""
    return f"{int(cands.workers[i])}×{cands.name(i)}"


def fmt_minutes(minutes: float) -> str:
    """``30`` / ``51.8`` / ``0.75``: minutes with at most one decimal (two below one minute)."""
    if minutes < 1.0:
        return f"{minutes:.2f}".rstrip("0").rstrip(".")
    return f"{minutes:.1f}".removesuffix(".0")


def fmt_size(n: float) -> str:
    """An input size: ``12.5 GB`` for byte counts (≥ 1 MB), else the plain number (a replay's own unit)."""
    if n >= 1e6:
        for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
            if n >= div:
                return f"{n / div:.3g} {unit}"
    return f"{n:.4g}"


def money(usd: float) -> str:
    """``$1.92`` (or ``$0.0123`` for small amounts)."""
    return f"${usd:.2f}" if usd >= 0.1 else f"${usd:.4f}"


def describe_scaling(
    cands: Candidates, run_idx: np.ndarray, runs: Sequence[Observation], model: RuntimeModel
) -> str:
    """Describe how runtime responds to workers, from the successful runs of the most-tried node type.

    E.g. ``runtime ∝ 1/workers up to 12 workers`` or ``runtime stops improving beyond 8 workers``.
    """
    ok = [int(i) for o, i in zip(runs, run_idx, strict=True) if o.succeeded and i >= 0]
    if not ok:
        return "no successful run yet"
    nodes = [int(cands.node_idx[i]) for i in ok]
    main = max(set(nodes), key=nodes.count)
    ws = sorted({float(cands.workers[i]) for i in ok if int(cands.node_idx[i]) == main})
    if len(ws) < 2:
        return f"runtimes on {len(set(nodes))} node type(s)"
    same = np.nonzero(cands.node_idx == main)[0]
    lo_w, hi_w = ws[0], ws[-1]
    pts = [int(same[np.argmin(np.abs(cands.workers[same] - w))]) for w in ws]
    size = 1.0
    t = model.param_runtime(cands.cores[pts], cands.memory_gb[pts], np.maximum(cands.workers[pts], 1.0), size)
    # parallel efficiency between consecutive observed worker counts
    last_good = lo_w
    for a, b, ta, tb in zip(ws[:-1], ws[1:], t[:-1], t[1:], strict=True):
        eff = (ta / tb) / (b / a)
        if eff >= 0.7:
            last_good = b
        else:
            break
    if last_good >= hi_w:
        return f"runtime ∝ 1/workers up to {int(hi_w)} workers"
    if last_good > lo_w:
        return f"runtime ∝ 1/workers up to {int(last_good)} workers, with diminishing returns beyond"
    speedup = float(t[0] / t[-1])
    return (f"runtime improves only {speedup:.2f}× from {int(lo_w)} to {int(hi_w)} workers "
            f"(serial or shuffle bound)")
