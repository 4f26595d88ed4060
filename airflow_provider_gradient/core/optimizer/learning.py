"""Learning phase: an Ernest-style experiment design around the reference shape.

Scale workers by the step cap on the same node type (towards the SLA if it is tight), keep stepping down for jobs
that scale poorly, then measure instance families (memory per core: the most memory at about today's total memory
on fewer cores, then the least memory at the same cores) and node sizes; beyond the design, the model's most
promising untried shape.
"""

from __future__ import annotations

import math

import numpy as np

from airflow_provider_gradient.core.optimizer.context import (
    Ctx,
    best_ref,
    cap_mask,
    fit_model,
    p_sla,
    predict,
)
from airflow_provider_gradient.core.optimizer.reasons import fmt_shape

#: Parallel efficiency (speed-up ÷ core ratio) below which learning keeps stepping down in workers.
POOR_SCALING_EFFICIENCY = 0.7
#: Parallel efficiency below which the job is treated as insensitive to workers (the next step down is factor²).
VERY_POOR_SCALING_EFFICIENCY = 0.6


def _same_node_step(ctx: Ctx, ref: int, up: bool, tried: set[int], factor: float | None = None) -> int | None:
    c = ctx.cands
    mask = (c.node_idx == c.node_idx[ref]) & cap_mask(ctx, ref, factor) & ~ctx.risk.banned
    mask &= (c.workers > c.workers[ref]) if up else (c.workers < c.workers[ref])
    idx = [int(i) for i in np.nonzero(mask)[0] if int(i) not in tried]
    if not idx:
        return None
    return max(idx, key=lambda i: c.workers[i]) if up else min(idx, key=lambda i: c.workers[i])


def _model_pick(ctx: Ctx, mask: np.ndarray, min_p: float, kappa: float) -> int | None:
    model = fit_model(ctx)
    if model is None:
        return None
    pred = predict(ctx, model)
    p = p_sla(ctx, pred)
    ok = mask & (p >= min_p) & (ctx.risk.p_fail <= 0.35)
    if not ok.any():
        ok = mask & (ctx.risk.p_fail <= 0.35)
        if not ok.any():
            return None
        return int(np.nonzero(ok)[0][np.argmax(p[ok])])
    cost = ctx.cands.rate_usd * pred.mean_s / 3600.0 * (1.0 + ctx.risk.p_fail) * np.exp(-kappa * pred.sigma)
    cost = np.where(ok, cost, np.inf)
    return int(np.argmin(cost))


def learning_choice(ctx: Ctx, k: int) -> tuple[int, str]:
    """Learning run ``k + 1`` (``k`` runs of the epoch done)."""
    c = ctx.cands
    ref = ctx.ref_idx
    if k == 0:
        return ref, f"measuring today's cluster {fmt_shape(c, ref)}"
    tried = {int(i) for i in ctx.run_idx if i >= 0}
    first = ctx.runs[0]
    if not any(o.succeeded for o in ctx.runs):
        if all(o.failure_kind == "spot" for o in ctx.runs) and not ctx.risk.banned[ref]:
            # lost to spot reclaims, not to the shape: measure it again (on on-demand workers, see _to_shape)
            return ref, f"{fmt_shape(c, ref)} lost its spot workers; measuring it again on on-demand workers"
        mask = ~ctx.risk.banned & cap_mask(ctx, ref)
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
        # two steps down, or one when a step up was measured too (three worker counts already give the curve;
        # the instance family is then the more informative experiment)
        max_downs = 1 if "up" in done_dirs else 2
        # barely any speed-up: shrink aggressively (factor² below the smallest measured shape)
        wide = ctx.settings.max_change_factor ** 2 if _poor_scaling(ctx, ref, VERY_POOR_SCALING_EFFICIENCY) else None
        step = (_same_node_step(ctx, anchor, False, tried, wide) if not down_failed and downs < max_downs
                else None)
        if step is not None:
            return step, (f"runtime barely improves with more workers; measuring {fmt_shape(c, step)} "
                          f"({c.workers[step] / max(w0, 1):.2g}× today's {w0} workers)")
    # 3) instance family (memory per core): first the most memory per core at about the anchor's total memory on
    #    fewer cores (cheaper per hour; real jobs often speed up super-linearly once the data fits in memory), then
    #    the other direction at the same cores, then another node size
    fam_runs = [(o, int(i)) for o, i in zip(ctx.runs, ctx.run_idx, strict=True)
                if i >= 0 and abs(c.mem_per_core[i] - c.mem_per_core[anchor]) > 1e-6]
    higher_tried = any(c.mem_per_core[i] > c.mem_per_core[anchor] + 1e-6 for _, i in fam_runs)
    lower_tried = any(c.mem_per_core[i] < c.mem_per_core[anchor] - 1e-6 for _, i in fam_runs)
    if not higher_tried:
        pick = _memory_rich_test(ctx, anchor, tried)
        if pick is not None:
            return pick, (f"measuring more memory per core on fewer cores (about today's memory): "
                          f"{fmt_shape(c, pick)}")
    hurt = any((not o.succeeded) for o, _ in fam_runs)
    if not lower_tried and not hurt:
        pick = _family_test(ctx, anchor, tried)
        if pick is not None:
            return pick, f"measuring another instance family at the same cores: {fmt_shape(c, pick)}"
    if fam_runs:
        anchor_t = next((o.runtime_s for o, i in zip(ctx.runs, ctx.run_idx, strict=True) if i == anchor and o.succeeded),
                        None)
        o1, i1 = fam_runs[0]
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
    mask = ~ctx.risk.banned & cap_mask(ctx, best_ref(ctx))
    mask[list(tried)] = False
    i3 = _model_pick(ctx, mask, 0.5, 1.0) if mask.any() else None
    if i3 is None:
        return ref, f"re-measuring {fmt_shape(c, ref)}"
    return i3, f"exploring {fmt_shape(c, i3)}, the most promising untried shape"


