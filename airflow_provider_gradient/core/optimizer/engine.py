"""``recommend``: the optimiser's pure entry point.

Learning phase (K runs per epoch, baseline first): the experiment design of :mod:`.learning`. Optimizing
phase: fit :class:`RuntimeModel` on the epoch's runs and pick the cheapest expected cost with
``P(runtime ≤ SLA) ≥ sla_confidence`` inside the step cap (factor², for confidently safe shapes), honouring the
memory and fallback guardrails (a miss of an optimizing run falls back; a learning run is an experiment); once
the best shape is measured, keep learning with the untried shape of the largest expected saving within the
SLA, net of a penalty for the risk of missing it. Until some run meets the SLA, growing the cluster may take
factor² steps. A detected drift starts a new epoch (re-learning).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from airflow_provider_gradient.core.optimizer.autoscale import measured_baseline, size_autoscale
from airflow_provider_gradient.core.optimizer.context import (
    Ctx,
    best_ref,
    cap_mask,
    fit_model,
    observed,
    p_sla,
    predict,
)
from airflow_provider_gradient.core.optimizer.drift import (
    detect_epoch,
    expected_next_bytes,
    reference_bytes,
)
from airflow_provider_gradient.core.optimizer.learning import learning_choice
from airflow_provider_gradient.core.optimizer.memory import memory_risk
from airflow_provider_gradient.core.optimizer.model import Prediction, RuntimeModel, norm_cdf
from airflow_provider_gradient.core.optimizer.reasons import (
    describe_scaling,
    fmt_minutes,
    fmt_shape,
    fmt_size,
    money,
)
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
#: Smallest P(runtime ≤ SLA) of an untried shape probed once the best one is measured.
MIN_PROBE_CONFIDENCE = 0.3
#: Smallest expected saving within the SLA, net of the miss penalty, as a share of the incumbent's cost,
#: worth a probe run.
MIN_PROBE_GAIN = 0.02
#: A probe's SLA miss (or failure) counts as this share of the incumbent's cost against its expected saving
#: (so a coin-flip probe needs a possible saving of ~15 % or more; a likely-safe one much less). Measured on the
#: real grids: 0.2 left c3o mean regret at 2.0 % / scout 2.5 %, 0.15 gives 1.8 % / 2.3 % with SLA violations after
#: learning 4.5 % / 2.8 % (0.12: c3o violations 5.5 %, beyond the 5 % the optimiser is held to).
PROBE_MISS_PENALTY = 0.15
#: P(meets SLA) of a "safe" probe: an untried shape this likely within the SLA is worth one run for a small saving.
SAFE_PROBE_CONFIDENCE = 0.85
#: Smallest expected saving share for a safe probe.
MIN_SAFE_PROBE_GAIN = 0.01
#: P(runtime ≤ SLA) that allows a step of max_change_factor² instead of max_change_factor.
WIDE_STEP_CONFIDENCE = 0.93
#: While no run met the SLA, a squared step up must be predicted at least this much faster than the fastest run.
GROWTH_SPEEDUP = 0.8
#: Share of the space's largest total cores a measured run must reach before the SLA is declared out of reach.
TOP_MEASURED_SHARE = 0.5
_Z80 = 1.2816
#: Smallest P(typical runtime meets the SLA) of a measured shape kept as the incumbent (today's cluster aside): a shape
#: that missed the SLA in one of its runs and that the model finds more likely over the SLA than within is never the
#: recommendation, however cheap (0.2 before: the simulator's finals missed the SLA 7 times in 100 cases, now 6).
INCUMBENT_MIN_P = 0.5
#: A shape every run of which met the SLA is kept unless the model is fairly sure it misses (P below this): on
#: real grids one run is the truth more often than the model's pooled estimate (requiring 0.5 of these too cost the
#: scout baseline sweep 0.2 points of mean regret).
CLEAN_MIN_P = 0.35
#: Run-to-run spread (std of log runtime over repeated runs of a shape at one input size) from which a measured
#: shape's cost is the model's estimate, which pools every run, instead of its own runs: on a job this noisy the
#: cheapest-looking single run is often a lucky draw (C3O's repeats: 1.6 % median; the simulator draws 7 %).
NOISY_REPEATS = 0.02
#: The shape of the last run is kept unless another measured one scores this much lower.
KEEP_MARGIN = 0.03
#: P(typical runtime meets the SLA) an untried shape needs to replace the measured incumbent without a probe.
FINAL_CONFIDENCE = 0.95
#: A measured shape that may miss the SLA competes at its expected cost, a miss costing this multiple of what a run
#: within the SLA costs at least (an SLA miss is as bad as paying that run twice).
MISS_COST = 2.0
#: P(typical runtime meets the SLA) of today's cluster from which its runs count as straddling the SLA: it is then
#: kept at its cost (the user's own choice), never charged for the risk.
STRADDLE_P = 0.05


# ---------------------------------------------------------------- optimizing


def expected_saving(incumbent_cost: float, rate_per_s: np.ndarray, pred: Prediction) -> np.ndarray:
    """``E[max(0, incumbent_cost − rate × T)]`` for log-normal runtimes ``T`` (expected improvement in cost).

    :param incumbent_cost: cost of the incumbent (best measured shape).
    :param rate_per_s: $ per second of each candidate.
    :param pred: runtime prediction per candidate.
    """
    return sla_saving(incumbent_cost, rate_per_s, pred, None)


def sla_saving(incumbent_cost: float, rate_per_s: np.ndarray, pred: Prediction, sla_s: float | None) -> np.ndarray:
    """``E[max(0, incumbent_cost − rate × T) · 1{T ≤ SLA}]`` for log-normal runtimes ``T``.

    :param incumbent_cost: cost of the incumbent (best measured shape).
    :param rate_per_s: $ per second of each candidate.
    :param pred: runtime prediction per candidate.
    :param sla_s: SLA in seconds (None: no limit).
    """
    sig = np.maximum(pred.sigma, 1e-9)
    u = incumbent_cost / np.maximum(rate_per_s, 1e-300)
    if sla_s is not None:
        u = np.minimum(u, sla_s)
    z = (np.log(u) - pred.mu) / sig
    ei = incumbent_cost * norm_cdf(z) - rate_per_s * pred.mean_s * norm_cdf(z - sig)
    return np.asarray(np.maximum(ei, 0.0))


@dataclass(frozen=True, slots=True)
class _Choice:
    idx: int
    pred: Prediction | None
    feasible: bool
    notes: tuple[str, ...]
    model: RuntimeModel | None


def _p_median(ctx: Ctx, pred: Prediction, model: RuntimeModel) -> np.ndarray:
    """P(the shape's *typical* runtime — its median, run-to-run noise removed — meets the SLA)."""
    if ctx.sla_s is None:
        return np.ones_like(pred.mu)
    latent = np.sqrt(np.maximum(pred.sigma**2 - model.noise**2, 1e-6))
    return np.asarray(norm_cdf((math.log(ctx.sla_s) - pred.mu) / latent))


def _incumbent(ctx: Ctx, p_med: np.ndarray, last_i: int, model: RuntimeModel,
               mu: np.ndarray) -> tuple[int | None, np.ndarray]:
    """The measured shape to keep (or None), and every shape's measured cost (its median run; nan if unmeasured).

    - Only measured, never-failed shapes compete whose typical runtime more likely than not meets the SLA (the
      model's P, pooling every run, ≥ :data:`INCUMBENT_MIN_P`), or, when every run of theirs met the SLA, unless
      the model is fairly sure they miss (P ≥ :data:`CLEAN_MIN_P`); today's cluster aside (below).
    - A shape's cost is its median run (scaled to the next input); the model's estimate instead when repeated runs
      vary by :data:`NOISY_REPEATS` or more at an unchanged input.
    - Of those, a shape whose median run (scaled to the next input) was within the SLA competes at its cost.
    - Any other competes at its *expected* cost:
      its cost when it meets the SLA and, when it misses, :data:`MISS_COST` × what a run within the SLA costs at
      least (the lowest cost per success, cost ÷ P, of a measured shape; at most :data:`MISS_COST` × the cheapest
      one). So a shape whose runs straddle the SLA on a noisy job loses to a dearer one that meets it surely.
    - Today's cluster (the reference) competes at its cost once P ≥ :data:`STRADDLE_P` — by the model, or by its
      own runs alone (their mean log runtime, with the run-to-run ``noise``): the SLA is usually set from its own
      runtime, so its runs straddling the SLA are not held against it.

    The shape of the last run is kept unless another one scores clearly less (:data:`KEEP_MARGIN`): production
    clusters do not flap on noise.
    """
    c = ctx.cands
    n = len(c)
    runs: dict[int, list[float]] = {}
    for o, i, sz in zip(ctx.runs, ctx.run_idx, ctx.run_size, strict=True):
        if o.succeeded and i >= 0:
            runs.setdefault(int(i), []).append(o.runtime_s * ctx.size_next / max(sz, 1e-9))
    t_typ = np.full(n, np.nan)
    for i, ts in runs.items():
        t_typ[i] = float(np.median(ts))
    measured = ~np.isnan(t_typ) & ~ctx.risk.banned
    cost = c.rate_usd * t_typ / 3600.0
    same_size = bool(np.all(np.abs(np.log(np.maximum(ctx.run_size, 1e-9) / max(ctx.size_next, 1e-9))) < 0.05))
    if same_size and model.repeat_sd is not None and model.repeat_sd >= NOISY_REPEATS:
        # noisy repeats: a shape's cost is the model's posterior (its own runs pooled with its neighbours'), so a
        # lucky single run does not beat a shape that is cheaper in truth (not when the input changes: the model's
        # size extrapolation is less sure than the shape's own runs scaled to the next input)
        cost = np.where(measured, c.rate_usd * np.exp(mu) / 3600.0, cost)
    sla_s = ctx.sla_s if ctx.sla_s is not None else math.inf
    clean = np.zeros(n, dtype=bool)
    for i, ts in runs.items():
        clean[i] = max(ts) <= sla_s
    ok = measured & ((p_med >= INCUMBENT_MIN_P) | (clean & (p_med >= CLEAN_MIN_P)))
    r0 = ctx.ref_idx
    # today's cluster by its own runs too: the model's fit through other shapes (a job that is not monotone in
    # workers) must not talk it out of an SLA its own runs straddle
    p_ref = float(p_med[r0])
    if measured[r0] and ctx.sla_s is not None:
        lt = np.log(np.maximum(runs[r0], 1e-9))
        z = (math.log(ctx.sla_s) - float(lt.mean())) / (model.noise / math.sqrt(lt.size))
        p_ref = max(p_ref, float(norm_cdf(np.array(z))))
    ref_ok = bool(measured[r0] and p_ref >= STRADDLE_P)
    ok[r0] |= ref_ok
    if not ok.any():
        return None, cost
    # what a run that meets the SLA costs at least: the lowest cost per success (cost ÷ P) of a measured shape,
    # at most MISS_COST × the cheapest one
    c_star = min(float(np.min(cost[ok] / np.maximum(p_med[ok], 0.05))), MISS_COST * float(np.min(cost[ok])))
    score = np.where(ok, p_med * cost + (1.0 - p_med) * np.maximum(cost, MISS_COST * c_star), np.inf)
    within = ok & (t_typ <= sla_s)
    score = np.where(within, cost, score)
    if ref_ok:
        score[r0] = cost[r0]
    i = int(np.argmin(score))
    if 0 <= last_i != i and ok[last_i] and score[i] > (1.0 - KEEP_MARGIN) * score[last_i]:
        i = last_i
    return i, cost


def _optimizing_choice(ctx: Ctx) -> _Choice:
    c = ctx.cands
    model = fit_model(ctx)
    notes: list[str] = []
    if model is None:
        i, what = learning_choice(ctx, max(len(ctx.runs), 1))
        return _Choice(i, None, False, (f"no successful run yet; {what}",), None)
    pred = predict(ctx, model)
    p = p_sla(ctx, pred)
    p_med = _p_median(ctx, pred, model)
    t_obs, met, missed = observed(ctx)
    last = ctx.runs[-1] if ctx.runs else None
    last_i = int(ctx.run_idx[-1]) if ctx.runs else -1
    inc, measured_cost = _incumbent(ctx, p_med, last_i, model, pred.mu)
    # a learning run is a deliberate experiment: only a miss of an optimizing recommendation is a fallback
    fallback = (last is not None and last_i >= 0 and (missed[last_i] or not last.succeeded)
                and last.failure_kind != "spot" and len(ctx.runs) > ctx.settings.learning_runs)
    if inc is not None:
        if fallback and inc != last_i and last is not None:
            what = "failed" if not last.succeeded else "missed the SLA"
            notes.append(f"the last run on {fmt_shape(c, last_i)} {what}; falling back toward {fmt_shape(c, inc)}")
        inc_cost = float(measured_cost[inc])
        untried = np.isnan(t_obs) & ~missed & ~ctx.risk.banned
        cap = cap_mask(ctx, inc)
        wide = cap_mask(ctx, inc, ctx.settings.max_change_factor**2)
        cap = cap | (wide & (p >= WIDE_STEP_CONFIDENCE) & (ctx.risk.p_fail <= 0.05))
        # an untried shape replaces the measured one only when the model is confident on both counts: it meets the
        # SLA (P ≥ FINAL_CONFIDENCE, typical runtime) and costs less even at its pessimistic (90th pct) runtime
        hi_cost = c.rate_usd * np.exp(pred.mu + _Z80 * pred.sigma) / 3600.0 * (1.0 + ctx.risk.p_fail)
        sure = (untried & cap & (p_med >= FINAL_CONFIDENCE) & (p >= ctx.settings.sla_confidence)
                & (ctx.risk.p_fail <= 0.05) & (hi_cost < inc_cost))
        if sure.any():
            j = int(np.argmin(np.where(sure, hi_cost, np.inf)))
            notes.append(f"{fmt_shape(c, j)} replaces the measured {fmt_shape(c, inc)} "
                         f"({money(inc_cost)}/run): it is predicted to meet the SLA with P ≥ {FINAL_CONFIDENCE:.0%} "
                         f"and to cost less even at its 90th-percentile runtime")
            return _Choice(j, pred, True, tuple(notes), model)
        if ctx.settings.explore and not fallback:
            # keep learning with the untried shape of the largest expected saving within the SLA, net of the risk
            # of missing it (each miss is charged PROBE_MISS_PENALTY of the incumbent's cost): the cluster changes
            # only for an expected gain beyond the model's uncertainty
            gain = sla_saving(inc_cost, c.rate_usd / 3600.0, pred, ctx.sla_s) * (1.0 - ctx.risk.p_fail)
            p_miss = 1.0 - p * (1.0 - ctx.risk.p_fail)
            net = gain / max(inc_cost, 1e-12) - PROBE_MISS_PENALTY * p_miss
            ok = untried & cap & (ctx.risk.p_fail <= MAX_P_FAIL) & (p >= MIN_PROBE_CONFIDENCE)
            score = np.where(ok, net, -np.inf)
            j = int(np.argmax(score))
            if score[j] >= MIN_PROBE_GAIN:
                notes.append(f"probing {fmt_shape(c, j)}, which may be cheaper still "
                             f"(expected saving within the SLA {gain[j] / max(inc_cost, 1e-12):.0%}, "
                             f"P(meets SLA) {p[j]:.0%})")
                return _Choice(j, pred, True, tuple(notes), model)
            # nothing worth the risk: a shape as safe as a recommendation that may still be cheaper teaches more
            # than re-running the incumbent
            safe = np.where(ok & (p >= SAFE_PROBE_CONFIDENCE) & (ctx.risk.p_fail <= 0.05),
                            gain / max(inc_cost, 1e-12), 0.0)
            j = int(np.argmax(safe))
            if safe[j] >= MIN_SAFE_PROBE_GAIN:
                notes.append(f"probing {fmt_shape(c, j)}, as safe as a recommendation and possibly cheaper "
                             f"(expected saving {safe[j]:.0%}, P(meets SLA) {p[j]:.0%})")
                return _Choice(j, pred, True, tuple(notes), model)
        if ctx.settings.explore is False:
            notes.append(f"keeping the cheapest measured shape that met the SLA (unless P(its typical runtime meets "
                         f"the SLA) < {CLEAN_MIN_P:.0%}, or < {INCUMBENT_MIN_P:.0%} once one of its runs missed it; "
                         f"a shape whose runs straddle the SLA counts a miss as "
                         f"{MISS_COST:.0f}× the cost); an untried one replaces it only at P(meets SLA) ≥ "
                         f"{FINAL_CONFIDENCE:.0%} and a lower cost at its 90th-percentile runtime")
        return _Choice(inc, pred, True, tuple(notes), model)
    if fallback and last is not None:
        what = "failed" if not last.succeeded else "missed the SLA"
        notes.append(f"the last run on {fmt_shape(c, last_i)} {what}")
    ref = best_ref(ctx)
    cap = cap_mask(ctx, ref)
    wide = cap_mask(ctx, ref, ctx.settings.max_change_factor**2)
    if not met.any():
        # nothing has met the SLA yet: growing the cluster is the safe direction, so it may move factor² to
        # a shape predicted clearly faster than any run so far (a job that stopped scaling does not escalate)
        fastest = float(np.nanmin(t_obs)) if (~np.isnan(t_obs)).any() else math.inf
        cap = cap | (wide & (c.cores >= c.cores[ref]) & (c.memory_gb >= c.memory_gb[ref])
                     & (pred.median_s <= GROWTH_SPEEDUP * fastest))
    base = ~ctx.risk.banned & (ctx.risk.p_fail <= MAX_P_FAIL) & ~missed & cap
    feasible = base & (p >= ctx.settings.sla_confidence)
    if feasible.any():
        cost = c.rate_usd * pred.mean_s / 3600.0 * (1.0 + ctx.risk.p_fail)
        i = int(np.argmin(np.where(feasible, cost, np.inf)))
        return _Choice(i, pred, True, tuple(notes), model)
    # nothing is predicted to meet the SLA: be honest. Out of reach anywhere: keep the fastest measured shape
    # rather than escalating cost; reachable further away: step towards the most likely (fastest safe) shape
    reach = np.where(~ctx.risk.banned, p * (1.0 - ctx.risk.p_fail), 0.0)
    measured = np.nonzero(~np.isnan(t_obs) & ~ctx.risk.banned)[0]
    # "out of reach" is only a finding once the scaling was measured near the top of the space (the serial part
    # of a model fitted on small clusters is an extrapolation); until then, step towards the fastest shapes
    explored_top = measured.size and float(c.cores[measured].max()) >= TOP_MEASURED_SHARE * float(
        c.cores[~ctx.risk.banned].max() if (~ctx.risk.banned).any() else c.cores.max())
    if reach.max() < 0.05 and measured.size and explored_top:
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


def _to_shape(ctx: Ctx, i: int, runtime_s: float | None, notes: list[str] | None = None) -> ClusterShape:
    """The cluster of candidate ``i``; for an autoscaled baseline, the min/max whose expected average is the
    candidate's worker count (:func:`~.autoscale.size_autoscale`; its explanation is appended to ``notes``)."""
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
        cap = ctx.space.max_workers if s.max_workers is None else min(ctx.space.max_workers, s.max_workers)
        size = size_autoscale(w, ctx.history, b, floor=max(ctx.space.min_workers, 1), cap=cap,
                              step=s.max_change_factor)
        if notes is not None:
            notes.append(size.note)
        return ClusterShape(node, driver, None, size.min_workers, size.max_workers, spot, b.first_on_demand, photon,
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
               baseline: ClusterShape) -> Ctx:
    baseline = measured_baseline(baseline, history)  # an autoscaled baseline at the average it really ran
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
    if cands.excluded is not None and cands.excluded.any():  # e.g. the baseline's family is not allowed
        risk = dataclasses.replace(risk, banned=risk.banned | cands.excluded)
    if epoch.start == 0 or not runs:
        ref_idx = _index_of_shape(space, cands, baseline)
    else:
        ref_idx = _idx_or_neg(cands, runs[0])
        if ref_idx < 0:
            ref_idx = _index_of_shape(space, cands, baseline)
    sla_s = settings.sla_minutes * 60.0 if settings.sla_minutes else None
    ctx = Ctx(space, settings, baseline, cands, hist, epoch, runs, run_idx, run_size, size_next, risk, sla_s,
               ref_idx, next_bytes=nxt)
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


def _today_cost(ctx: Ctx) -> float | None:
    b = _index_of_shape(ctx.space, ctx.cands, ctx.baseline)
    ts = [o.runtime_s * ctx.size_next / max(s, 1e-9) for o, i, s in zip(ctx.runs, ctx.run_idx, ctx.run_size,
                                                                         strict=True) if o.succeeded and i == b]
    if not ts:
        ts = [o.runtime_s for o in ctx.history if o.succeeded and o.shape.node_type_id == ctx.baseline.node_type_id
              and o.shape.effective_workers == ctx.baseline.effective_workers][-3:]
    if not ts:
        return None
    return float(ctx.cands.rate_usd[b] * float(np.median(ts)) / 3600.0)


def sla_outlook(
    space: SearchSpace,
    history: Sequence[Observation],
    settings: OptimizerSettings,
    baseline: ClusterShape,
) -> dict[tuple[str, int], float]:
    """P(typical runtime meets the SLA) of every candidate shape, as the model fitted on ``history`` predicts it
    for the next run (empty when no run succeeded yet or there is no SLA). Used to check calibration.

    :param space: allowed node types and worker counts, with prices.
    :param history: this project's runs, oldest first.
    :param settings: project settings.
    :param baseline: the user's own cluster.
    """
    ctx = _build_ctx(space, history, settings, baseline)
    model = fit_model(ctx)
    if model is None or ctx.sla_s is None:
        return {}
    p_med = _p_median(ctx, predict(ctx, model), model)
    c = ctx.cands
    return {(c.name(i), int(c.workers[i])): float(p_med[i]) for i in range(len(c))}


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
        notes.append(f"avoiding {w}×{n}, smaller-memory shapes and shapes with as little memory per core "
                     f"(out of memory)")
    if ctx.size_next > 1.15 or ctx.size_next < 0.87:
        what = f"{fmt_size(ctx.next_bytes)}, " if ctx.next_bytes else ""
        notes.append(f"sized for the expected input of the next run ({what}{ctx.size_next:.2f}× the usual)")
    model: RuntimeModel | None = None
    pred: Prediction | None = None
    if k < big_k:
        phase = "learning"
        i, what = learning_choice(ctx, k)
        model = fit_model(ctx)
        pred = predict(ctx, model) if model is not None else None
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
    shape = _to_shape(ctx, i, t_pred, notes)
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


def _optimizing_head(ctx: Ctx, i: int, model: RuntimeModel | None, cost: float | None, feasible: bool) -> str:
    c = ctx.cands
    n_ok = sum(1 for o in ctx.runs if o.succeeded)
    parts = []
    if model is not None:
        parts.append(f"{n_ok} runs show {describe_scaling(ctx.cands, ctx.run_idx, ctx.runs, model)}")
    shape_txt = fmt_shape(c, i)
    sla_txt = f"the {fmt_minutes(ctx.settings.sla_minutes)}-min SLA" if ctx.settings.sla_minutes else "today's runtime"
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
