"""Per-call context of the optimiser: candidates, the epoch's runs, model fitting and SLA probabilities."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from airflow_provider_gradient.core.optimizer.drift import Epoch
from airflow_provider_gradient.core.optimizer.memory import MemoryRisk
from airflow_provider_gradient.core.optimizer.model import Prediction, RuntimeModel, norm_cdf
from airflow_provider_gradient.core.optimizer.space import Candidates
from airflow_provider_gradient.core.optimizer.types import (
    ClusterShape,
    Observation,
    OptimizerSettings,
    SearchSpace,
)


@dataclass(slots=True)
class Ctx:
    """Everything one ``recommend`` call decides on: the space, the candidates, the epoch's runs (with their
    candidate index and input-size ratio), the expected next input, failure risks, the SLA and the reference."""

    space: SearchSpace
    settings: OptimizerSettings
    baseline: ClusterShape
    cands: Candidates
    history: list[Observation]
    epoch: Epoch
    runs: list[Observation]  # runs of the current epoch
    run_idx: np.ndarray  # candidate index per epoch run (-1 when outside the candidates)
    run_size: np.ndarray  # size ratio per epoch run
    size_next: float
    risk: MemoryRisk
    sla_s: float | None
    ref_idx: int
    next_bytes: float | None = None  # expected input of the next run (None when no run reports its input)
    observed_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def cap_mask(ctx: Ctx, ref: int, factor: float | None = None) -> np.ndarray:
    """Candidates within the step cap of ``ref`` (workers and total cores change by at most the factor)."""
    c = ctx.cands
    lf = math.log(factor or ctx.settings.max_change_factor) + 1e-9
    ok = (np.abs(np.log(np.maximum(c.workers, 1) / max(c.workers[ref], 1))) <= lf) & (
        np.abs(np.log(c.cores / c.cores[ref])) <= lf
    )
    return ok


def fit_model(ctx: Ctx) -> RuntimeModel | None:
    """The runtime model fitted on the epoch's successful runs (None before the first success)."""
    c = ctx.cands
    sel = [i for i, o in enumerate(ctx.runs) if o.succeeded and ctx.run_idx[i] >= 0]
    if not sel:
        return None
    ii = ctx.run_idx[sel]
    return RuntimeModel(
        cores=c.cores[ii], mem=c.memory_gb[ii], mpc=c.mem_per_core[ii], vcpus=c.vcpus[ii],
        workers=np.maximum(c.workers[ii], 1.0), size=ctx.run_size[sel],
        runtime_s=np.array([ctx.runs[i].runtime_s for i in sel]),
        virtual=_replay_points(ctx, sel),
    )


#: Event-log replay: at most this many recent runs are replayed, on worker counts within this factor.
REPLAY_RUNS = 2
REPLAY_RANGE = 4.0


def _replay_points(
    ctx: Ctx, sel: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Virtual runs from replaying recent runs' per-stage task durations on other worker counts, same node type.

    Sparklens-style (``core.eventlog.slot_replay.simulate_stage_times``): the measured runtime is scaled by the ratio
    of replayed times, so one run with an event log already predicts its neighbours.
    """
    with_stages = [i for i in sel if ctx.runs[i].stages][-REPLAY_RUNS:]
    if not with_stages:
        return None
    from types import SimpleNamespace

    from airflow_provider_gradient.core.eventlog.slot_replay import simulate_stage_times

    c = ctx.cands
    out: list[tuple[float, float, float, float, float, float]] = []
    for i in with_stages:
        o, k = ctx.runs[i], int(ctx.run_idx[i])
        stages = o.stages
        try:
            spans = sorted((float(s.submission_ms), float(s.completion_ms)) for s in stages
                           if s.submission_ms is not None and s.completion_ms is not None)
            active, end = 0.0, -math.inf
            for a, b in spans:  # union of stage intervals
                if b > end:
                    active += b - max(a, end)
                    end = b
            summary = SimpleNamespace(stage_details=stages, duration_s=o.runtime_s, stage_active_ms=active)
            base = simulate_stage_times(summary, max(1, int(c.cores[k])))  # type: ignore[arg-type]
            if base <= 0:
                continue
            same = np.nonzero((c.node_idx == c.node_idx[k]) & (c.workers != c.workers[k])
                              & (c.workers >= c.workers[k] / REPLAY_RANGE) & (c.workers <= c.workers[k] * REPLAY_RANGE))[0]
            for j in same[:8]:
                t = simulate_stage_times(summary, max(1, int(c.cores[j])))  # type: ignore[arg-type]
                out.append((float(c.cores[j]), float(c.memory_gb[j]), float(max(c.workers[j], 1.0)),
                            float(ctx.run_size[i]), o.runtime_s * t / base, float(c.mem_per_core[j])))
        except (AttributeError, TypeError, ValueError):
            continue  # stage summaries of an unexpected shape: no replay
    if not out:
        return None
    arr = np.array(out)
    return arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4], arr[:, 5]


def predict(ctx: Ctx, model: RuntimeModel) -> Prediction:
    """The model's runtime prediction of every candidate at the next run's expected input."""
    c = ctx.cands
    return model.predict(c.cores, c.memory_gb, c.mem_per_core, c.vcpus, np.maximum(c.workers, 1.0), ctx.size_next)


def observed(ctx: Ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per candidate: observed runtime scaled to the next size (nan if never succeeded), met SLA, missed SLA."""
    if ctx.observed_cache is not None:
        return ctx.observed_cache
    n = len(ctx.cands)
    t_obs = np.full(n, np.nan)
    met = np.zeros(n, dtype=bool)
    missed = np.zeros(n, dtype=bool)
    for o, i, s in zip(ctx.runs, ctx.run_idx, ctx.run_size, strict=True):
        if i < 0:
            continue
        if not o.succeeded:
            met[i], missed[i] = False, True
            continue
        t = o.runtime_s * ctx.size_next / max(s, 1e-9)
        t_obs[i] = t if np.isnan(t_obs[i]) else math.exp(0.5 * (math.log(t_obs[i]) + math.log(t)))
        ok = ctx.sla_s is None or t <= ctx.sla_s
        met[i], missed[i] = ok, not ok
    ctx.observed_cache = (t_obs, met, missed)
    return ctx.observed_cache


def p_sla(ctx: Ctx, pred: Prediction) -> np.ndarray:
    """P(the next run's runtime ≤ SLA) of every candidate (run-to-run noise included; 1 without an SLA)."""
    if ctx.sla_s is None:
        return np.ones_like(pred.mu)
    return np.asarray(norm_cdf((math.log(ctx.sla_s) - pred.mu) / pred.sigma))


def best_ref(ctx: Ctx) -> int:
    """Cheapest observed shape that met the SLA, else the last successful one, else the reference."""
    t_obs, met, _ = observed(ctx)
    cost = ctx.cands.rate_usd * t_obs / 3600.0
    good = np.nonzero(met & ~np.isnan(t_obs) & ~ctx.risk.banned)[0]
    if good.size:
        return int(good[np.argmin(cost[good])])
    for o, i in zip(reversed(ctx.runs), reversed(ctx.run_idx.tolist()), strict=True):
        if o.succeeded and i >= 0 and not ctx.risk.banned[i]:
            return int(i)
    return ctx.ref_idx
