"""Soak: many worker processes record runs (each twice, as retries do) into a few projects for a while, asking
for recommendations as they go; then the store is checked. Prints figures, never pass/fail.

    .venv/bin/python benchmarks/soak.py                                  # SQLite, 8 x 200 runs, retries
    .venv/bin/python benchmarks/soak.py --url postgresql+psycopg://...   # PostgreSQL
    .venv/bin/python benchmarks/soak.py --workers 16 --runs 500 --projects 5 --generate-every 25

Figures: records/s, per-record latency p50/p95/max, typed errors (StoreBusyError on SQLite), rows
expected/stored/lost/duplicated, ready recommendations per project, SQLite ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _worker(url: str, worker: int, args: argparse.Namespace, barrier: Any, out: Any) -> None:
    from airflow_provider_gradient.service import GradientError, GradientService, RecommendationIn, RunIn

    svc = GradientService.from_url(url)
    apps = [f"soak_dag.task_{k}" for k in range(args.projects)]
    projects = [svc.get_or_create_project(a, dag_id="soak_dag",
                                          baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 4})
                for a in apps]
    mine = [worker * 1_000_000 + r for r in range(args.runs)]
    other = [((worker + 1) % args.workers) * 1_000_000 + r for r in range(args.runs)] if args.retries else []
    lat: list[float] = []
    errors: dict[str, int] = {}
    barrier.wait()
    for n, rid in enumerate(mine + other):
        p = projects[rid % args.projects]
        w = 2 + rid % 6
        t0 = time.perf_counter()
        try:
            svc.record_run(p.id, RunIn(
                databricks_run_id=rid, outcome="success", start_ms=rid, end_ms=rid + 60_000 * 8 // w,
                cluster_config={"node_type_id": "m5.xlarge", "num_workers": w}, input_bytes=10**9,
                log_status="complete" if n >= len(mine) else "pending"))
            if args.generate_every and n % args.generate_every == args.generate_every - 1:
                try:
                    svc.generate_recommendation(p.id)
                except GradientError:  # e.g. nothing to optimise yet: counted, not fatal
                    svc.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": w}, phase="learning"))
        except GradientError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        lat.append(time.perf_counter() - t0)
    out.put((worker, lat, errors))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="store URL (default: a temporary SQLite file)")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--runs", type=int, default=200, help="runs per worker")
    ap.add_argument("--projects", type=int, default=3)
    ap.add_argument("--generate-every", type=int, default=20, help="run the optimiser every N records (0: never)")
    ap.add_argument("--no-retries", dest="retries", action="store_false", help="record each run once")
    args = ap.parse_args()

    from sqlalchemy import create_engine, text

    from airflow_provider_gradient.service import GradientService

    tmp = None
    url = args.url
    if not url:
        tmp = tempfile.mkdtemp(prefix="gradient-soak-")
        url = f"sqlite:///{Path(tmp) / 'gradient.db'}"
    GradientService.from_url(url)  # migrate once
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(args.workers)
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, i, args, barrier, out)) for i in range(args.workers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    lat = sorted(x for _, ls, _ in results for x in ls)
    errors: dict[str, int] = {}
    for _, _, errs in results:
        for k, v in errs.items():
            errors[k] = errors.get(k, 0) + v

    expected = args.workers * args.runs
    eng = create_engine(url)
    with eng.connect() as c:
        stored = c.execute(text("SELECT COUNT(*) FROM gradient_runs")).scalar_one()
        distinct = c.execute(text("SELECT COUNT(DISTINCT databricks_run_id) FROM gradient_runs")).scalar_one()
        ready = c.execute(text("SELECT project_id, COUNT(*) FROM gradient_recommendations WHERE state = 'ready' "
                               "GROUP BY project_id ORDER BY project_id")).all()
        recs = c.execute(text("SELECT COUNT(*) FROM gradient_recommendations")).scalar_one()
        integrity = (c.exec_driver_sql("PRAGMA integrity_check").scalar() if eng.dialect.name == "sqlite"
                     else "n/a (PostgreSQL)")
    eng.dispose()
    print(f"store            {eng.dialect.name}  ({url if not tmp else 'temporary SQLite'})")
    print(f"load             {args.workers} processes x {args.runs} runs -> {args.projects} projects"
          f"{', every run recorded twice' if args.retries else ''}; optimiser every {args.generate_every}")
    print(f"wall             {wall:.1f} s, {len(lat) / wall:.1f} records/s")
    print(f"latency/record   p50 {statistics.median(lat) * 1000:.1f} ms, "
          f"p95 {lat[int(0.95 * (len(lat) - 1))] * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms")
    print(f"typed errors     {errors or 'none'}")
    print(f"rows             expected {expected}, stored {stored}, lost {expected - distinct}, "
          f"duplicated {stored - distinct}")
    print(f"recommendations  {recs} stored; ready per project {[n for _, n in ready]}")
    print(f"integrity_check  {integrity}")


if __name__ == "__main__":
    main()
