"""Load: 8 worker processes x 50 runs recorded concurrently into the same 3 projects, through the service
(local mode, PostgreSQL) and through the REST API (real uvicorn + Airflow JWTs, PostgreSQL), with and
without retries (every run recorded twice, by two different processes). 0 lost, 0 duplicated, exactly one
latest ready recommendation per project. SQLite embedded mode: writers serialise; a writer that cannot get
the lock gets a typed ``StoreBusyError`` (never corruption: ``PRAGMA integrity_check`` ok, counts right).
"""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from test_security_api import api_server  # same directory: the uvicorn + auth manager harness

from airflow_provider_gradient.service import GradientService, RecommendationIn, RunIn, StoreBusyError

WORKERS = 8
RUNS = 50
PROJECTS = 3
APPS = [f"load_dag.task_{k}" for k in range(PROJECTS)]


def _run_ids(worker: int) -> list[int]:
    return [worker * 1000 + r for r in range(RUNS)]


def _client(target: dict[str, Any]) -> Any:
    if target["mode"] == "local":
        return GradientService.from_url(target["url"])
    from airflow_provider_gradient.hooks.http_client import GradientHttpClient

    return GradientHttpClient(target["url"], token=target["token"], timeout=60, retries=5, backoff_initial=0.2)


def _worker(target: dict[str, Any], worker: int, retries: bool, barrier: Any, out: Any) -> None:
    """Record this worker's runs (and, with ``retries``, the next worker's runs again) + recommendations."""
    try:
        client = _client(target)
        projects = [client.get_or_create_project(app, dag_id="load_dag") for app in APPS]
        ids = _run_ids(worker) + (_run_ids((worker + 1) % WORKERS) if retries else [])
        barrier.wait(120)
        t0 = time.perf_counter()
        for n, rid in enumerate(ids):
            p = projects[rid % PROJECTS]
            client.record_run(p.id, RunIn(
                databricks_run_id=rid, outcome="success", start_ms=rid * 1000, end_ms=rid * 1000 + 60_000,
                cluster_config={"node_type_id": "m5.xlarge", "num_workers": 1 + rid % 8},
                try_number=2 if n >= RUNS else 1, log_status="complete" if n >= RUNS else "pending",
            ))
            if n % 10 == 9:
                client.store_recommendation(p.id, RecommendationIn(
                    cluster={"node_type_id": "m5.xlarge", "num_workers": 1 + n % 8}, phase="learning"))
        out.put(("ok", worker, len(ids), time.perf_counter() - t0))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.put(("error", worker, repr(exc), 0.0))


def _run_workers(target: dict[str, Any], retries: bool) -> dict[str, float]:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(WORKERS)
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(target, i, retries, barrier, out)) for i in range(WORKERS)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(60)
    errors = [r for r in results if r[0] != "ok"]
    assert not errors, errors
    wall = time.perf_counter() - t0
    calls = sum(r[2] for r in results)
    return {"wall_s": wall, "records": calls, "records_per_s": calls / wall}


def _check_store(url: str, *, retried: bool) -> None:
    """Exactly the expected runs, each once, in the right project; one ready recommendation per project."""
    svc = GradientService.from_url(url)
    expected = {rid for w in range(WORKERS) for rid in _run_ids(w)}
    seen: list[int] = []
    for k, app in enumerate(APPS):
        runs = svc.list_runs(app, limit=None)
        ids = [r.databricks_run_id for r in runs]
        assert len(ids) == len(set(ids)), f"{app}: duplicated runs"
        assert all(rid % PROJECTS == k for rid in ids), f"{app}: run in the wrong project"
        seen += ids
        if retried:  # the second record (complete log) won, never downgraded
            assert {r.log_status for r in runs} == {"complete"}, app
        recs = svc.list_recommendations(app, limit=None)
        ready = [r for r in recs if r.state == "ready"]
        assert len(ready) == 1, f"{app}: {len(ready)} ready recommendations"
        assert ready[0].id == max(r.id for r in recs) and svc.latest_recommendation(app) == ready[0]
    assert sorted(seen) == sorted(expected), f"lost {len(expected - set(seen))}, extra {len(set(seen) - expected)}"
    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://")
                        else url)
    with eng.connect() as c:
        dup = c.execute(text("SELECT project_id, databricks_run_id, COUNT(*) FROM gradient_runs "
                             "GROUP BY project_id, databricks_run_id HAVING COUNT(*) > 1")).all()
        total = c.execute(text("SELECT COUNT(*) FROM gradient_runs")).scalar_one()
        projects = c.execute(text("SELECT COUNT(*) FROM gradient_projects")).scalar_one()
    eng.dispose()
    assert dup == [] and total == WORKERS * RUNS and projects == PROJECTS


