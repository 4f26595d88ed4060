"""The Gradient pages: projects, project detail (with actions), task-instance tab and static files.

Mounted by the plugin's FastAPI app under ``/gradient``, so the pages live under ``/gradient/ui/``.
Every route depends on :func:`auth.page_user` (HTML: redirect to login) or :func:`auth.api_user` (401).
What a user sees is filtered by read permission on each project's DAG (``plugins/access.py``): the projects
table, its KPIs and the CSV only hold readable projects; a project page or task-instance tab of a DAG the
user may not read answers 403.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from airflow_provider_gradient.charts import cost_chart, runtime_chart
from airflow_provider_gradient.plugins.access import Access, unowned_who
from airflow_provider_gradient.plugins.api.deps import get_service, service_of
from airflow_provider_gradient.plugins.ui import auth, data, views
from airflow_provider_gradient.plugins.ui.rendering import ENV, STATIC, base_path, project_rows, render
from airflow_provider_gradient.service import GradientService, Project
from airflow_provider_gradient.service.summaries import kpis

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start warming the projects-page cache in the background when the app starts (never blocks)."""
    data.start_warmup(lambda: service_of(app), also=compile_templates)
    yield


def compile_templates() -> None:
    """Load (compile) the page templates now rather than on the first request."""
    for name in ("projects.html", "project_row.html", "project.html", "base.html"):
        ENV.get_template(name)


router = APIRouter(prefix="/ui", include_in_schema=False, lifespan=_lifespan)
PageUser = Annotated[Any, Depends(auth.page_user)]
ApiUser = Annotated[Any, Depends(auth.api_user)]

PROJECT_COLUMNS = (
    ("name", "Name"),
    ("app_id", "App id"),
    ("phase", "Phase"),
    ("auto_apply", "Auto-apply"),
    ("sla", "SLA"),
    ("runs", "Runs"),
    ("last_cost", "Last cost"),
    ("last_runtime", "Last runtime (min)"),
    ("trend", "Cost, last 10 runs"),
    ("savings", "Savings"),
    ("insights", "Insights"),
)


def _now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------- pages
@router.get("/", name="gradient_projects")
def projects_page(request: Request, user: PageUser) -> Response:
    """Projects: KPI tiles and the projects table (the projects the user may read)."""
    rows = Access(user).readable(get_service(request).project_summaries(now_ms=_now_ms()))
    counts = Counter(code for r in rows for code in r.insight_codes)
    return render(
        request,
        "projects.html",
        user,
        nav="projects",
        row_html=project_rows(rows, base_path(request)),
        k=kpis(rows),
        columns=PROJECT_COLUMNS,
        insight_counts=sorted(counts.items()),
    )


@router.get("/projects.csv", name="gradient_projects_csv")
def projects_csv(request: Request, user: ApiUser) -> Response:
    """The projects the user may read as CSV (formula-safe cells)."""
    rows = Access(user).readable(get_service(request).project_summaries(now_ms=_now_ms()))
    return Response(
        views.projects_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="gradient-projects.csv"'},
    )


def _project_or_404(svc: GradientService, project_id: int) -> Project:
    from airflow_provider_gradient.service.errors import NotFoundError

    try:
        return svc.get_project(project_id)
    except NotFoundError:
        raise HTTPException(404, f"project {project_id} not found") from None


@router.get("/projects/{project_id}", name="gradient_project")
def project_page(request: Request, project_id: int, user: PageUser) -> Response:
    """One project: summary, ROI, settings, charts, runs, recommendations and actions."""
    from airflow_provider_gradient.service.errors import NotFoundError

    try:
        overview = get_service(request).project_overview(project_id, now_ms=_now_ms())
    except NotFoundError:
        return render(
            request,
            "error.html",
            user,
            404,
            title="Project not found",
            message=f"There is no project {project_id}.",
        )
    project = overview.project
    denied = _denied_page(request, user, project.dag_id)
    if denied is not None:
        return denied
    summary = overview.summary
    run_views = views.run_views(overview.runs)
    rec_views = views.recommendation_views(overview.recommendations, run_views)
    ready = next((r for r in rec_views if r.state == "ready"), None)
    points = views.chart_points(run_views)
    return render(
        request,
        "project.html",
        user,
        nav="projects",
        p=project,
        st=project.settings,
        s=summary,
        runs=run_views[-views.CHART_RUNS :],
        recs=rec_views,
        ready=ready,
        points=points,
        cost_chart=cost_chart(points),
        runtime_chart=runtime_chart(points, project.settings.sla_minutes),
        can_edit=auth.can_edit_dag(user, project.dag_id),
    )


def _denied_page(request: Request, user: Any, dag_id: str | None) -> Response | None:
    """A 403 page unless ``user`` may read the project of ``dag_id``; None when allowed."""
    if Access(user).can(dag_id, "GET"):
        return None
    return render(
        request,
        "error.html",
        user,
        403,
        title="Permission denied",
        message=f"You need read permission on DAG {dag_id!r}."
        if dag_id
        else f"This project has no DAG: seeing it needs {unowned_who()}.",
    )


