"""``recommend``: the optimiser's pure entry point.

Learning phase (K runs per epoch, baseline first): an Ernest-style design around the reference shape —
scale workers up and down by the step cap on the same node type, then try the most promising other node type
at similar cores. Optimizing phase: fit :class:`RuntimeModel` on the epoch's runs and pick the cheapest
expected cost with ``P(runtime ≤ SLA) ≥ sla_confidence``, inside the step cap, honouring the memory and
fallback guardrails. A detected drift starts a new epoch (re-learning).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from airflow_provider_gradient.core.optimizer.drift import (
    Epoch,
    detect_epoch,
    expected_next_bytes,
    reference_bytes,
)
from airflow_provider_gradient.core.optimizer.memory import MemoryRisk, memory_risk
from airflow_provider_gradient.core.optimizer.model import Prediction, RuntimeModel, norm_cdf
from airflow_provider_gradient.core.optimizer.reasons import describe_scaling, fmt_shape, money
from airflow_provider_gradient.core.optimizer.space import Candidates, build_candidates
from airflow_provider_gradient.core.optimizer.types import (
    ClusterShape,
    Observation,
    OptimizerSettings,
    Recommendation,
    SearchSpace,
)

#: Longest predicted runtime for which spot workers are still considered (interruptions hurt long jobs).
SPOT_MAX_RUNTIME_S = 3600.0
#: Largest tolerated failure risk for an optimizing recommendation.
MAX_P_FAIL = 0.12
#: P(runtime ≤ SLA) required to probe an untried shape once the best one is measured.
EXPLORE_CONFIDENCE = 0.65
#: Smallest P(cheaper) × P(meets SLA) worth a probe run.
MIN_PROBE_SCORE = 0.15
#: Parallel efficiency (speed-up ÷ core ratio) below which learning keeps stepping down in workers.
POOR_SCALING_EFFICIENCY = 0.7
#: P(runtime ≤ SLA) that allows a step of max_change_factor² instead of max_change_factor.
WIDE_STEP_CONFIDENCE = 0.97
_Z80 = 1.2816


@dataclass(slots=True)
class _Ctx:
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
    observed_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _cap_mask(ctx: _Ctx, ref: int, factor: float | None = None) -> np.ndarray:
    """Candidates within the step cap of ``ref`` (workers and total cores change by at most the factor)."""
    c = ctx.cands
    lf = math.log(factor or ctx.settings.max_change_factor) + 1e-9
    ok = (np.abs(np.log(np.maximum(c.workers, 1) / max(c.workers[ref], 1))) <= lf) & (
        np.abs(np.log(c.cores / c.cores[ref])) <= lf
    )
    return ok


def _fit(ctx: _Ctx) -> RuntimeModel | None:
    c = ctx.cands
    sel = [i for i, o in enumerate(ctx.runs) if o.succeeded and ctx.run_idx[i] >= 0]
    if not sel:
        return None
    ii = ctx.run_idx[sel]
    return RuntimeModel(
        cores=c.cores[ii], mem=c.memory_gb[ii], mpc=c.mem_per_core[ii], vcpus=c.vcpus[ii],
        workers=np.maximum(c.workers[ii], 1.0), size=ctx.run_size[sel],
        runtime_s=np.array([ctx.runs[i].runtime_s for i in sel]),
    )


def _predict(ctx: _Ctx, model: RuntimeModel) -> Prediction:
    c = ctx.cands
    return model.predict(c.cores, c.memory_gb, c.mem_per_core, c.vcpus, np.maximum(c.workers, 1.0), ctx.size_next)


def _observed(ctx: _Ctx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _p_sla(ctx: _Ctx, pred: Prediction) -> np.ndarray:
    if ctx.sla_s is None:
        return np.ones_like(pred.mu)
    return np.asarray(norm_cdf((math.log(ctx.sla_s) - pred.mu) / pred.sigma))


# ---------------------------------------------------------------- learning


def _same_node_step(ctx: _Ctx, ref: int, up: bool, tried: set[int]) -> int | None:
    c = ctx.cands
    mask = (c.node_idx == c.node_idx[ref]) & _cap_mask(ctx, ref) & ~ctx.risk.banned
    mask &= (c.workers > c.workers[ref]) if up else (c.workers < c.workers[ref])
    idx = [int(i) for i in np.nonzero(mask)[0] if int(i) not in tried]
    if not idx:
        return None
    return max(idx, key=lambda i: c.workers[i]) if up else min(idx, key=lambda i: c.workers[i])


def _model_pick(ctx: _Ctx, mask: np.ndarray, min_p: float, kappa: float) -> int | None:
    model = _fit(ctx)
    if model is None:
        return None
    pred = _predict(ctx, model)
    p = _p_sla(ctx, pred)
    ok = mask & (p >= min_p) & (ctx.risk.p_fail <= 0.35)
    if not ok.any():
        ok = mask & (ctx.risk.p_fail <= 0.35)
        if not ok.any():
            return None
        return int(np.nonzero(ok)[0][np.argmax(p[ok])])
    cost = ctx.cands.rate_usd * pred.mean_s / 3600.0 * (1.0 + ctx.risk.p_fail) * np.exp(-kappa * pred.sigma)
    cost = np.where(ok, cost, np.inf)
    return int(np.argmin(cost))


def _learning_choice(ctx: _Ctx, k: int) -> tuple[int, str]:
    """Learning run ``k + 1`` (``k`` runs of the epoch done)."""
    c = ctx.cands
    ref = ctx.ref_idx
    if k == 0:
        return ref, f"measuring today's cluster {fmt_shape(c, ref)}"
    tried = {int(i) for i in ctx.run_idx if i >= 0}
    first = ctx.runs[0]
    if not any(o.succeeded for o in ctx.runs):
        mask = ~ctx.risk.banned & _cap_mask(ctx, ref)
        mask[list(tried)] = False
        if not mask.any():
            mask = ~ctx.risk.banned
        idx = np.nonzero(mask)[0]
        order = np.lexsort((c.rate_usd[idx], -c.memory_gb[idx], ctx.risk.p_fail[idx]))
        i = int(idx[order[0]])
        return i, f"{fmt_shape(c, ref)} failed; trying {fmt_shape(c, i)} with more memory"
    slow = (not first.succeeded) or (ctx.sla_s is not None and first.runtime_s > 0.9 * ctx.sla_s)
    w0 = int(c.workers[ref])
    done_dirs = {("up" if c.workers[i] > c.workers[ref] else "down") for i in tried
                 if i != ref and c.node_idx[i] == c.node_idx[ref]}
    down_failed = any((not o.succeeded) and i >= 0 and c.node_idx[i] == c.node_idx[ref]
                      and c.workers[i] < c.workers[ref] for o, i in zip(ctx.runs, ctx.run_idx, strict=True))
    # 1) one step along workers on the same node type (towards the SLA if tight, else towards cheaper)
    first_dir = "up" if slow else "down"
    if not done_dirs:
        for name in (first_dir, "down" if first_dir == "up" else "up"):
            if name == "down" and down_failed:
                continue
            step = _same_node_step(ctx, ref, name == "up", tried)
            if step is not None:
                return step, (f"measuring how runtime scales with workers: {fmt_shape(c, step)} "
                              f"({c.workers[step] / max(w0, 1):.2g}× today's {w0} workers)")
    # 2) poor scaling measured: the smaller side is where the savings are, measure it (up to two steps down)
    anchor = ref
    if _poor_scaling(ctx, ref):
        same = [int(i) for o, i in zip(ctx.runs, ctx.run_idx, strict=True)
                if o.succeeded and i >= 0 and c.node_idx[i] == c.node_idx[ref]]
        anchor = min(same, key=lambda i: c.workers[i]) if same else ref
        downs = sum(1 for i in same if c.workers[i] < c.workers[ref])
        step = _same_node_step(ctx, anchor, False, tried) if not down_failed and downs < 2 else None
        if step is not None:
            return step, (f"runtime barely improves with more workers; measuring {fmt_shape(c, step)} "
                          f"({c.workers[step] / max(w0, 1):.2g}× today's {w0} workers)")
    # 3) instance family (memory per core) and node size at the same cores (as the anchor)
    fam_runs = [(o, int(i)) for o, i in zip(ctx.runs, ctx.run_idx, strict=True)
                if i >= 0 and abs(c.mem_per_core[i] - c.mem_per_core[anchor]) > 1e-6]
    if not fam_runs:
        fam = _family_test(ctx, anchor, tried, None)
        if fam is not None:
            return fam, f"measuring another instance family at the same cores: {fmt_shape(c, fam)}"
    else:
        o1, i1 = fam_runs[0]
        anchor_t = next((o.runtime_s for o, i in zip(ctx.runs, ctx.run_idx, strict=True) if i == anchor and o.succeeded),
                     None)
        hurt = (not o1.succeeded) or (anchor_t is not None and c.mem_per_core[i1] < c.mem_per_core[anchor]
                                      and c.rate_usd[i1] * o1.runtime_s > 1.05 * c.rate_usd[anchor] * anchor_t)
        # then the most memory per core on bigger nodes (spill/GC-bound jobs), else the other direction / size
        higher_tried = any(c.mem_per_core[i] > c.mem_per_core[anchor] + 1e-6 for _, i in fam_runs)
        if not higher_tried:
            pick = _family_test(ctx, anchor, tried, True, bigger=True)
            if pick is not None:
                return pick, f"measuring more memory per core on bigger nodes at the same cores: {fmt_shape(c, pick)}"
        if not hurt:
            pick = _family_test(ctx, anchor, tried, False)
            if pick is not None:
                return pick, f"measuring another instance family at the same cores: {fmt_shape(c, pick)}"
        better = i1 if (o1.succeeded and anchor_t is not None
                        and c.rate_usd[i1] * o1.runtime_s < c.rate_usd[anchor] * anchor_t) else anchor
        pick = _size_test(ctx, better, tried)
        if pick is not None:
            return pick, f"measuring another node size at the same cores: {fmt_shape(c, pick)}"
    # 4) the other workers direction
    for name in ("up", "down"):
        if name in done_dirs or (name == "down" and down_failed):
            continue
        step = _same_node_step(ctx, ref, name == "up", tried)
        if step is not None:
            return step, (f"measuring how runtime scales with workers: {fmt_shape(c, step)} "
                          f"({c.workers[step] / max(w0, 1):.2g}× today's {w0} workers)")
    mask = ~ctx.risk.banned & _cap_mask(ctx, _best_ref(ctx))
    mask[list(tried)] = False
    i3 = _model_pick(ctx, mask, 0.5, 1.0) if mask.any() else None
    if i3 is None:
        return ref, f"re-measuring {fmt_shape(c, ref)}"
    return i3, f"exploring {fmt_shape(c, i3)}, the most promising untried shape"


def _poor_scaling(ctx: _Ctx, ref: int) -> bool:
    """True when a measured step on the reference's node type showed poor parallel efficiency."""
    c = ctx.cands
    pts = [(float(c.cores[i]), o.runtime_s / max(s, 1e-9)) for o, i, s in
           zip(ctx.runs, ctx.run_idx, ctx.run_size, strict=True)
           if o.succeeded and i >= 0 and c.node_idx[i] == c.node_idx[ref]]
    if len(pts) < 2:
        return False
    (c_lo, t_lo), (c_hi, t_hi) = min(pts), max(pts)
    if c_hi <= c_lo:
        return False
    return (t_lo / t_hi) / (c_hi / c_lo) < POOR_SCALING_EFFICIENCY


