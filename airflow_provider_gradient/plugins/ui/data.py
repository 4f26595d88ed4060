"""Data loading of the pages: the service calls behind each page (kept apart from rendering).

The projects page needs a few columns of every run of every project. Building full ``Run`` value objects
(ORM row -> pydantic, JSON columns decoded) costs ~30 us per run, i.e. seconds for 1,000 projects x 60
runs, so :func:`project_summaries` reads exactly those columns in one query through the store's table
definitions (a read model; every write still goes through the service).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_gradient.core.roi import RunPoint
from airflow_provider_gradient.plugins.ui import views

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LightRec:
    """Learning progress of a project's newest recommendation."""

    learning_iteration: int
    learning_total: int


_FAILURE_KIND = {"success": None, "oom": "oom", "timeout": "timeout", "failed": "other", "cancelled": "other"}


@dataclass(slots=True)
class ProjectRuns:
    """A project's runs reduced to what :func:`views.summarize_points` needs (ordered by start, run id)."""

    points: list[RunPoint]
    costs: list[tuple[float, float, float, float] | None]
    successes: int
    last_runtime_s: float | None
    last_run_ms: int | None


def _reduce(rows: list[tuple[Any, ...]]) -> ProjectRuns:
    """One pass over a project's SQL rows -> ROI points, cost tuples and the last run's figures."""
    rows.sort(key=lambda t: (t[1] or 0, t[0] or 0))
    points: list[RunPoint] = []
    costs: list[tuple[float, float, float, float] | None] = []
    successes = 0
    fail = _FAILURE_KIND
    for (
        _rid,
        start,
        end,
        outcome,
        size,
        cloud,
        dbu,
        storage,
        total,
        rec_id,
        log_status,
        created,
        ex_avg,
        ex_max,
        spot,
        auto,
        logical,
    ) in rows:
        ok = outcome == "success"
        if ok:
            successes += 1
        if total is None:
            costs.append(None)
        else:
            c, d, s = float(cloud or 0.0), float(dbu or 0.0), float(storage or 0.0)
            costs.append((c, d, s, float(total or 0.0) or c + d + s))
        points.append(
            RunPoint(
                int(start or created or 0),
                (end - start) / 1000.0 if start is not None and end is not None else 0.0,
                None if total is None else float(total),
                size,
                ok,
                rec_id is not None,
                fail.get(outcome, "other"),
                int(spot or 0),
                None if ex_avg is None else float(ex_avg),
                None if ex_max is None else float(ex_max),
                bool(auto),
                log_status,
                logical,
            )
        )
    last = rows[-1] if rows else None
    return ProjectRuns(
        points,
        costs,
        successes,
        None if last is None or last[1] is None or last[2] is None else (last[2] - last[1]) / 1000.0,
        None if last is None else last[1],
    )


def _load_runs(svc: Any, project_ids: Sequence[int]) -> dict[int, ProjectRuns]:
    """Runs of ``project_ids`` reduced per project, in one query per chunk of ids (only the needed columns)."""
    from sqlalchemy import String, cast, select

    from airflow_provider_gradient.store.models import RunRow

    r = RunRow
    cols = (
        r.project_id,
        r.databricks_run_id,
        r.start_ms,
        r.end_ms,
        r.outcome,
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
        r.logical_ms,
    )
    grouped: dict[int, list[tuple[Any, ...]]] = {pid: [] for pid in project_ids}
    ids = list(project_ids)
    with svc.engines.read.connect() as conn:
        for k in range(0, len(ids), _CHUNK):
            chunk = ids[k : k + _CHUNK]
            result = conn.execute(select(*cols).where(r.project_id.in_(chunk)))
            # the DB-API rows as they are (plain tuples: no Row objects; the values need no conversion)
            raw = result.cursor.fetchall() if result.cursor is not None else result.all()
            result.close()
            for row in raw:
                grouped[row[0]].append(row[1:])
    return {pid: _reduce(rows) for pid, rows in grouped.items()}


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
#: Held while summaries are computed, so a request arriving during the start-up warm-up waits for it
#: instead of computing the same summaries a second time.
_compute_lock = threading.Lock()
#: ``computed``: project summaries computed so far (cache misses); ``warmups``: warm-ups finished.
stats: dict[str, int] = {"computed": 0, "warmups": 0}


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
        rows = _cached_summaries(svc, now_ms)
    rows.sort(key=lambda r: (-(r.last_run_ms or 0), r.id))
    return rows


