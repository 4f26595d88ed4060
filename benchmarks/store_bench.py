"""Store benchmark: local-mode get-or-create + latest-recommendation round trip with a full store.

Setup (bulk insert, not timed): 1,000 projects x 60 runs (realistic metrics JSON) and 5 recommendations
per project (4 superseded, 1 ready). Then ``--calls`` round trips of ``get_or_create_project(app_id)`` +
``latest_recommendation(project.id)`` on random existing projects, as the operator does before each
Databricks submit, through the local client (``GradientService``). Also times ``record_run`` (an
idempotent upsert) for reference. Goal: p50 < 50 ms.

    .venv/bin/python benchmarks/store_bench.py                   # SQLite (+ PostgreSQL if GRADIENT_TEST_PG_URL)
    .venv/bin/python benchmarks/store_bench.py --pg-url postgresql+psycopg://...  --json-out out.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from airflow_provider_gradient.service import GradientService, RunIn
from airflow_provider_gradient.store import get_engines
from airflow_provider_gradient.store.models import ProjectRow, RecommendationRow, RunRow

BASELINE = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 8,
            "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1}}


def _metrics(rng: random.Random) -> dict[str, Any]:
    return {
        "app_name": "Databricks Shell", "spark_version": "3.5.0", "duration_s": rng.uniform(300, 3600),
        "jobs": rng.randint(5, 50), "stages": rng.randint(10, 200), "tasks": rng.randint(1000, 50000),
        "failed_tasks": 0, "executors_max": 8, "executors_avg": 7.5, "executor_cores": 4,
        "task_time_ms": rng.randint(10**6, 10**8), "cpu_time_ms": rng.randint(10**6, 10**8),
        "input_bytes": rng.randint(10**9, 10**12), "shuffle_read_bytes": rng.randint(10**8, 10**11),
        "shuffle_write_bytes": rng.randint(10**8, 10**11), "memory_spilled_bytes": rng.randint(0, 10**10),
        "disk_spilled_bytes": rng.randint(0, 10**10), "peak_execution_memory_max_bytes": rng.randint(10**8, 10**10),
        "gc_time_ms": rng.randint(1000, 10**6), "failure_reasons": {}, "oom_detected": False,
    }


def populate(url: str, projects: int, runs: int, seed: int = 7) -> list[str]:
    """Bulk-insert the store (returns the app ids)."""
    svc = GradientService.from_url(url)  # creates the schema
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    eng = get_engines(url).write
    app_ids = [f"dag_{i // 10:04d}.task_{i % 10}" for i in range(projects)]
    with eng.begin() as conn:
        conn.execute(
            insert(ProjectRow),
            [
                {"app_id": a, "name": a, "cloud": "aws", "region": "us-east-1", "plan_type": "Premium",
                 "compute_type": "jobs", "sla_minutes": 60.0, "auto_apply": True, "maintain_scaling_type": True,
                 "optimize_instance_size": True, "allowed_families": [], "force_on_demand": False,
                 "learning_runs": 4, "phase": "optimizing", "baseline_cluster": BASELINE,
                 "dag_id": a.split(".")[0], "task_id": a.split(".")[1], "created_ms": now, "updated_ms": now,
                 "last_run_ms": now}
                for a in app_ids
            ],
        )
    ids = {p.app_id: p.id for p in svc.list_projects()}
    batch: list[dict[str, Any]] = []
    for a in app_ids:
        pid = ids[a]
        for r in range(runs):
            start = now - (runs - r) * 86_400_000
            batch.append(
                {"project_id": pid, "databricks_run_id": pid * 1000 + r, "task_key": "main",
                 "cluster_id": f"0101-{pid}-{r}", "cluster_config": BASELINE, "start_ms": start,
                 "end_ms": start + rng.randint(300_000, 3_600_000), "outcome": "success",
                 "input_bytes": rng.randint(10**9, 10**12), "metrics": _metrics(rng), "cost_cloud_usd": 3.0,
                 "cost_dbu_usd": 2.0, "cost_storage_usd": 0.1, "cost_total_usd": 5.1, "cost_low_usd": 4.0,
                 "cost_high_usd": 5.1, "log_status": "complete", "dag_id": a.split(".")[0],
                 "task_id": a.split(".")[1], "created_ms": start, "updated_ms": start}
            )
        if len(batch) >= 20_000:
            with eng.begin() as conn:
                conn.execute(insert(RunRow), batch)
            batch = []
    if batch:
        with eng.begin() as conn:
            conn.execute(insert(RunRow), batch)
    with eng.begin() as conn:
        conn.execute(
            insert(RecommendationRow),
            [
                {"project_id": ids[a], "created_ms": now - (5 - k) * 1000, "phase": "optimizing",
                 "learning_iteration": 0, "learning_total": 4,
                 "cluster": {**BASELINE, "num_workers": 4 + k}, "predicted_runtime_s": 900.0,
                 "runtime_low_s": 800.0, "runtime_high_s": 1000.0, "predicted_cost_usd": 4.0,
                 "cost_low_usd": 3.5, "cost_high_usd": 4.5, "reason": "bench",
                 "state": "ready" if k == 4 else "superseded", "updated_ms": now}
                for a in app_ids
                for k in range(5)
            ],
        )
    return app_ids


def _stats(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    q = statistics.quantiles(s, n=100, method="inclusive")
    return {"n": len(s), "p50_ms": round(statistics.median(s), 3), "p95_ms": round(q[94], 3),
            "p99_ms": round(q[98], 3), "mean_ms": round(statistics.fmean(s), 3), "max_ms": round(s[-1], 3)}


def bench(url: str, app_ids: list[str], calls: int, seed: int = 11) -> dict[str, Any]:
    svc = GradientService.from_url(url)
    rng = random.Random(seed)
    for a in app_ids[:20]:  # warm the pool / caches
        svc.latest_recommendation(svc.get_or_create_project(a).id)
    round_trip: list[float] = []
    for _ in range(calls):
        a = rng.choice(app_ids)
        t0 = time.perf_counter()
        p = svc.get_or_create_project(a, dag_id=a.split(".")[0], task_id=a.split(".")[1], baseline_cluster=BASELINE)
        rec = svc.latest_recommendation(p.id)
        round_trip.append((time.perf_counter() - t0) * 1000)
        assert rec is not None and rec.state == "ready"
    record: list[float] = []
    for i in range(min(calls, 200)):
        a = rng.choice(app_ids)
        run = RunIn(databricks_run_id=10**9 + i, outcome="success", start_ms=1, end_ms=2, log_status="complete",
                    metrics={"tasks": 1})
        t0 = time.perf_counter()
        svc.record_run(a, run)
        record.append((time.perf_counter() - t0) * 1000)
    return {"get_or_create_plus_latest": _stats(round_trip), "record_run": _stats(record)}


def _new_pg_db(admin_url: str) -> str:
    import psycopg

    name = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def run_one(label: str, url: str, projects: int, runs: int, calls: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    app_ids = populate(url, projects, runs)
    setup_s = time.perf_counter() - t0
    result = bench(url, app_ids, calls)
    result.update({"store": label, "projects": projects, "runs": projects * runs, "setup_s": round(setup_s, 1)})
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--projects", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=60, help="runs per project")
    ap.add_argument("--calls", type=int, default=500, help="timed round trips (>= 200)")
    ap.add_argument("--pg-url", default=os.environ.get("GRADIENT_TEST_PG_URL"),
                    help="admin URL of a PostgreSQL server (a fresh database is created)")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run_one("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.projects, args.runs, args.calls))
        if args.pg_url:
            results.append(run_one("postgresql", _new_pg_db(args.pg_url), args.projects, args.runs, args.calls))
    print(f"{'store':<11} {'data':<22} {'call':<28} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean':>8}")
    for r in results:
        data = f"{r['projects']} proj x {r['runs'] // r['projects']} runs"
        for call in ("get_or_create_plus_latest", "record_run"):
            s = r[call]
            print(f"{r['store']:<11} {data:<22} {call:<28} {s['n']:>5} {s['p50_ms']:>8.2f} {s['p95_ms']:>8.2f} "
                  f"{s['p99_ms']:>8.2f} {s['mean_ms']:>8.2f}")
    goal = all(r["get_or_create_plus_latest"]["p50_ms"] < 50 for r in results)
    print(f"goal p50 < 50 ms: {'met' if goal else 'NOT met'}")
    if args.json_out:
        args.json_out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
