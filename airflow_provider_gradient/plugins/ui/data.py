"""Data loading of the pages: the service calls behind each page (kept apart from rendering).

The projects page needs a few columns of every run of every project. Building full ``Run`` value objects
(ORM row -> pydantic, JSON columns decoded) costs ~30 us per run, i.e. seconds for 1,000 projects x 60
runs, so :func:`project_summaries` reads exactly those columns in one query through the store's table
definitions (a read model; every write still goes through the service).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_gradient.plugins.ui import views


@dataclass(frozen=True, slots=True)
class LightCost:
    """The cost columns of a run."""

    cloud_usd: float
    dbu_usd: float
    storage_usd: float
    total_usd: float


@dataclass(frozen=True, slots=True)
class LightRun:
    """The fields of a run the projects table, ROI and insights use (same names as ``Run``)."""

    databricks_run_id: int
    outcome: str
    start_ms: int | None
    end_ms: int | None
    input_bytes: int | None
    cost: LightCost | None
    recommendation_id: int | None
    log_status: str | None
    metrics: dict[str, Any]
    cluster_config: dict[str, Any] | None
    created_ms: int
    duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class LightRec:
    """Learning progress of a project's newest recommendation."""

    learning_iteration: int
    learning_total: int


def _load_runs(svc: Any, project_ids: Sequence[int]) -> dict[int, list[LightRun]]:
    """Runs of ``project_ids`` (oldest first) in one query per chunk of ids."""
    from sqlalchemy import String, cast, select

    from airflow_provider_gradient.store.models import RunRow

    r = RunRow
    cols = (
        r.project_id,
        r.databricks_run_id,
        r.outcome,
        r.start_ms,
        r.end_ms,
        r.input_bytes,
        r.cost_cloud_usd,
        r.cost_dbu_usd,
        r.cost_storage_usd,
        r.cost_total_usd,
        r.recommendation_id,
        r.log_status,
        r.created_ms,
        r.metrics["executors_avg"].as_float(),
        r.metrics["executors_max"].as_float(),
        r.metrics["spot_interruptions"].as_float(),
        cast(r.cluster_config, String).like('%"autoscale"%'),
    )
    runs: dict[int, list[LightRun]] = {pid: [] for pid in project_ids}
    ids = list(project_ids)
    with svc.engines.read.connect() as conn:
        for k in range(0, len(ids), _CHUNK):
            chunk = ids[k : k + _CHUNK]
            query = (
                select(*cols)
                .where(r.project_id.in_(chunk))
                .order_by(r.project_id, r.start_ms, r.databricks_run_id)
            )
            for row in conn.execute(query).all():
                (
                    pid,
                    rid,
                    outcome,
                    start,
                    end,
                    size,
                    cloud,
                    dbu,
                    storage,
                    total,
                    rec_id,
                    log,
                    created,
                    ex_avg,
                    ex_max,
                    spot,
                    autoscale,
                ) = row
                metrics: dict[str, Any] = {}
                if ex_avg is not None:
                    metrics["executors_avg"] = ex_avg
                if ex_max is not None:
                    metrics["executors_max"] = ex_max
                if spot:
                    metrics["spot_interruptions"] = spot
                runs[pid].append(
                    LightRun(
                        rid,
                        outcome,
                        start,
                        end,
                        size,
                        None if total is None else LightCost(cloud or 0.0, dbu or 0.0, storage or 0.0, total),
                        rec_id,
                        log,
                        metrics,
                        {"autoscale": True} if autoscale else None,
                        created,
                        None if start is None or end is None else (end - start) / 1000.0,
                    )
                )
    return runs