def _family_test(ctx: _Ctx, ref: int, tried: set[int], higher: bool | None, bigger: bool = False) -> int | None:
    """An untried memory-per-core class (instance family) at the reference's cores, cheapest per core first.

    :param higher: only more (True) / less (False) memory per core than the reference; None: either.
    :param bigger: prefer the most memory per core on nodes twice the reference's size (an extreme design point).
    """
    c = ctx.cands
    tried_mpc = {round(float(c.mem_per_core[i]), 3) for i in tried}
    ok = ~ctx.risk.banned & (ctx.risk.p_fail <= 0.35) & _cap_mask(ctx, ref)
    if higher is not None:
        ok &= (c.mem_per_core > c.mem_per_core[ref] + 1e-6) if higher else (c.mem_per_core < c.mem_per_core[ref] - 1e-6)
    best: tuple[float, float, float, int] | None = None
    for i in np.nonzero(ok)[0]:
        m = round(float(c.mem_per_core[i]), 3)
        if m in tried_mpc or int(i) in tried:
            continue
        if bigger:
            key = (round(abs(math.log(c.cores[i] / c.cores[ref])), 2), -float(c.mem_per_core[i]),
                   abs(math.log(c.vcpus[i] / (2.0 * c.vcpus[ref]))), int(i))
        else:
            key = (round(abs(math.log(c.cores[i] / c.cores[ref])), 2), round(float(c.rate_usd[i] / c.cores[i]), 6),
                   abs(math.log(c.vcpus[i] / c.vcpus[ref])), int(i))
        if best is None or key < best:
            best = key
    return None if best is None else best[3]


