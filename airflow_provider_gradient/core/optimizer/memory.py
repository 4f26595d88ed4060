"""Memory guardrails: shapes banned after out-of-memory failures, and a failure risk for untried shapes.

A shape *dominated in memory* by a failed one (no more GB per core and no more total GB) is banned: the
failed shape itself and every smaller-memory neighbour. Shapes not dominated by any successful run carry a
risk that grows with how much less memory they have than the smallest success; event-log metrics (spill,
peak execution memory per task) raise it further.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from airflow_provider_gradient.core.optimizer.space import Candidates, shape_features
from airflow_provider_gradient.core.optimizer.types import Observation, SearchSpace

#: Share of a node's memory that Spark execution can use per core (heap × unified-memory fraction).
USABLE_MEMORY_FRACTION = 0.45
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class MemoryRisk:
    """Per-candidate memory verdicts.

    :param banned: never recommend (failed for memory, or a smaller-memory neighbour of such a shape).
    :param p_fail: estimated probability of failing (memory or repeated other failure).
    :param oom_shapes: (node type, workers) of memory failures, for the reason text.
    """

    banned: np.ndarray
    p_fail: np.ndarray
    oom_shapes: tuple[tuple[str, int], ...]


def _features(space: SearchSpace, obs: Observation) -> tuple[float, float] | None:
    try:
        cores, mem, mpc, _ = shape_features(space, obs.shape)
    except ValueError:
        return None
    del cores
    return mem, mpc


def memory_risk(cands: Candidates, history: Sequence[Observation], space: SearchSpace) -> MemoryRisk:
    """Compute bans and failure risk for every candidate from the whole history.

    :param cands: candidates.
    :param history: all runs (bans never expire).
    :param space: search space (node facts of past shapes).
    """
    n = len(cands)
    banned = np.zeros(n, dtype=bool)
    risk = np.zeros(n)
    ooms: list[tuple[float, float]] = []
    oks: list[tuple[float, float]] = []
    oom_shapes: list[tuple[str, int]] = []
    peak_task_gb = 0.0
    spill_mem_gb: list[float] = []
    for o in history:
        f = _features(space, o)
        if f is None:
            continue
        if not o.succeeded and o.failure_kind == "oom":
            ooms.append(f)
            oom_shapes.append((o.shape.node_type_id, int(round(o.shape.effective_workers))))
        elif o.succeeded:
            oks.append(f)
            peak = float(o.metrics.get("peak_execution_memory_max_bytes", 0.0) or 0.0)
            peak_task_gb = max(peak_task_gb, peak / 1e9)
            spilled = float(o.metrics.get("memory_spilled_bytes", 0.0) or 0.0) + float(
                o.metrics.get("disk_spilled_bytes", 0.0) or 0.0
            )
            if spilled > 0:
                spill_mem_gb.append(f[0])
        elif o.failure_kind in ("other", "timeout"):
            hit = cands.index_of(o.shape.node_type_id, o.shape.effective_workers)
            if hit is not None:
                risk[hit] = max(risk[hit], 0.5)
    mem, mpc = cands.memory_gb, cands.mem_per_core
    for fm, fmpc in ooms:
        banned |= (mpc <= fmpc + _EPS) & (mem <= fm + _EPS)
        # partially dominated: as little memory per task, or as little total memory
        near = ((mpc <= fmpc + _EPS) & (mem <= 1.5 * fm)) | ((mem <= fm + _EPS) & (mpc <= 1.5 * fmpc))
        risk = np.where(near, np.maximum(risk, 0.3), risk)
    if oks:
        ok = np.array(oks)
        # distance below the nearest success (0 when some success has no more memory on both axes)
        gap_m = np.log2(np.maximum(ok[None, :, 0] / mem[:, None], 1.0))
        gap_p = np.log2(np.maximum(ok[None, :, 1] / mpc[:, None], 1.0))
        gap = (0.05 * gap_m + 0.12 * gap_p).min(axis=1)
        prior = np.where(gap > 0, np.minimum(0.6, 0.02 + gap), 0.0)
    else:
        prior = np.full(n, 0.15)
    if spill_mem_gb:
        prior = np.where(mem < max(spill_mem_gb) - _EPS, prior + 0.1, prior)
    if peak_task_gb > 0:
        prior = np.where(mpc * USABLE_MEMORY_FRACTION < peak_task_gb, prior + 0.4, prior)
    risk = np.clip(np.maximum(risk, prior), 0.0, 1.0)
    risk[banned] = 1.0
    return MemoryRisk(banned=banned, p_fail=risk, oom_shapes=tuple(oom_shapes))
