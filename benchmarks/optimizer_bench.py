#!/usr/bin/env python3
"""Optimiser benchmark: the side-by-side suite and the ``recommend()`` latency.

1. Suite: every simulator profile × seeds × SLA (1.0×, 1.5× the baseline's measured runtime), budget 10,
   replayed on grids measured with the simulator (one noisy run per node type × workers cell, OOM included),
   for ``gradient``, ``bo`` (CherryPick-style) and ``random`` in one run; one table per profile and overall.
2. Latency: p50/p95 of ``recommend()`` with 200 runs of history (a 9-node-type × 25-worker-count space).

Usage: ``python benchmarks/optimizer_bench.py [--seeds 5] [--budget 10] [--json out.json] [--skip-suite]``
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=10)
    ap.add_argument("--json", default=None, help="also write all results to this JSON file")
    ap.add_argument("--skip-suite", action="store_true", help="only measure latency")
    args = ap.parse_args(argv)
    out: dict[str, object] = {}
    if not args.skip_suite:
        from airflow_provider_gradient.bench.suite import format_table, run_suite

        t0 = time.perf_counter()
        suite = run_suite(seeds=args.seeds, budget=args.budget)
        print(format_table(suite))
        print(f"(suite: {len(suite['cases'])} replays in {time.perf_counter() - t0:.0f} s)")
        ov = suite["summary"]["overall"]
        g = ov["gradient"]
        print(f"\ngradient overall: median regret {g['median_regret']:.1%} (target ≤ 5%), p90 {g['p90_regret']:.1%} "
              f"(≤ 15%), SLA violations after learning {g['sla_violation_rate']:.1%} (≤ 5%), repeated memory "
              f"failures {g['repeated_memory_failures']} (0); mean regret gradient {g['mean_regret']:.1%} vs bo "
              f"{ov['bo']['mean_regret']:.1%} vs random {ov['random']['mean_regret']:.1%}")
        out["suite"] = suite
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