def _size_test(ctx: _Ctx, ref: int, tried: set[int]) -> int | None:
    """The same family as ``ref`` with a different node size (larger first) at the same cores."""
    c = ctx.cands
    fam = c.nodes[int(c.node_idx[ref])].family
    same_fam = np.array([c.nodes[int(n)].family == fam for n in c.node_idx])
    ok = same_fam & (np.abs(c.vcpus - c.vcpus[ref]) > 0) & ~ctx.risk.banned & (ctx.risk.p_fail <= 0.35)
    ok &= _cap_mask(ctx, ref)
    best: tuple[float, float, int] | None = None
    for i in np.nonzero(ok)[0]:
        if int(i) in tried:
            continue
        key = (round(abs(math.log(c.cores[i] / c.cores[ref])), 2), -float(c.vcpus[i]), int(i))
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


# ---------------------------------------------------------------- optimizing


def _best_ref(ctx: _Ctx) -> int:
    """Cheapest observed shape that met the SLA, else the last successful one, else the reference."""
    t_obs, met, _ = _observed(ctx)
    cost = ctx.cands.rate_usd * t_obs / 3600.0
    good = np.nonzero(met & ~np.isnan(t_obs) & ~ctx.risk.banned)[0]
    if good.size:
        return int(good[np.argmin(cost[good])])
    for o, i in zip(reversed(ctx.runs), reversed(ctx.run_idx.tolist()), strict=True):
        if o.succeeded and i >= 0 and not ctx.risk.banned[i]:
            return int(i)
    return ctx.ref_idx