@router.get("/ti", name="gradient_task_instance")
def task_instance_page(
    request: Request,
    user: PageUser,
    dag_id: str = "",
    run_id: str = "",
    task_id: str = "",
    map_index: str = "",
    try_number: Annotated[int | None, Query(ge=0, le=10_000)] = None,
) -> Response:
    """The "Gradient" tab of a task instance: its project, cost, cluster and the recommendation applied
    (the latest try recorded, or ``try_number``; ``map_index``: Airflow's ``{MAP_INDEX}``, text that is not a
    number -- what Airflow leaves in the link of a task that is not mapped -- is ignored). A multi-cluster
    task has one project per cluster: the tab shows each, labelled by its ``task_key`` / ``job_cluster_key``."""
    svc = get_service(request)
    denied = _denied_page(request, user, dag_id) if dag_id else None
    if denied is not None:
        return denied
    index = int(map_index) if map_index.lstrip("-").isdigit() and -1 <= int(map_index) < 2**31 else None
    found = svc.find_task_run(dag_id, task_id, run_id, try_number, index)
    for c in found.clusters:
        if c.project.dag_id != dag_id:
            denied = _denied_page(request, user, c.project.dag_id)
            if denied is not None:
                return denied
    now = _now_ms()
    clusters = []
    for i, c in enumerate(found.clusters):
        rv = views.run_views([c.run]) if c.run is not None else []
        used = [c.recommendation] if c.recommendation is not None else []
        clusters.append(
            {
                "key": c.cluster_key,
                "sfx": "" if i == 0 else f"-{i + 1}",  # element ids: the first cluster's keep their plain names
                "project": c.project,
                "summary": svc.project_overview(c.project.id, now_ms=now).summary,
                "run": rv[0] if rv else None,
                "tasks": [k for k in (c.run.task_key or "").split(",") if k] if c.run is not None else [],
                "rec": next(iter(views.recommendation_views(used, rv)), None),
            }
        )
    ctx: dict[str, Any] = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "clusters": clusters}
    return render(request, "ti.html", user, nav="projects", **ctx)


@router.get("/static/{name}", name="gradient_static")
def static_file(name: str, user: ApiUser) -> Response:
    """The pages' own CSS/JS (shipped as package data; nothing is loaded from elsewhere)."""
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file():
        raise HTTPException(404, "not found")
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "private, max-age=300"})


# ---------------------------------------------------------------------------- actions (JSON, CSRF-checked)
def _writable_project(request: Request, user: Any, project_id: int) -> tuple[GradientService, Project]:
    auth.check_csrf(request)
    svc = get_service(request)
    project = _project_or_404(svc, project_id)
    auth.require_edit(user, project.dag_id)
    return svc, project


def _error(exc: Exception) -> JSONResponse:
    status = int(getattr(exc, "status_code", 500))
    detail: Any = getattr(exc, "message", str(exc))
    errors = getattr(exc, "errors", None)
    if errors:
        detail = views.readable_errors(errors) or detail
    return JSONResponse({"detail": detail}, status_code=status)


@router.post("/actions/projects/{project_id}/settings", name="gradient_action_settings")
def action_settings(
    request: Request, project_id: int, body: Annotated[dict[str, Any], Body()], user: ApiUser
) -> Response:
    """Update a project's settings (partial; ``null`` clears SLA / window)."""
    from airflow_provider_gradient.service.errors import GradientError

    svc, project = _writable_project(request, user, project_id)
    try:
        updated = svc.update_settings(project.id, body)
    except GradientError as exc:
        return _error(exc)
    return JSONResponse({"message": "Settings saved", "settings": updated.settings.model_dump(mode="json")})


@router.post("/actions/projects/{project_id}/generate", name="gradient_action_generate")
def action_generate(request: Request, project_id: int, user: ApiUser) -> Response:
    """Run the optimiser now and store the result as the ready recommendation."""
    from airflow_provider_gradient.service.errors import GradientError

    svc, project = _writable_project(request, user, project_id)
    try:
        rec = svc.generate_recommendation(project.id)
    except GradientError as exc:
        return _error(exc)
    except ValueError as exc:  # optimiser input errors
        return JSONResponse({"detail": str(exc)}, status_code=422)
    return JSONResponse({"message": f"Recommendation #{rec.id} generated ({rec.phase})", "id": rec.id})


@router.post("/actions/projects/{project_id}/apply", name="gradient_action_apply")
def action_apply(request: Request, project_id: int, user: ApiUser) -> Response:
    """Approve the ready recommendation: the next run of the task uses it."""
    from airflow_provider_gradient.service.errors import GradientError

    svc, project = _writable_project(request, user, project_id)
    rec = svc.latest_recommendation(project.id, state="ready")
    if rec is None:
        return JSONResponse({"detail": "no ready recommendation to apply"}, status_code=409)
    try:
        applied = svc.mark_applied(rec.id)
    except GradientError as exc:
        return _error(exc)
    return JSONResponse(
        {"message": f"Recommendation #{applied.id} applied", "id": applied.id, "state": applied.state}
    )


@router.post("/actions/projects/{project_id}/delete", name="gradient_action_delete")
def action_delete(request: Request, project_id: int, user: ApiUser) -> Response:
    """Delete a project with its runs and recommendations."""
    svc, project = _writable_project(request, user, project_id)
    svc.delete_project(project.id)
    return JSONResponse({"message": f"Project {project.app_id} deleted"})
