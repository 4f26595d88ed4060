#!/usr/bin/env python3
"""Generalisation check of the optimiser: the real grids replayed from baselines the main benchmark does not use.

``optimizer_bench.py`` starts every C3O case from the most-measured machine type at 4 and 8 nodes and every Scout
case from 32 vCPUs of m4. This sweep starts from the others (C3O: every machine type at 2, 6, 10 and 12 nodes;
Scout: c4/r4 families and 4 or 16 nodes), SLA 1.0× and 1.5×, budget 10, so a rule tuned to the usual baselines
shows up as a gap here. Not a pass/fail test: it prints one line per strategy.

Usage: ``python benchmarks/baseline_sweep.py [--suite c3o|scout] [--strategies gradient,bo] [--seeds 3]
[--data-dir ../shared/datasets] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

#: Scout baselines the main benchmark does not use.
SCOUT_BASELINES: tuple[tuple[str, int], ...] = (
    ("c4.xlarge", 8), ("r4.xlarge", 8), ("m4.xlarge", 4), ("m4.xlarge", 16), ("c4.2xlarge", 4), ("r4.large", 16),
    ("c4.large", 16))
#: C3O node counts the main benchmark does not use (every machine type of the job setting).
C3O_WORKERS: tuple[int, ...] = (2, 6, 10, 12)


def main(argv: list[str] | None = None) -> int:
    """Run the sweep and print median / mean regret, share within 5 %, final misses and violations."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=("c3o", "scout"), default="scout")
    ap.add_argument("--strategies", default="gradient,bo")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=10)
    ap.add_argument("--data-dir", default="../shared/datasets")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)

    from airflow_provider_gradient.bench.datasets import GEN4_CATALOG, c3o_cases, scout_cases
    from airflow_provider_gradient.bench.grid import configs
    from airflow_provider_gradient.bench.replay import replay
    from airflow_provider_gradient.bench.suite import SLA_FACTORS, scored_regret, summarize

    root = Path(a.data_dir)
    cases = (scout_cases(root / "scout-hadoop" / "runs.csv") if a.suite == "scout" else c3o_cases(root / "c3o"))
    strategies = [s for s in a.strategies.split(",") if s]
    out = []
    t0 = time.time()
    for case in cases:
        cf = configs(case.rows)
        if a.suite == "scout":
            bases = [b for b in SCOUT_BASELINES if (b[0], b[1], None) in cf]
        else:
            bases = sorted({(k[0], k[1]) for k in cf if k[1] in C3O_WORKERS})
        for b in bases:
            base = cf[(b[0], b[1], None)]
            if not base.succeeded:
                continue
            for f in SLA_FACTORS:
                for strat in strategies:
                    for seed in range(a.seeds):
                        r = replay(case.rows, GEN4_CATALOG, b, f * base.runtime_s / 60.0, a.budget, strategy=strat,
                                   seed=seed)
                        r.update(profile=case.job, sla_factor=f, scored_regret=scored_regret(r))
                        out.append(r)
    print(f"baseline sweep {a.suite}: {len({(r['profile'], r['baseline']['node_type'], r['baseline']['workers']) for r in out})}"
          f" (job, baseline) pairs, SLA × {list(SLA_FACTORS)}, budget {a.budget}, {a.seeds} seeds")
    for strat in strategies:
        s = summarize([r for r in out if r["strategy"] == strat])
        print(f"{strat:<9} cases {s['cases']:>4}  median {s['median_regret'] * 100:5.1f}%  mean "
              f"{s['mean_regret'] * 100:5.1f}%  ≤5% {s['near_oracle'] * 100:4.0f}%  misses {s['final_misses']:>3}  "
              f"SLA violations {s['sla_violation_rate'] * 100:4.1f}%  repeated failures {s['repeated_failures']}")
    print(f"{time.time() - t0:.0f} s")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