def _last_good(ctx: _Ctx) -> int | None:
    _, met, _ = _observed(ctx)
    for o, i in zip(reversed(ctx.runs), reversed(ctx.run_idx.tolist()), strict=True):
        if o.succeeded and i >= 0 and met[i] and not ctx.risk.banned[i]:
            return int(i)
    return None


@dataclass(frozen=True, slots=True)
class _Choice:
    idx: int
    pred: Prediction | None
    feasible: bool
    notes: tuple[str, ...]
    model: RuntimeModel | None


def _optimizing_choice(ctx: _Ctx) -> _Choice:
    c = ctx.cands
    model = _fit(ctx)
    notes: list[str] = []
    if model is None:
        i, what = _learning_choice(ctx, max(len(ctx.runs), 1))
        return _Choice(i, None, False, (f"no successful run yet; {what}",), None)
    pred = _predict(ctx, model)
    p = _p_sla(ctx, pred)
    t_obs, met, missed = _observed(ctx)
    conf = ctx.settings.sla_confidence
    last = ctx.runs[-1] if ctx.runs else None
    last_i = int(ctx.run_idx[-1]) if ctx.runs else -1
    ref = _best_ref(ctx)
    fallback = last is not None and last_i >= 0 and (missed[last_i] or not last.succeeded) and last.failure_kind != "spot"
    if fallback and last is not None:
        lg = _last_good(ctx)
        if lg is not None:
            ref = lg
        what = "failed" if not last.succeeded else "missed the SLA"
        notes.append(f"the last run on {fmt_shape(c, last_i)} {what}; falling back toward {fmt_shape(c, ref)}")
        conf = max(conf, 0.95)
    cap = _cap_mask(ctx, ref)
    if not fallback:
        # a confidently safe shape may move up to factor² in one step (e.g. a job that does not scale)
        wide = _cap_mask(ctx, ref, ctx.settings.max_change_factor**2)
        cap = cap | (wide & (p >= WIDE_STEP_CONFIDENCE) & (ctx.risk.p_fail <= 0.05))
    observed_ok = met & ~np.isnan(t_obs)
    base = ~ctx.risk.banned & (ctx.risk.p_fail <= MAX_P_FAIL) & ~missed & cap
    feasible = base & ((p >= conf) | observed_ok)
    exp_t = np.where(observed_ok, t_obs, pred.mean_s)
    cost = c.rate_usd * exp_t / 3600.0 * (1.0 + ctx.risk.p_fail)
    score = cost.copy()
    unobserved = np.isnan(t_obs) & ~missed
    if ctx.settings.explore and not fallback:
        score = np.where(unobserved, cost * np.exp(-0.5 * pred.sigma), cost)
    elif observed_ok[ref]:
        # only leave the best observed shape for a confidently cheaper one
        best_cost = cost[ref]
        hi = c.rate_usd * np.exp(pred.mu + _Z80 * pred.sigma) / 3600.0
        feasible &= ~unobserved | (hi < best_cost)
    if feasible.any():
        i = int(np.argmin(np.where(feasible, score, np.inf)))
        if ctx.settings.explore and not fallback and not np.isnan(t_obs[i]):
            # converged on a measured shape: keep learning with the untried shape most likely to be a
            # cheaper shape that meets the SLA (constrained probability of improvement)
            pi = norm_cdf((np.log(cost[i] * 3600.0 / c.rate_usd) - pred.mu) / pred.sigma) * (1.0 - ctx.risk.p_fail)
            score = np.where(base & unobserved & (p >= EXPLORE_CONFIDENCE), pi * p, 0.0)
            j = int(np.argmax(score))
            if score[j] >= MIN_PROBE_SCORE:
                notes.append(f"probing {fmt_shape(c, j)}, which may be cheaper still")
                return _Choice(j, pred, True, tuple(notes), model)
        return _Choice(i, pred, True, tuple(notes), model)
    # nothing is predicted to meet the SLA: be honest. Out of reach anywhere: keep the fastest measured shape
    # rather than escalating cost; reachable further away: step towards the most likely (fastest safe) shape
    reach = np.where(~ctx.risk.banned, p * (1.0 - ctx.risk.p_fail), 0.0)
    measured = np.nonzero(~np.isnan(t_obs) & ~ctx.risk.banned)[0]
    if reach.max() < 0.05 and measured.size:
        i = int(measured[np.argmin(t_obs[measured])])
        notes.append("no shape in the search space is predicted to meet the SLA; keeping the fastest measured one")
        return _Choice(i, pred, False, tuple(notes), model)
    cand = ~ctx.risk.banned & (ctx.risk.p_fail <= MAX_P_FAIL) & cap
    if not cand.any():
        cand = ~ctx.risk.banned
    if not cand.any():
        cand = np.ones(len(c), dtype=bool)
    # most likely to meet the SLA; ties (e.g. all ~0 when the SLA is out of reach) go to the fastest
    prob = np.round(p * (1.0 - ctx.risk.p_fail), 3)
    idx = np.nonzero(cand)[0]
    i = int(idx[np.lexsort((pred.mu[idx], -prob[idx]))[0]])
    notes.append("no shape is predicted to meet the SLA with confidence; recommending the fastest safe one")
    return _Choice(i, pred, False, tuple(notes), model)