def _versions(svc: Any) -> tuple[dict[int, tuple[Any, ...]], dict[int, LightRec]]:
    """Per project: a version of its runs and recommendations (count, last update), and its newest
    recommendation's learning progress. Two aggregate queries."""
    from sqlalchemy import func, select

    from airflow_provider_gradient.store.models import RecommendationRow, RunRow

    rec = RecommendationRow
    newest = select(rec.project_id, func.max(rec.id).label("id")).group_by(rec.project_id).subquery()
    with svc.engines.read.connect() as conn:
        run_v = {
            pid: (n, last)
            for pid, n, last in conn.execute(
                select(RunRow.project_id, func.count(), func.max(RunRow.updated_ms)).group_by(
                    RunRow.project_id
                )
            ).all()
        }
        recs = {}
        rec_v = {}
        for pid, rid, it, tot, upd in conn.execute(
            select(rec.project_id, rec.id, rec.learning_iteration, rec.learning_total, rec.updated_ms).join(
                newest, rec.id == newest.c.id
            )
        ).all():
            recs[pid] = LightRec(it or 0, tot or 0)
            rec_v[pid] = (rid, upd)
    versions = {pid: (run_v.get(pid), rec_v.get(pid)) for pid in set(run_v) | set(rec_v)}
    return versions, recs


#: Summaries are reused while a project's runs/recommendations/settings are unchanged (and for at most
#: this long, as "dormant" depends on the clock).
CACHE_TTL_S = 600.0
_CHUNK = 500
_cache: dict[tuple[str, int], tuple[tuple[Any, ...], float, views.ProjectSummary]] = {}
_cache_lock = threading.Lock()


def project_summaries(svc: Any, *, now_ms: int | None = None) -> list[views.ProjectSummary]:
    """One :class:`views.ProjectSummary` per project, newest activity first.

    With a local service the runs are read in bulk and each project's summary is cached until its runs,
    recommendations or settings change; other clients go through the service methods.

    :param svc: the GradientService (or a client with the same methods)
    """
    rows: list[views.ProjectSummary] = []
    if getattr(svc, "engines", None) is None:
        for project in svc.list_projects():
            runs = svc.list_runs(project.id, limit=None)
            latest = svc.latest_recommendation(project.id, state=None)
            rows.append(views.summarize_project(project, runs, latest, now_ms=now_ms))
    else:
        url = str(getattr(svc, "url", id(svc)))
        projects = svc.list_projects()
        versions, recs = _versions(svc)
        now = time.monotonic()
        fresh: dict[int, views.ProjectSummary] = {}
        stale = []
        with _cache_lock:
            for p in projects:
                version = (p.updated_ms, versions.get(p.id))
                hit = _cache.get((url, p.id))
                if hit is not None and hit[0] == version and now - hit[1] < CACHE_TTL_S:
                    fresh[p.id] = hit[2]
                else:
                    stale.append((p, version))
        runs = _load_runs(svc, [p.id for p, _ in stale]) if stale else {}
        with _cache_lock:
            for p, version in stale:
                summary = views.summarize_project(p, runs[p.id], recs.get(p.id), now_ms=now_ms)
                _cache[(url, p.id)] = (version, now, summary)
                fresh[p.id] = summary
            live = {(url, p.id) for p in projects}
            for key in [k for k in _cache if k[0] == url and k not in live]:
                del _cache[key]
        rows = [fresh[p.id] for p in projects]
    rows.sort(key=lambda r: (-(r.last_run_ms or 0), r.id))
    return rows


def find_task_run(svc: Any, dag_id: str, task_id: str, run_id: str) -> tuple[Any, Any]:
    """The project of a task (by DAG/task id, else app id ``<dag_id>.<task_id>``) and its run for ``run_id``.

    :return: ``(project | None, run | None)``; the run is the latest try recorded for that Airflow run.
    """
    if not dag_id or not task_id:
        return None, None
    project = None
    for p in svc.list_projects():
        if p.dag_id == dag_id and p.task_id == task_id:
            project = p
            break
    if project is None:
        project = svc.find_project(f"{dag_id}.{task_id}")
    if project is None:
        return None, None
    matches = [r for r in svc.list_runs(project.id, limit=None) if r.airflow_run_id == run_id and run_id]
    if not matches:
        return project, None
    matches.sort(key=lambda r: (r.try_number or 0, r.start_ms or 0, r.databricks_run_id))
    return project, matches[-1]