# ------------------------------------------------------------------------------------------ PostgreSQL
@pytest.mark.postgres
def test_pg_service_8_processes_3_projects_retried(pg_url: str) -> None:
    """Each process records its 50 runs, then the next process's 50 again (a retry racing the original)."""
    GradientService.from_url(pg_url)  # migrate once up front (first-use races are tested elsewhere)
    figures = _run_workers({"mode": "local", "url": pg_url}, retries=True)
    _check_store(pg_url, retried=True)
    print(f"\nservice/pg retries=True: {figures}")


@pytest.mark.postgres
@pytest.mark.slow
def test_pg_http_api_8_processes_3_projects_with_retries(pg_url: str, tmp_path: Path) -> None:
    """Same load through the REST API (uvicorn, JWT auth): first every run once, then all again."""
    with api_server(tmp_path / "home", pg_url) as srv:
        target = {"mode": "http", "url": srv.url, "token": srv.tokens["admin"]}
        figures = _run_workers(target, retries=True)
        _check_store(pg_url, retried=True)
        assert srv.proc.poll() is None, "the API server died under load"
    print(f"\nhttp/pg retries=True: {figures}")


# ------------------------------------------------------------------------------------------ SQLite
def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as c:
        return str(c.execute("PRAGMA integrity_check").fetchone()[0])


def test_sqlite_8_processes_3_projects_no_corruption(tmp_path: Path) -> None:
    db = tmp_path / "gradient.db"
    url = f"sqlite:///{db}"
    GradientService.from_url(url)
    figures = _run_workers({"mode": "local", "url": url}, retries=False)
    _check_store(url, retried=False)
    assert _integrity(db) == "ok"
    print(f"\nservice/sqlite retries=False: {figures}")


def test_sqlite_locked_writer_gets_typed_busy_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds the write lock past the busy timeout: a typed StoreBusyError (not a raw
    OperationalError, not a hang), nothing half-written; once the lock goes the same call succeeds."""
    from airflow_provider_gradient.store import engine as store_engine
    from airflow_provider_gradient.store.migrate import forget_schema_cache

    db = tmp_path / "gradient.db"
    url = f"sqlite:///{db}"
    GradientService.from_url(url).get_or_create_project("locked.task")
    monkeypatch.setattr(store_engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    store_engine.reset_engines()
    forget_schema_cache()
    svc = GradientService.from_url(url)
    holder = sqlite3.connect(db, isolation_level=None, timeout=5)
    holder.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.perf_counter()
        with pytest.raises(StoreBusyError, match="locked") as exc:
            svc.record_run("locked.task", RunIn(databricks_run_id=1, outcome="success"))
        elapsed = time.perf_counter() - t0
        assert exc.value.status_code == 503
        assert elapsed < 15, f"busy error took {elapsed:.1f}s"
        assert svc.list_runs("locked.task") == []  # readers are not blocked (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    run = svc.record_run("locked.task", RunIn(databricks_run_id=1, outcome="success"))
    assert [r.id for r in svc.list_runs("locked.task")] == [run.id]
    assert _integrity(db) == "ok"
    store_engine.reset_engines()