# ---------------------------------------------------------------- shape + reason


def _to_shape(ctx: _Ctx, i: int, runtime_s: float | None) -> ClusterShape:
    c, b, s = ctx.cands, ctx.baseline, ctx.settings
    node = c.name(i)
    w = int(c.workers[i])
    driver = node if b.driver_node_type_id == b.node_type_id else b.driver_node_type_id
    spot = (
        ctx.space.allow_spot
        and not s.force_on_demand
        and b.spot
        and not any(o.failure_kind == "spot" for o in ctx.history[-10:])
        and (runtime_s is None or runtime_s <= SPOT_MAX_RUNTIME_S)
    )
    photon = b.photon and ctx.space.allow_photon
    autoscale = b.is_autoscale and ctx.space.allow_autoscale and s.maintain_scaling_type
    if autoscale:
        assert b.autoscale_min is not None and b.autoscale_max is not None
        ratio = b.autoscale_min / max(b.autoscale_max, 1)
        hi = max(w, 1)
        lo = max(ctx.space.min_workers, min(hi, int(round(ratio * hi))))
        return ClusterShape(node, driver, None, lo, hi, spot, b.first_on_demand, photon,
                            b.ebs_volume_count, b.ebs_volume_size_gb)
    return ClusterShape(node, driver, w, None, None, spot, b.first_on_demand, photon,
                        b.ebs_volume_count, b.ebs_volume_size_gb)


