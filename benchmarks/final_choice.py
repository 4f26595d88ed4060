#!/usr/bin/env python3
"""Where the simulator suite loses: exploration or the final choice among noisy measured shapes?

Replays ``gradient`` on the simulator suite (budget 10, 5 seeds, SLA 1.0× / 1.5×), then, for every case, takes
the shapes it measured and prints:

- the *ceiling*: the regret had the final been the cheapest measured shape whose noise-free median meets the SLA;
- the regret of picking the cheapest measured shape estimated within the SLA by each estimator of its runtime —
  its observed runs, the model's posterior, the parametric part only, and a geometric blend of run and model;
- the regret of the final ``gradient`` really recommends.

Not a pass/fail test. Usage: ``python benchmarks/final_choice.py [--seeds 5] [--budget 10]``
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from typing import Any

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

ESTIMATORS: tuple[str, ...] = ("observed", "model", "parametric", "blend")
FINAL = "gradient's final"


def _line(name: str, v: list[float]) -> str:
    a = np.array(v)
    return (f"{name:<34} median {np.median(a) * 100:5.1f}%  mean {a.mean() * 100:5.1f}%  "
            f"≤5% {(a <= 0.05).mean() * 100:4.0f}%  regret ≥ 100 % (misses included) {(a >= 1.0).sum():>3}")


def analyse(cases: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Per case: the ceiling, each estimator's pick and the real final (regret; a pick missing the SLA ≥ 1.0)."""
    from airflow_provider_gradient.bench.grid import configs, grid_space
    from airflow_provider_gradient.bench.simgrid import build_sim_grid, price_catalog
    from airflow_provider_gradient.core.optimizer import ClusterShape, Observation, OptimizerSettings
    from airflow_provider_gradient.core.optimizer.context import fit_model, predict
    from airflow_provider_gradient.core.optimizer.engine import _build_ctx

    cat = price_catalog()
    grids: dict[tuple[str, int], Any] = {}
    out: dict[str, list[float]] = defaultdict(list)
    for c in cases:
        if c.get("scored_regret") is None:
            continue
        key = (c["profile"], int(c["seed"]))
        if key not in grids:
            g = build_sim_grid(key[0], key[1], catalog=cat)
            grids[key] = (configs(g.rows), grid_space(list(g.rows), cat), g.baseline)
        cf, space, base = grids[key]
        sla, oc = float(c["sla_minutes"]) * 60.0, float(c["oracle"]["cost_usd"])
        hist = [Observation(ClusterShape(r["node_type"], num_workers=r["workers"]), r["runtime_s"], r["succeeded"],
                            started_ms=i) for i, r in enumerate(c["runs"])]
        ctx = _build_ctx(space, hist, OptimizerSettings(sla_minutes=sla / 60.0),
                         ClusterShape(base[0], num_workers=base[1]))
        model = fit_model(ctx)
        if model is None:
            continue
        pred = predict(ctx, model)
        runs: dict[tuple[str, int], list[float]] = defaultdict(list)
        for r in c["runs"]:
            if r["succeeded"]:
                runs[(r["node_type"], int(r["workers"]))].append(float(r["runtime_s"]))
        rows = []
        for (node, w), ts in runs.items():
            i = ctx.cands.index_of(node, w)
            cfg = cf[(node, w, None)]
            if i is None or not cfg.succeeded:
                continue
            true = cat.cost_usd(node, w, cfg.runtime_s) / oc - 1.0
            scored = true if cfg.runtime_s <= sla else max(true, 1.0)
            obs, mod = float(np.median(ts)), float(pred.median_s[i])
            est = {"observed": obs, "model": mod, "parametric": float(pred.param_runtime_s[i]),
                   "blend": float(np.sqrt(obs * mod))}
            rows.append((scored, cfg.runtime_s <= sla, float(ctx.cands.rate_usd[i]), est))
        feasible = [r[0] for r in rows if r[1]]
        out["ceiling (cheapest truly feasible)"].append(min(feasible) if feasible else 1.0)
        for name in ESTIMATORS:
            ok = [r for r in rows if r[3][name] <= sla]
            out[f"pick by {name}"].append(min(ok, key=lambda r: r[2] * r[3][name])[0] if ok else 1.0)
        out[FINAL].append(float(c["scored_regret"]))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the suite and print the analysis."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=10)
    a = ap.parse_args(argv)
    from airflow_provider_gradient.bench.suite import run_suite

    res = run_suite(source="simulator", seeds=a.seeds, budget=a.budget, strategies=("gradient",))
    out = analyse(res["cases"])
    print(f"simulator suite, gradient, budget {a.budget}, {a.seeds} seeds: regret of the final choice among the "
          f"measured shapes ({len(out[FINAL])} cases)")
    for name, v in out.items():
        print(_line(name, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
