"""The pages' reads as service use cases: project summaries (cached), a project's overview, its ROI and the
run of a task instance. ``GradientService`` exposes them as methods and the HTTP client calls the same ones
over REST, so local and http mode serve the same pages.

The projects table reads a few columns of every run of every project in bulk (``store.read_model``) and
keeps each project's summary until its runs, recommendations or settings change.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

from airflow_provider_gradient.core import insights as ins_mod
from airflow_provider_gradient.core import roi as roi_mod
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.summaries import (
    CostTuple,
    ProjectOverview,
    ProjectSummary,
    insight_settings,
    project_roi,
    summarize_points,
    summarize_project,
)
from airflow_provider_gradient.store import read_model as store_reads
from airflow_provider_gradient.store.engine import Engines


class StoreService(GradientClient, Protocol):
    """The service as the read model uses it: a client over one store (``GradientService``)."""

    url: str
    engines: Engines
    dormant_days: float

#: Summaries are reused while a project's runs/recommendations/settings are unchanged, for at most this long.
#: Whatever the clock of the request (``now_ms``), the insights that depend on it (``core.insights.CLOCK_CODES``:
#: "dormant") are computed again for it on every read.
CACHE_TTL_S = 600.0
#: Recommendations a project overview holds.
OVERVIEW_RECOMMENDATIONS = 200


@dataclass(frozen=True, slots=True)
class _Cached:
    """A cached summary: the project version it was computed from, when (monotonic s), and what its
    clock-dependent insights need (the insight settings, the start of the latest run)."""

    version: tuple[Any, ...]
    at: float
    summary: ProjectSummary
    insight_settings: ins_mod.InsightSettings
    last_started_ms: int | None

    def at_clock(self, now_ms: int | None) -> ProjectSummary:
        """The summary with its clock-dependent insights for ``now_ms`` (None: the wall clock)."""
        insights = ins_mod.at_clock(self.summary.insights, self.last_started_ms, self.insight_settings, now_ms=now_ms)
        return self.summary if insights == self.summary.insights else replace(self.summary, insights=insights)


_cache: dict[tuple[str, int], _Cached] = {}
_cache_lock = threading.Lock()
#: Held while summaries are computed, so a request arriving during the start-up warm-up waits for it
#: instead of computing the same summaries a second time.
_compute_lock = threading.Lock()
#: ``computed``: project summaries computed so far (cache misses).
stats: dict[str, int] = {"computed": 0}

_FAILURE_KIND = {"success": None, "oom": "oom", "timeout": "timeout", "failed": "other", "cancelled": "cancelled"}


@dataclass(slots=True)
class _ProjectRuns:
    """A project's runs reduced to what :func:`summarize_points` needs (ordered by start, run id)."""

    points: list[roi_mod.RunPoint]
    costs: list[CostTuple | None]
    successes: int
    last_runtime_s: float | None
    last_run_ms: int | None


def _reduce(rows: list[tuple[Any, ...]]) -> _ProjectRuns:
    """One pass over a project's rows (``store.read_model.RUN_FIELDS``) -> ROI points, costs, last run."""
    rows.sort(key=lambda t: (t[1] or 0, t[0] or 0))
    points: list[roi_mod.RunPoint] = []
    costs: list[CostTuple | None] = []
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
            roi_mod.RunPoint(
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
    return _ProjectRuns(
        points,
        costs,
        successes,
        None if last is None or last[1] is None or last[2] is None else (last[2] - last[1]) / 1000.0,
        None if last is None else last[1],
    )


def _stale(
    url: str, projects: dict[int, int], versions: dict[int, Any], now: float
) -> tuple[dict[int, _Cached], dict[int, Any]]:
    fresh: dict[int, _Cached] = {}
    stale = {}
    with _cache_lock:
        for pid, updated in projects.items():
            version = (updated, versions.get(pid))
            hit = _cache.get((url, pid))
            if hit is not None and hit.version == version and now - hit.at < CACHE_TTL_S:
                fresh[pid] = hit
            else:
                stale[pid] = version
    return fresh, stale


def project_summaries(svc: StoreService, *, now_ms: int | None = None) -> list[ProjectSummary]:
    """One :class:`ProjectSummary` per project, newest activity first (cached per project version; the
    insights that depend on the clock are computed for ``now_ms`` on every call).

    :param svc: the service
    :param now_ms: the clock of the insights (default now)
    """
    url = svc.url
    engines = svc.engines
    projects = store_reads.project_versions(engines)
    run_v = store_reads.run_versions(engines)
    recs = store_reads.newest_recommendations(engines)
    versions = {
        pid: (run_v.get(pid), (recs[pid].id, recs[pid].updated_ms) if pid in recs else None, svc.dormant_days)
        for pid in set(run_v) | set(recs)
    }
    now = time.monotonic()
    versions = {pid: versions.get(pid, (None, None, svc.dormant_days)) for pid in projects}  # the setting too
    fresh, stale = _stale(url, projects, versions, now)
    if stale:
        with _compute_lock:
            fresh, stale = _stale(url, projects, versions, now)  # a warm-up may have just filled them
            if stale:
                full = {p.id: p for p in svc.list_projects() if p.id in stale}
                runs = store_reads.run_columns(engines, list(full))
                with _cache_lock:
                    for pid, p in full.items():
                        pr = _reduce(runs[pid])
                        summary = summarize_points(
                            p,
                            pr.points,
                            pr.costs,
                            recs.get(pid),
                            successes=pr.successes,
                            last_runtime_s=pr.last_runtime_s,
                            last_run_ms=pr.last_run_ms,
                            now_ms=now_ms,
                            dormant_days=svc.dormant_days,
                        )
                        stats["computed"] += 1
                        # the version read with the full object (a concurrent update -> recomputed next time)
                        fresh[pid] = _cache[(url, pid)] = _Cached(
                            (p.updated_ms, versions.get(pid)),
                            now,
                            summary,
                            insight_settings(p, summary.learning_total, svc.dormant_days),
                            max((pt.started_ms for pt in pr.points), default=None),
                        )
    with _cache_lock:
        for key in [k for k in _cache if k[0] == url and k[1] not in projects]:
            del _cache[key]
    rows = [fresh[pid].at_clock(now_ms) for pid in projects if pid in fresh]
    rows.sort(key=lambda r: (-(r.last_run_ms or 0), r.id))
    return rows


def forget_summaries() -> None:
    """Drop every cached summary (tests; the next read computes them again)."""
    with _cache_lock:
        _cache.clear()


def cached_projects(url: str) -> set[int]:
    """The ids of the projects of the store at ``url`` whose summary is cached."""
    with _cache_lock:
        return {pid for u, pid in _cache if u == url}


def project_overview(svc: StoreService, ref: int | str, *, now_ms: int | None = None) -> ProjectOverview:
    """A project's page: the project, its summary, every run and its newest recommendations.

    :param ref: project id or app id (NotFoundError when absent)
    """
    project = svc.get_project(ref)
    runs = svc.list_runs(project.id, limit=None)
    recs = svc.list_recommendations(project.id, limit=OVERVIEW_RECOMMENDATIONS)
    summary = summarize_project(
        project, runs, recs[0] if recs else None, now_ms=now_ms, dormant_days=svc.dormant_days
    )
    return ProjectOverview(project=project, summary=summary, runs=runs, recommendations=recs)


def roi_of(svc: StoreService, ref: int | str) -> roi_mod.ProjectRoi:
    """A project's ROI from all its runs (``core.roi.project_roi``).

    :param ref: project id or app id (NotFoundError when absent)
    """
    return project_roi(svc.list_runs(ref, limit=None))