def _index_of_shape(space: SearchSpace, cands: Candidates, shape: ClusterShape) -> int:
    i = cands.index_of(shape.node_type_id, shape.effective_workers)
    if i is not None:
        return i
    # nearest candidate of the same node type (e.g. an autoscale midpoint)
    same = np.nonzero(cands.node_idx == [n.name for n in cands.nodes].index(shape.node_type_id))[0]
    return int(same[np.argmin(np.abs(np.log(np.maximum(cands.workers[same], 1)) -
                                     math.log(max(shape.effective_workers, 1))))])


def _build_ctx(space: SearchSpace, history: Sequence[Observation], settings: OptimizerSettings,
               baseline: ClusterShape) -> _Ctx:
    cands = build_candidates(space, settings, baseline)
    hist = list(history)
    epoch = detect_epoch(hist)
    runs = hist[epoch.start:]
    run_idx = np.array([_idx_or_neg(cands, o) for o in runs], dtype=np.int64)
    ref_b = reference_bytes(runs)
    run_size = np.array([(o.input_bytes / ref_b) if (ref_b and o.input_bytes) else 1.0 for o in runs])
    nxt = expected_next_bytes(runs)
    size_next = (nxt / ref_b) if (ref_b and nxt) else 1.0
    risk = memory_risk(cands, hist, space)
    if epoch.start == 0 or not runs:
        ref_idx = _index_of_shape(space, cands, baseline)
    else:
        ref_idx = _idx_or_neg(cands, runs[0])
        if ref_idx < 0:
            ref_idx = _index_of_shape(space, cands, baseline)
    sla_s = settings.sla_minutes * 60.0 if settings.sla_minutes else None
    ctx = _Ctx(space, settings, baseline, cands, hist, epoch, runs, run_idx, run_size, size_next, risk, sla_s,
               ref_idx)
    if sla_s is None:
        # no SLA: do not get slower than the reference run (+10 %)
        for o, i, s in zip(runs, run_idx, run_size, strict=True):
            if o.succeeded and i == ref_idx:
                ctx.sla_s = 1.1 * o.runtime_s * size_next / max(s, 1e-9)
                break
    return ctx


def _idx_or_neg(cands: Candidates, o: Observation) -> int:
    i = cands.index_of(o.shape.node_type_id, o.shape.effective_workers)
    return -1 if i is None else i


def _today_cost(ctx: _Ctx) -> float | None:
    b = _index_of_shape(ctx.space, ctx.cands, ctx.baseline)
    ts = [o.runtime_s * ctx.size_next / max(s, 1e-9) for o, i, s in zip(ctx.runs, ctx.run_idx, ctx.run_size,
                                                                         strict=True) if o.succeeded and i == b]
    if not ts:
        ts = [o.runtime_s for o in ctx.history if o.succeeded and o.shape.node_type_id == ctx.baseline.node_type_id
              and o.shape.effective_workers == ctx.baseline.effective_workers][-3:]
    if not ts:
        return None
    return float(ctx.cands.rate_usd[b] * float(np.median(ts)) / 3600.0)


