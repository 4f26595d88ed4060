"""Service under concurrency: 8 threads and 8 processes racing on get-or-create, record_run and
recommendations. PostgreSQL is the production store (row locks, ON CONFLICT); SQLite must serialise
writers cleanly (WAL + busy timeout + BEGIN IMMEDIATE) without errors or duplicates."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_gradient.service import GradientService, RecommendationIn, RunIn

N = 8


def _threads(fn: Callable[[int], Any], n: int = N) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors
    return results


def _proc_main(url: str, job: str, i: int, barrier: Any, out: Any) -> None:
    try:
        svc = GradientService.from_url(url)  # first use in every process: migrations race too
        barrier.wait()
        if job == "create":
            p = svc.get_or_create_project("race.task", name=f"worker {i}")
            out.put(("ok", p.id))
        elif job == "runs":
            p = svc.get_or_create_project("race.task")
            for r in range(20):
                svc.record_run(p.id, RunIn(databricks_run_id=r, outcome="success", start_ms=r, try_number=i))
                svc.record_run(
                    p.id, RunIn(databricks_run_id=1000 * (i + 1) + r, outcome="success", start_ms=r)
                )
            out.put(("ok", p.id))
        elif job == "recs":
            p = svc.get_or_create_project("race.task")
            for r in range(10):
                svc.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": r}, phase="learning"))
            out.put(("ok", p.id))
    except BaseException as exc:  # noqa: BLE001
        out.put(("error", repr(exc)))


def _processes(url: str, job: str, n: int = N) -> list[int]:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(n)
    out = ctx.Queue()
    procs = [ctx.Process(target=_proc_main, args=(url, job, i, barrier, out)) for i in range(n)]
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(60)
    errors = [r for r in results if r[0] != "ok"]
    assert not errors, errors
    return [r[1] for r in results]


# --------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_get_or_create_8_threads_one_project_pg(pg_url: str) -> None:
    svc = GradientService.from_url(pg_url)
    ids = _threads(lambda i: svc.get_or_create_project("race.task", name=f"t{i}").id)
    assert len(set(ids)) == 1
    assert len(svc.list_projects()) == 1


@pytest.mark.postgres
def test_get_or_create_8_processes_one_project_pg(pg_url: str) -> None:
    ids = _processes(pg_url, "create")
    assert len(set(ids)) == 1
    assert len(GradientService.from_url(pg_url).list_projects()) == 1


@pytest.mark.postgres
def test_record_runs_8_processes_no_loss_no_duplicate_pg(pg_url: str) -> None:
    _processes(pg_url, "runs")
    svc = GradientService.from_url(pg_url)
    runs = svc.list_runs("race.task", limit=None)
    ids = [r.databricks_run_id for r in runs]
    assert len(ids) == len(set(ids)) == 20 + N * 20


@pytest.mark.postgres
def test_one_ready_recommendation_under_8_processes_pg(pg_url: str) -> None:
    _processes(pg_url, "recs")
    svc = GradientService.from_url(pg_url)
    recs = svc.list_recommendations("race.task", limit=None)
    assert len(recs) == N * 10
    ready = [r for r in recs if r.state == "ready"]
    assert len(ready) == 1 and ready[0] == svc.latest_recommendation("race.task")
    assert ready[0].id == max(r.id for r in recs)


# --------------------------------------------------------------------------- both stores
def test_concurrent_threads_same_run_and_recommendations(store_url: str) -> None:
    svc = GradientService.from_url(store_url)
    p = svc.get_or_create_project("race.task")

    def work(i: int) -> None:
        for _ in range(3):
            svc.record_run(p.id, RunIn(databricks_run_id=42, outcome="success", try_number=i))
        svc.record_run(p.id, RunIn(databricks_run_id=100 + i, outcome="success"))
        svc.store_recommendation(p.id, RecommendationIn(cluster={"n": i}, phase="learning"))

    _threads(work)
    runs = svc.list_runs(p.id, limit=None)
    assert sorted(r.databricks_run_id for r in runs) == [42, *range(100, 100 + N)]
    recs = svc.list_recommendations(p.id, limit=None)
    assert len(recs) == N and [r.state for r in recs].count("ready") == 1


def test_sqlite_8_processes_concurrent_writers(sqlite_url: str) -> None:
    ids = _processes(sqlite_url, "create")
    assert len(set(ids)) == 1
    _processes(sqlite_url, "runs")
    runs = GradientService.from_url(sqlite_url).list_runs("race.task", limit=None)
    ids2 = [r.databricks_run_id for r in runs]
    assert len(ids2) == len(set(ids2)) == 20 + N * 20


def test_sqlite_locked_store_gives_a_clear_retryable_error(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer blocked past the busy timeout (and the retries) gets StoreBusyError, and nothing is corrupted."""
    import sqlite3

    from airflow_provider_gradient.service import StoreBusyError
    from airflow_provider_gradient.store import engine

    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 100)
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    svc = GradientService.from_url(url)
    p = svc.get_or_create_project("a.b")
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        assert svc.get_project(p.id) == p  # readers are not blocked (WAL)
        with pytest.raises(StoreBusyError, match="locked"):
            svc.record_run(p.id, RunIn(databricks_run_id=1, outcome="success"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert svc.record_run(p.id, RunIn(databricks_run_id=1, outcome="success")).databricks_run_id == 1
    assert len(svc.list_runs(p.id)) == 1
