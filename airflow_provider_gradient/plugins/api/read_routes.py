"""REST routes of the read model (``/gradient/api/v1``): what the pages read, so the HTTP client serves the
same pages as the in-process service -- project summaries, a project's overview and ROI, a task's run.

Same rules as ``routes.py``: authenticated user; only projects whose DAG the user may read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from airflow_provider_gradient.core.refs import project_ref
from airflow_provider_gradient.core.roi import ProjectRoi
from airflow_provider_gradient.plugins.api.deps import (
    Service,
    UserAccess,
    authorized_project,
    csrf_guard,
)
from airflow_provider_gradient.plugins.api.routes import ERRORS, ProjectRef
from airflow_provider_gradient.service.schemas import MAX_EPOCH_MS
from airflow_provider_gradient.service.summaries import ProjectOverview, ProjectSummary, TaskRun

router = APIRouter(prefix="/api/v1", dependencies=[Depends(csrf_guard)])

NowQ = Annotated[
    int | None,
    Query(ge=0, le=MAX_EPOCH_MS, description="Clock (epoch ms) of the time-dependent insights; default now"),
]
IdQ = Annotated[str, Query(max_length=250)]
TryQ = Annotated[int | None, Query(ge=0, le=10_000, description="Try number (default: the latest recorded)")]
ClusterQ = Annotated[
    str | None,
    Query(max_length=250, description="Only the project of this task_key / job_cluster_key (multi-cluster task)"),
]
MapQ = Annotated[int | None, Query(ge=-1, le=2**31 - 1, description="Map index of a mapped task (-1: not mapped)")]


@router.get("/projects:summaries", response_model=list[ProjectSummary], tags=["read model"], responses=ERRORS)
def project_summaries(access: UserAccess, svc: Service, now_ms: NowQ = None) -> list[ProjectSummary]:
    """The summary (costs, learning progress, ROI, insights) of every project the user may read, newest
    activity first: the projects page."""
    return access.readable(svc.project_summaries(now_ms=now_ms))


@router.get(
    "/projects/{ref}/overview", response_model=ProjectOverview, tags=["read model"], responses=ERRORS
)
def project_overview(ref: ProjectRef, access: UserAccess, svc: Service, now_ms: NowQ = None) -> ProjectOverview:
    """A project with its summary, every run and its newest recommendations: the project page."""
    project = authorized_project(svc, access, project_ref(ref))
    return svc.project_overview(project.id, now_ms=now_ms)


@router.get("/projects/{ref}/roi", response_model=ProjectRoi, tags=["read model"], responses=ERRORS)
def project_roi(ref: ProjectRef, access: UserAccess, svc: Service) -> ProjectRoi:
    """A project's return on investment from all its runs (which metric, and why)."""
    project = authorized_project(svc, access, project_ref(ref))
    return svc.project_roi(project.id)


@router.get("/task-runs:find", response_model=TaskRun, tags=["read model"], responses=ERRORS)
def find_task_run(
    access: UserAccess,
    svc: Service,
    dag_id: IdQ,
    task_id: IdQ,
    run_id: IdQ,
    try_number: TryQ = None,
    map_index: MapQ = None,
    cluster_key: ClusterQ = None,
) -> TaskRun:
    """The projects of an Airflow task (``clusters``: one per cluster of a multi-cluster task, each with its
    ``cluster_key``; ``project``/``run``/``recommendation``: the first one's), each with its run for one DAG
    run and map index (the try ``try_number``, else the latest) and the recommendation that run used (the task
    instance's Gradient tab)."""
    access.require(dag_id, "GET")
    found = svc.find_task_run(dag_id, task_id, run_id, try_number, map_index, cluster_key)
    for c in found.clusters:
        if c.project.dag_id != dag_id:
            access.require(c.project.dag_id, "GET")
    return found
