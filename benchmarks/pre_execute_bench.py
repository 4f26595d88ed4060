"""Benchmark: overhead of the pre_execute step (local and http client), p50/p95 over N calls.

Seeds a SQLite store with ``--projects`` projects x ``--runs`` runs (same seeding as ``ui_bench.py``), gives
each measured project a *ready* recommendation, then times the whole fail-open apply step
(``guarded_apply``: thread, project get-or-create, latest ready recommendation, merge, write-back) on
fresh operator-like task objects:

* local: the in-process ``GradientService`` (embedded mode);
* http: ``GradientHttpClient`` against the plugin's REST app served by uvicorn on 127.0.0.1.

    .venv/bin/python benchmarks/pre_execute_bench.py --projects 1000 --runs 60 --calls 200

Goal: p50 < 50 ms local, < 150 ms http.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent


def _load_seed() -> Any:
    spec = importlib.util.spec_from_file_location("gradient_ui_bench", HERE / "ui_bench.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.seed


def _task(k: int) -> Any:
    """A fresh operator-like object (the attributes the pre_execute step reads and writes)."""
    return SimpleNamespace(
        dag_id=f"bench_dag_{k // 10}",
        task_id=f"task_{k}",
        params={},
        json={
            "run_name": "bench",
            "new_cluster": {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 8,
                            "custom_tags": {"team": "bench"}},
            "notebook_task": {"notebook_path": "/Shared/jobs/etl_scaling"},
        },
        new_cluster=None,
        tasks=None,
        log=logging.getLogger("bench"),
    )


def _measure(client: Any, projects: int, calls: int) -> tuple[list[float], int]:
    from airflow_provider_gradient.operators.steps import guarded_apply

    times, applied, failed_open = [], 0, 0
    for i in range(calls):
        k = (i * 7919) % projects + 1  # spread over the store (project ids start at 1)
        task = _task(k - 1)
        t = time.perf_counter()
        state = guarded_apply(task, None, client_factory=lambda _t, c=client: c)
        times.append((time.perf_counter() - t) * 1000)
        if state.fail_open_reason:
            failed_open += 1
        applied += sum(1 for c in state.clusters.values() if c.recommendation_id is not None)
    if failed_open:
        print(f"  ({failed_open} calls failed open past the time budget)")
    return times, applied


def _report(name: str, times: list[float], applied: int) -> None:
    q = statistics.quantiles(times, n=20)
    print(f"{name:5s}: p50 {statistics.median(times):6.1f} ms  p95 {q[18]:6.1f} ms  max {max(times):6.1f} ms "
          f"over {len(times)} calls ({applied} with a recommendation applied)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--projects", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--store-url", default=None)
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()
    logging.getLogger("bench").setLevel(logging.ERROR)
    # measure the real latency: a generous budget so slow calls are timed, not cut at 2 s (fail-open)
    os.environ.setdefault("AIRFLOW__GRADIENT__PRE_EXECUTE_TIMEOUT_SECONDS", "30")

    from airflow_provider_gradient.service import GradientService

    tmp = tempfile.TemporaryDirectory(prefix="gradient-pre-exec-bench-")
    url = args.store_url or f"sqlite:///{Path(tmp.name) / 'gradient.db'}"
    svc = GradientService.from_url(url)
    if not svc.list_projects(limit=1):
        _load_seed()(svc, args.projects, args.runs)
        for p in svc.list_projects():
            svc.store_recommendation(p.id, {"cluster": {"node_type_id": "i3.xlarge", "num_workers": 4},
                                            "phase": "optimizing", "reason": "bench"})
    n = len(svc.list_projects())
    print(f"store: {n} projects x {args.runs} runs ({url})")

    _measure(svc, n, 10)  # warm-up (imports, connection pool)
    times, applied = _measure(svc, n, args.calls)
    _report("local", times, applied)

    if args.skip_http:
        return
    import uvicorn
    from airflow.api_fastapi.core_api.security import get_user

    from airflow_provider_gradient.hooks.http_client import GradientHttpClient
    from airflow_provider_gradient.plugins.app import create_app
    from airflow_provider_gradient.plugins.ui import auth

    app = create_app(svc, include_ui=False)
    # authentication is the api-server's job; the benchmark measures Gradient's own path
    bench_user = SimpleNamespace(get_name=lambda: "bench", get_id=lambda: "bench", role="Admin")
    app.dependency_overrides[get_user] = lambda: bench_user
    app.dependency_overrides[auth.api_user] = lambda: bench_user
    from fastapi import FastAPI

    root = FastAPI()
    root.mount("/gradient", app)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        client = GradientHttpClient(f"http://127.0.0.1:{port}", token="bench-token", timeout=10, retries=0)
        _measure(client, n, 10)
        times, applied = _measure(client, n, args.calls)
        _report("http", times, applied)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