def _poor_scaling(ctx: Ctx, ref: int, threshold: float = POOR_SCALING_EFFICIENCY) -> bool:
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
    return (t_lo / t_hi) / (c_hi / c_lo) < threshold


def _family_test(ctx: Ctx, ref: int, tried: set[int]) -> int | None:
    """An untried family with less memory per core than the reference, at the reference's cores: the least memory
    per core first (the extreme design point: compute-optimised families), then the nearest node size."""
    c = ctx.cands
    tried_mpc = {round(float(c.mem_per_core[i]), 3) for i in tried}
    ok = ~ctx.risk.banned & (ctx.risk.p_fail <= 0.35) & cap_mask(ctx, ref)
    ok &= c.mem_per_core < c.mem_per_core[ref] - 1e-6
    best: tuple[float, float, float, int] | None = None
    for i in np.nonzero(ok)[0]:
        if round(float(c.mem_per_core[i]), 3) in tried_mpc or int(i) in tried:
            continue
        key = (round(abs(math.log(c.cores[i] / c.cores[ref])), 2), float(c.mem_per_core[i]),
               abs(math.log(c.vcpus[i] / c.vcpus[ref])), int(i))
        if best is None or key < best:
            best = key
    return None if best is None else best[3]


def _memory_rich_test(ctx: Ctx, ref: int, tried: set[int]) -> int | None:
    """The family with the most memory per core, at about ``ref``'s total memory and no more cores (so cheaper per
    hour); the node size nearest ``ref``'s. None when no family has more memory per core than ``ref``."""
    c = ctx.cands
    ok = ~ctx.risk.banned & (ctx.risk.p_fail <= 0.35) & (c.mem_per_core > c.mem_per_core[ref] + 1e-6)
    ok &= cap_mask(ctx, ref) & (c.cores <= c.cores[ref] + 1e-9)
    idx = [int(i) for i in np.nonzero(ok)[0] if int(i) not in tried]
    if not idx:
        return None
    top = max(round(float(c.mem_per_core[i]), 3) for i in idx)
    idx = [i for i in idx if round(float(c.mem_per_core[i]), 3) == top]
    return min(idx, key=lambda i: (round(abs(math.log(c.memory_gb[i] / c.memory_gb[ref])), 2),
                                   abs(math.log(c.vcpus[i] / c.vcpus[ref])), -float(c.cores[i]), i))


def _size_test(ctx: Ctx, ref: int, tried: set[int]) -> int | None:
    """The same family as ``ref`` with a different node size (larger first) at the same cores."""
    c = ctx.cands
    fam = c.nodes[int(c.node_idx[ref])].family
    same_fam = np.array([c.nodes[int(n)].family == fam for n in c.node_idx])
    ok = same_fam & (np.abs(c.vcpus - c.vcpus[ref]) > 0) & ~ctx.risk.banned & (ctx.risk.p_fail <= 0.35)
    ok &= cap_mask(ctx, ref)
    best: tuple[float, float, int] | None = None
    for i in np.nonzero(ok)[0]:
        if int(i) in tried:
            continue
        key = (round(abs(math.log(c.cores[i] / c.cores[ref])), 2), -float(c.vcpus[i]), int(i))
        if best is None or key < best:
            best = key
    return None if best is None else best[2]
