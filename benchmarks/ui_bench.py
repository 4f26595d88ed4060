"""Benchmark: server time of the Gradient projects page with many projects x runs in the store.

Seeds a SQLite store (projects through the service, runs bulk-inserted from a pool of simulated runs), then
times in-process: the cold computation of every project's summary (done by the start-up warm-up), the first
``GET /gradient/ui/`` right after the app starts (while the warm-up runs), then, after the warm-up, the first and
repeated requests of the page and the CSV export, and a request after one new run.

    .venv/bin/python benchmarks/ui_bench.py --projects 1000 --runs 60
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def seed(svc: Any, projects: int, runs: int) -> None:
    """``projects`` projects with ``runs`` runs each (first quarter baseline, the rest on a recommendation)."""
    from sqlalchemy import insert

    from airflow_provider_gradient.simulator import ClusterSpec, price, simulate
    from airflow_provider_gradient.simulator.seed import _metrics
    from airflow_provider_gradient.store.models import RecommendationRow, RunRow

    pool = []
    for i in range(16):
        for workers in (8, 4):
            r = simulate("etl_scaling", ClusterSpec("i3.xlarge", num_workers=workers), run_index=i, seed=3)
            pool.append((r, price(r), workers))
    now = int(time.time() * 1000)
    day = 86_400_000
    learning = max(runs // 4, 1)
    t0 = time.perf_counter()
    pids = [
        svc.get_or_create_project(
            f"bench_dag_{k // 10}.task_{k}",
            dag_id=f"bench_dag_{k // 10}",
            task_id=f"task_{k}",
            settings={"sla_minutes": 150.0},
        ).id
        for k in range(projects)
    ]
    with svc.engines.write.begin() as conn:
        rec_rows = [
            {
                "project_id": pid,
                "created_ms": now,
                "updated_ms": now,
                "phase": "optimizing",
                "learning_iteration": 4,
                "learning_total": 4,
                "cluster": {"node_type_id": "i3.xlarge", "num_workers": 4},
                "reason": "bench",
                "state": "applied",
                "applied_ms": now,
            }
            for pid in pids
        ]
        conn.execute(insert(RecommendationRow), rec_rows)
        rec_of = dict(
            conn.execute(
                RecommendationRow.__table__.select().with_only_columns(
                    RecommendationRow.project_id, RecommendationRow.id
                )
            ).all()
        )
        batch: list[dict[str, Any]] = []
        for pid in pids:
            for i in range(runs):
                optimised = i >= learning
                res, cost, workers = pool[(i * 2 + (1 if optimised else 0)) % len(pool)]
                start = now - (runs - i) * day
                batch.append(
                    {
                        "project_id": pid,
                        "databricks_run_id": pid * 1000 + i,
                        "outcome": "success" if i % 17 else "failed",
                        "cluster_config": {"node_type_id": "i3.xlarge", "num_workers": workers},
                        "start_ms": start,
                        "end_ms": start + int(res.total_s * 1000),
                        "input_bytes": res.input_bytes,
                        "metrics": _metrics(res),
                        "cost_cloud_usd": cost.cloud_usd,
                        "cost_dbu_usd": cost.dbu_usd,
                        "cost_storage_usd": cost.storage_usd,
                        "cost_total_usd": cost.total_usd,
                        "recommendation_id": rec_of[pid] if optimised else None,
                        "log_status": "complete",
                        "dag_id": f"bench_dag_{pid // 10}",
                        "task_id": f"task_{pid}",
                        "airflow_run_id": f"r{i}",
                        "try_number": 1,
                        "created_ms": now,
                        "updated_ms": now,
                    }
                )
            if len(batch) >= 20_000:
                conn.execute(insert(RunRow), batch)
                batch = []
        if batch:
            conn.execute(insert(RunRow), batch)
    print(f"seeded {projects} projects x {runs} runs in {time.perf_counter() - t0:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--projects", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--store-url", default=None, help="use this store (default: a temporary SQLite file)")
    args = ap.parse_args()

    from fastapi.testclient import TestClient

    from airflow_provider_gradient.plugins.app import create_app
    from airflow_provider_gradient.plugins.ui import auth
    from airflow_provider_gradient.service import GradientService

    tmp = tempfile.TemporaryDirectory(prefix="gradient-ui-bench-")
    url = args.store_url or f"sqlite:///{Path(tmp.name) / 'gradient.db'}"
    svc = GradientService.from_url(url)
    if not svc.list_projects(limit=1):
        seed(svc, args.projects, args.runs)
    from airflow_provider_gradient.plugins.ui import data
    from airflow_provider_gradient.service import read_model

    def fresh_app() -> Any:
        read_model.forget_summaries()
        app = create_app(svc)
        app.dependency_overrides[auth.page_user] = lambda: None
        app.dependency_overrides[auth.api_user] = lambda: None
        return app

    def wait_warm(before: int, timeout: float = 120.0) -> float:
        t = time.perf_counter()
        while data.stats["warmups"] == before and time.perf_counter() - t < timeout:
            time.sleep(0.01)
        return time.perf_counter() - t

    # 1) the cold computation alone (what the start-up warm-up does), no app
    read_model.forget_summaries()
    print(f"cold computation of all summaries (warm_cache): {data.warm_cache(svc) * 1000:.0f} ms")

    # 2) app start, first request at once (it waits for the warm-up still running)
    before = data.stats["warmups"]
    app = fresh_app()
    t = time.perf_counter()
    with TestClient(app) as client:
        started = time.perf_counter() - t
        computed = read_model.stats["computed"]
        t = time.perf_counter()
        assert client.get("/ui/").status_code == 200
        first = time.perf_counter() - t
        waited = wait_warm(before)
        recomputed = read_model.stats["computed"] - computed
    print(
        f"app start {started * 1000:.0f} ms; GET /ui/ right after start (warm-up running): {first * 1000:.0f} ms (warm-up finished {waited * 1000:.0f} ms later; {recomputed} summaries computed meanwhile by warm-up + request, 0 or one set = no double work)"
    )

    # 3) app start, wait for the warm-up, then the first and repeat requests
    before = data.stats["warmups"]
    with TestClient(fresh_app()) as client:
        print(f"warm-up after app start: {wait_warm(before) * 1000:.0f} ms")
        computed = read_model.stats["computed"]
        for path in ("/ui/", "/ui/projects.csv"):
            times = []
            size = 0
            for _ in range(args.repeat):
                t = time.perf_counter()
                resp = client.get(path)
                times.append(time.perf_counter() - t)
                assert resp.status_code == 200, resp.text[:500]
                size = len(resp.content)
            print(
                f"GET {path} after warm-up: first {times[0] * 1000:.0f} ms; median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
                f"max {max(times) * 1000:.0f} ms over {args.repeat} ({size / 1024:.0f} KiB)"
            )
        print(f"summaries recomputed by these requests: {read_model.stats['computed'] - computed}")
        pid = svc.list_projects(limit=1)[0].id
        # steady state: one new run recorded -> only that project's summary is recomputed
        svc.record_run(
            pid,
            {
                "databricks_run_id": 999_999_999,
                "outcome": "success",
                "start_ms": int(time.time() * 1000),
                "end_ms": int(time.time() * 1000) + 60_000,
                "cost": {"total_usd": 1.0, "cloud_usd": 1.0},
            },
        )
        t = time.perf_counter()
        client.get("/ui/")
        print(f"GET /ui/ after one new run: {(time.perf_counter() - t) * 1000:.0f} ms")
        t = time.perf_counter()
        client.get(f"/ui/projects/{pid}")
        print(f"GET /ui/projects/{pid}: {(time.perf_counter() - t) * 1000:.0f} ms")
    tmp.cleanup()


if __name__ == "__main__":
    main()
