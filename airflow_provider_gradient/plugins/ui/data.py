"""Data loading of the pages: the service calls behind each page (kept apart from rendering)."""

from __future__ import annotations

from typing import Any

from airflow_provider_gradient.plugins.ui import views


def project_summaries(svc: Any, *, now_ms: int | None = None) -> list[views.ProjectSummary]:
    """One :class:`views.ProjectSummary` per project, newest activity first.

    :param svc: the GradientService
    """
    bulk = getattr(svc, "project_overview", None)
    rows: list[views.ProjectSummary] = []
    if callable(bulk):  # one query for everything when the service offers it
        for project, runs, latest in bulk():
            rows.append(views.summarize_project(project, runs, latest, now_ms=now_ms))
    else:
        for project in svc.list_projects():
            runs = svc.list_runs(project.id, limit=None)
            latest = svc.latest_recommendation(project.id, state=None)
            rows.append(views.summarize_project(project, runs, latest, now_ms=now_ms))
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
