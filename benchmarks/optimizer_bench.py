#!/usr/bin/env python3
"""Optimiser benchmark: ``gradient`` vs ``bo`` (CherryPick-style) vs ``random`` on the same grids, and the
``recommend()`` latency.

Suites (one table each, per job and overall, all three strategies in one run):

- ``simulator``: every simulator profile × seeds, grids of 5 noisy repetitions per (node type, workers) cell, judged
  on each cell's noise-free runtime (the simulator knows it);
- ``c3o``: real measured Spark-style runs (C3O: 15 job settings, 5 repetitions per configuration), baselines at
  4 and 8 nodes of the most-measured machine type;
- ``scout``: real measured Hadoop runs (Scout: 6 jobs × 39 configurations, failures and 2-hour timeouts as
  failures of unknown cause), baselines 8×m4.xlarge, 16×m4.large, 4×m4.2xlarge;
- ``c3o-growing``: C3O with the input growing over the runs (scored at the last size).

Every case: SLA = 1.0× and 1.5× the baseline's median runtime, ≥ 5 seeds (the seed draws the repetitions),
budget 10 (and 5 with ``--budgets 10,5``). Regret = final/oracle − 1 on medians; a final missing the SLA is
scored ≥ 100 %. Also printed: the calibration of gradient's P(meets SLA) on untried shapes, and cluster changes
per 10 runs after learning. The real data sets are read from ``--data-dir`` (default ``../shared/datasets``);
nothing of them is in this repository.

Usage: ``python benchmarks/optimizer_bench.py [--suites simulator,c3o,scout,c3o-growing] [--budgets 10,5]
[--seeds 5] [--json out.json] [--skip-suites]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

# one BLAS thread: the GP fits are tiny and threads only spin on a shared box (set before numpy loads)
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402


def latency(n_history: int = 200, repeats: int = 60) -> dict[str, float]:
    """p50/p95/max milliseconds of ``recommend()`` with ``n_history`` runs of history."""
    from airflow_provider_gradient.bench.simgrid import GRID_NODE_TYPES, price_catalog
    from airflow_provider_gradient.core.optimizer import (
        ClusterShape,
        Observation,
        OptimizerSettings,
        SearchSpace,
        recommend,
    )

    cat = price_catalog(GRID_NODE_TYPES)
    space = SearchSpace(cloud="aws", region="us-east-1", node_types=tuple(cat.nodes.values()), dbu_usd=cat.dbu_usd,
                        max_workers=256)
    base = ClusterShape("m5.xlarge", num_workers=8)
    settings = OptimizerSettings(sla_minutes=40)
    rng = np.random.default_rng(0)
    hist: list[Observation] = []
    shape = base
    for i in range(n_history):
        node = cat.nodes[shape.node_type_id]
        cores = shape.effective_workers * node.vcpus
        t = (120 + 240000 / cores) * float(rng.lognormal(0, 0.07))
        size = 100e9 * (1 + 0.002 * i)
        hist.append(Observation(shape=shape, runtime_s=t * (1 + 0.002 * i), succeeded=True, input_bytes=size,
                                started_ms=i * 86_400_000))
        if i < 30:
            shape = recommend(space, hist, settings, base).shape
    recommend(space, hist, settings, base)  # warm-up
    ms = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        recommend(space, hist, settings, base)
        ms.append((time.perf_counter() - t0) * 1000.0)
    return {"history": float(n_history), "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)), "max_ms": float(max(ms))}


def _verdict(ov: dict[str, dict[str, float]]) -> str:
    g, b, r = ov["gradient"], ov["bo"], ov["random"]
    lowest_median = g["median_regret"] <= min(b["median_regret"], r["median_regret"])
    lowest_mean = g["mean_regret"] < min(b["mean_regret"], r["mean_regret"])
    return (f"gradient: median {g['median_regret']:.1%} (lowest: {lowest_median}), mean {g['mean_regret']:.1%} "
            f"(lowest: {lowest_mean}; bo {b['mean_regret']:.1%}, random {r['mean_regret']:.1%}), within 5% "
            f"{g['near_oracle']:.0%}, final misses {g['final_misses']}, SLA violations after learning "
            f"{g['sla_violation_rate']:.1%} (observed draws {g['observed_violation_rate']:.1%}), repeated failures "
            f"{g['repeated_failures']}, cluster changes per 10 runs after learning {g['changes_per_10']:.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suites", default="simulator,c3o,scout,c3o-growing")
    ap.add_argument("--budgets", default="10,5")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--data-dir", default="../shared/datasets")
    ap.add_argument("--json", default=None, help="also write all results to this JSON file")
    ap.add_argument("--skip-suites", action="store_true", help="only measure latency")
    args = ap.parse_args(argv)
    out: dict[str, object] = {}
    if not args.skip_suites:
        from airflow_provider_gradient.bench.suite import format_calibration, format_table, run_suite

        verdicts = []
        for budget in (int(b) for b in args.budgets.split(",")):
            for suite in args.suites.split(","):
                t0 = time.perf_counter()
                res = run_suite(source=suite, seeds=args.seeds, budget=budget, data_dir=args.data_dir)
                print(format_table(res))
                cal = format_calibration(res)
                if cal:
                    print(cal)
                print(f"({suite}, budget {budget}: {len(res['cases'])} replays in {time.perf_counter() - t0:.0f} s)\n")
                verdicts.append(f"[{suite}, budget {budget}] {_verdict(res['summary']['overall'])}")
                out[f"{suite}_b{budget}"] = res
        print("\n".join(verdicts))
    lat = latency()
    print(f"recommend() with {int(lat['history'])} runs of history: p50 {lat['p50_ms']:.1f} ms, "
          f"p95 {lat['p95_ms']:.1f} ms (target < 200 ms), max {lat['max_ms']:.1f} ms")
    out["latency"] = lat
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