def recommend(
    space: SearchSpace,
    history: Sequence[Observation],
    settings: OptimizerSettings,
    baseline: ClusterShape,
) -> Recommendation:
    """Recommend the cluster for the next run.

    :param space: allowed node types and worker counts, with prices.
    :param history: this project's runs, oldest first.
    :param settings: project settings (SLA, guardrails, K).
    :param baseline: the user's own cluster (learning starts here).
    :raises OptimizerError: bad input (names the problem).
    """
    ctx = _build_ctx(space, history, settings, baseline)
    c = ctx.cands
    k = len(ctx.runs)
    big_k = settings.learning_runs
    notes: list[str] = []
    if ctx.epoch.reason:
        notes.append(f"drift detected ({ctx.epoch.reason}): re-learning")
    if ctx.risk.oom_shapes:
        n, w = ctx.risk.oom_shapes[-1]
        notes.append(f"avoiding {w}×{n} and smaller-memory shapes (out of memory)")
    if ctx.size_next > 1.15 or ctx.size_next < 0.87:
        notes.append(f"sized for the expected input ({ctx.size_next:.2f}× the usual)")
    model: RuntimeModel | None = None
    pred: Prediction | None = None
    if k < big_k:
        phase = "learning"
        i, what = _learning_choice(ctx, k)
        model = _fit(ctx)
        pred = _predict(ctx, model) if model is not None else None
        head = f"Learning run {k + 1} of {big_k}: {what}."
        feasible = True
    else:
        phase = "optimizing"
        ch = _optimizing_choice(ctx)
        i, pred, model, feasible = ch.idx, ch.pred, ch.model, ch.feasible
        notes.extend(ch.notes)
        head = ""
    t_pred = lo = hi = None
    if pred is not None:
        t_pred = float(pred.median_s[i])
        lo = float(math.exp(pred.mu[i] - _Z80 * pred.sigma[i]))
        hi = float(math.exp(pred.mu[i] + _Z80 * pred.sigma[i]))
    shape = _to_shape(ctx, i, t_pred)
    rate = float(c.rate_usd[i])
    if shape.spot:
        node = c.nodes[int(c.node_idx[i])]
        rate = rate - float(c.workers[i]) * node.hourly_usd * node.spot_discount
    cost = cost_lo = cost_hi = None
    if t_pred is not None and lo is not None and hi is not None:
        cost, cost_lo, cost_hi = rate * t_pred / 3600.0, rate * lo / 3600.0, rate * hi / 3600.0
    if phase == "optimizing":
        head = _optimizing_head(ctx, i, model, cost, feasible)
    reason = " ".join([head] + [n[0].upper() + n[1:] + "." for n in notes]).strip()
    return Recommendation(
        shape=shape,
        cluster=shape.to_databricks(cloud=space.cloud),
        phase=phase,
        learning_iteration=min(k + 1, big_k) if phase == "learning" else 0,
        learning_total=big_k,
        predicted_runtime_s=t_pred,
        runtime_low_s=lo,
        runtime_high_s=hi,
        predicted_cost_usd=cost,
        cost_low_usd=cost_lo,
        cost_high_usd=cost_hi,
        reason=reason,
    )


def _optimizing_head(ctx: _Ctx, i: int, model: RuntimeModel | None, cost: float | None, feasible: bool) -> str:
    c = ctx.cands
    n_ok = sum(1 for o in ctx.runs if o.succeeded)
    parts = []
    if model is not None:
        parts.append(f"{n_ok} runs show {describe_scaling(ctx.cands, ctx.run_idx, ctx.runs, model)}")
    shape_txt = fmt_shape(c, i)
    sla_txt = f"the {ctx.settings.sla_minutes:g}-min SLA" if ctx.settings.sla_minutes else "today's runtime"
    verb = "meets" if feasible else "comes closest to"
    line = f"{shape_txt} {verb} {sla_txt}"
    if cost is not None:
        line += f" at {money(cost)}/run"
        today = _today_cost(ctx)
        if today:
            pct = (1.0 - cost / today) * 100.0
            line += f", {abs(pct):.0f}% {'below' if pct >= 0 else 'above'} today"
    parts.append(line)
    return "; ".join(parts) + "."
