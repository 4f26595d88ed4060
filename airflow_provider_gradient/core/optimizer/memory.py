"""Failure guardrails: shapes banned after failures, and a failure risk for untried shapes.

- A shape that failed is never recommended again, whatever the cause; a spot interruption (transient) allows
  one retry.
- An out-of-memory failure also bans every shape *dominated in memory* by it (no more GB per core and no more
  total GB), and puts a high risk on any shape with no more GB per core, however much total memory it has,
  unless a success was measured at that GB per core: a Spark task gets about its node's memory per core (one
  executor per worker shares the heap among its cores), so a bigger node of the same family gives each task no
  more room.
- A failure of unknown cause (or ``other``/``timeout``) is evidence against similar shapes without assuming it
  was memory: shapes with no more memory *and* no more cores carry a high risk, shapes with no more memory per
  core and total memory a moderate one, unless a success already covers them.
- Shapes not dominated by any successful run carry a risk that grows with how much less memory they have than
  the smallest success; event-log metrics (spill, peak execution memory per task) raise it further.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from airflow_provider_gradient.core.optimizer.space import Candidates, shape_features
from airflow_provider_gradient.core.optimizer.types import Observation, SearchSpace

#: Failure risk of a shape with no more memory and no more cores than a failure of unknown cause.
UNKNOWN_FAILURE_RISK = 0.5
#: Failure risk of an untried shape per halving of (total memory, memory per core) below the nearest success, and
#: the base risk of any shape below every success (no memory evidence: a mild prior, or cheaper families are never
#: explored).
PRIOR_PER_HALVING: tuple[float, float] = (0.03, 0.04)
PRIOR_BASE = 0.01
#: Failure risk, after an out-of-memory failure, of a shape with as little memory per core or total memory.
OOM_NEIGHBOUR_RISK = 0.3
#: Share of a node's memory that Spark execution can use per core (heap × unified-memory fraction).
USABLE_MEMORY_FRACTION = 0.45
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class MemoryRisk:
    """Per-candidate memory verdicts.

    :param banned: never recommend (failed, or a smaller-memory neighbour of an out-of-memory failure).
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
    unknown: list[tuple[float, float, float]] = []  # (total GB, GB per core, cores) of failures of other causes
    spot_fails: dict[int, int] = {}
    for o in history:
        f = _features(space, o)
        if f is None:
            continue
        hit = cands.index_of(o.shape.node_type_id, o.shape.effective_workers)
        if not o.succeeded and hit is not None:
            if o.failure_kind == "spot":
                spot_fails[hit] = spot_fails.get(hit, 0) + 1
                if spot_fails[hit] >= 2:
                    banned[hit] = True
            else:
                banned[hit] = True
        if not o.succeeded and o.failure_kind == "oom":
            ooms.append(f)
            oom_shapes.append((o.shape.node_type_id, int(round(o.shape.effective_workers))))
        elif not o.succeeded and o.failure_kind != "spot":
            unknown.append((f[0], f[1], max(o.shape.effective_workers, 1.0) * space.node(o.shape.node_type_id).vcpus))
        elif o.succeeded:
            oks.append(f)
            peak = float(o.metrics.get("peak_execution_memory_max_bytes", 0.0) or 0.0)
            peak_task_gb = max(peak_task_gb, peak / 1e9)
            spilled = float(o.metrics.get("memory_spilled_bytes", 0.0) or 0.0) + float(
                o.metrics.get("disk_spilled_bytes", 0.0) or 0.0
            )
            if spilled > 0:
                spill_mem_gb.append(f[0])
    mem, mpc = cands.memory_gb, cands.mem_per_core
    if unknown:
        # a success with no more memory per core and total memory than a candidate covers it (the failure was
        # then not about memory there)
        covered = np.zeros(n, dtype=bool)
        for om, ompc in oks:
            covered |= (mpc >= ompc - _EPS) & (mem >= om - _EPS)
        for fm, fmpc, fc in unknown:
            both = (mem <= fm + _EPS) & (cands.cores <= fc + _EPS)
            memory_only = (mpc <= fmpc + _EPS) & (mem <= fm + _EPS)
            risk = np.where(both & ~covered, np.maximum(risk, UNKNOWN_FAILURE_RISK), risk)
            risk = np.where(memory_only & ~both & ~covered, np.maximum(risk, 0.5 * UNKNOWN_FAILURE_RISK), risk)
    # memory per core at which some run succeeded: a task had enough room there
    mpc_ok = np.zeros(n, dtype=bool)
    for _, ompc in oks:
        mpc_ok |= mpc >= ompc - _EPS
    for fm, fmpc in ooms:
        banned |= (mpc <= fmpc + _EPS) & (mem <= fm + _EPS)
        # partially dominated: as little memory per task (whatever the total, unless a success had as little), or
        # as little total memory
        near = (((mpc <= fmpc + _EPS) & ((mem <= 1.5 * fm) | ~mpc_ok))
                | ((mem <= fm + _EPS) & (mpc <= 1.5 * fmpc)))
        risk = np.where(near, np.maximum(risk, OOM_NEIGHBOUR_RISK), risk)
    if oks:
        ok = np.array(oks)
        # distance below the nearest success (0 when some success has no more memory on both axes)
        gap_m = np.log2(np.maximum(ok[None, :, 0] / mem[:, None], 1.0))
        gap_p = np.log2(np.maximum(ok[None, :, 1] / mpc[:, None], 1.0))
        gap = (PRIOR_PER_HALVING[0] * gap_m + PRIOR_PER_HALVING[1] * gap_p).min(axis=1)
        prior = np.where(gap > 0, np.minimum(0.6, PRIOR_BASE + gap), 0.0)
    else:
        prior = np.full(n, 0.15)
    if spill_mem_gb:
        prior = np.where(mem < max(spill_mem_gb) - _EPS, prior + 0.1, prior)
    if peak_task_gb > 0:
        prior = np.where(mpc * USABLE_MEMORY_FRACTION < peak_task_gb, prior + 0.4, prior)
    risk = np.clip(np.maximum(risk, prior), 0.0, 1.0)
    risk[banned] = 1.0
    return MemoryRisk(banned=banned, p_fail=risk, oom_shapes=tuple(oom_shapes))