def _project_versions(svc: Any) -> dict[int, int]:
    """``{project id: updated_ms}`` of every project (a light query: no settings decoding, no workspaces)."""
    from sqlalchemy import select

    from airflow_provider_gradient.store.models import ProjectRow

    with svc.engines.read.connect() as conn:
        return {pid: upd for pid, upd in conn.execute(select(ProjectRow.id, ProjectRow.updated_ms)).all()}


def _stale(
    url: str, projects: dict[int, int], versions: dict[int, Any], now: float
) -> tuple[dict[int, views.ProjectSummary], dict[int, Any]]:
    fresh: dict[int, views.ProjectSummary] = {}
    stale = {}
    with _cache_lock:
        for pid, updated in projects.items():
            version = (updated, versions.get(pid))
            hit = _cache.get((url, pid))
            if hit is not None and hit[0] == version and now - hit[1] < CACHE_TTL_S:
                fresh[pid] = hit[2]
            else:
                stale[pid] = version
    return fresh, stale


def _cached_summaries(svc: Any, now_ms: int | None) -> list[views.ProjectSummary]:
    """Summaries of a local service: cached ones reused, the others computed from one bulk read."""
    url = str(getattr(svc, "url", id(svc)))
    projects = _project_versions(svc)
    versions, recs = _versions(svc)
    now = time.monotonic()
    fresh, stale = _stale(url, projects, versions, now)
    if stale:
        with _compute_lock:
            fresh, stale = _stale(url, projects, versions, now)  # a warm-up may have just filled them
            if stale:
                full = {p.id: p for p in svc.list_projects() if p.id in stale}
                runs = _load_runs(svc, list(full))
                with _cache_lock:
                    for pid, p in full.items():
                        pr = runs[pid]
                        summary = views.summarize_points(
                            p,
                            pr.points,
                            pr.costs,
                            recs.get(pid),
                            successes=pr.successes,
                            last_runtime_s=pr.last_runtime_s,
                            last_run_ms=pr.last_run_ms,
                            now_ms=now_ms,
                        )
                        stats["computed"] += 1
                        # the version read with the full object (a concurrent update -> recomputed next time)
                        _cache[(url, pid)] = ((p.updated_ms, versions.get(pid)), now, summary)
                        fresh[pid] = summary
    with _cache_lock:
        for key in [k for k in _cache if k[0] == url and k[1] not in projects]:
            del _cache[key]
    return [fresh[pid] for pid in projects if pid in fresh]


def warm_cache(svc: Any) -> float:
    """Compute (and cache) every project's summary now; the seconds it took.

    :param svc: the GradientService
    """
    t0 = time.perf_counter()
    project_summaries(svc)
    stats["warmups"] += 1
    return time.perf_counter() - t0


def start_warmup(get_service: Callable[[], Any], also: Callable[[], Any] | None = None) -> threading.Thread:
    """Warm the projects-page cache in a daemon thread (never blocks, never raises: errors are logged).

    :param get_service: returns the GradientService to warm (called in the thread)
    :param also: more warming to do afterwards in the same thread (e.g. compiling the page templates)
    """

    def run() -> None:
        try:
            svc = get_service()
            if getattr(svc, "engines", None) is None:
                return
            seconds = warm_cache(svc)
            if also is not None:
                also()
            log.info("Gradient pages: projects cache warmed in %.2f s", seconds)
        except Exception:  # a failed warm-up only means the first request computes
            log.exception("Gradient pages: cache warm-up failed")

    thread = threading.Thread(target=run, name="gradient-ui-warmup", daemon=True)
    thread.start()
    return thread


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
