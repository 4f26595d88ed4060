"""REST API routes (``/gradient/api/v1``): health, workspaces, projects (+ settings, reset), runs, recommendations.

Every route depends on Airflow's authenticated user (401 without a valid token). Reads of a project (its
settings, runs and recommendations) need read permission on the project's DAG and lists only show the
projects the user may read; writes pass the CSRF guard and need edit permission on the project's DAG;
workspaces and projects without a DAG follow ``[gradient] projects_without_dag`` (see ``plugins/access.py``).
Request and response bodies are the service's pydantic value objects, so invalid input is a 422 with
field-level messages and the OpenAPI document describes the real types.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_gradient.core.refs import project_ref
from airflow_provider_gradient.plugins.access import Access
from airflow_provider_gradient.plugins.api.deps import (
    CurrentUser,
    Service,
    UserAccess,
    authorized_project,
    csrf_guard,
)
from airflow_provider_gradient.service import (
    ApplyChoice,
    ApplyChoiceIn,
    ApplyIn,
    GradientService,
    Health,
    Project,
    ProjectIn,
    ProjectSettings,
    ProjectSettingsIn,
    Recommendation,
    RecommendationIn,
    RecordOutcome,
    Run,
    RunIn,
    Workspace,
    WorkspaceIn,
)

router = APIRouter(prefix="/api/v1", dependencies=[Depends(csrf_guard)])

ProjectRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=500,
        description="Project id (digits) or app id; use /projects:resolve for app ids made of digits or with slashes",
    ),
]
Limit = Annotated[int, Query(ge=0, le=10_000, description="Maximum number of items (0 = no limit)")]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
StateQ = Literal["ready", "applied", "pending", "superseded", "failed", "current", "any"]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request body (not JSON)"},
    401: {"description": "Not authenticated"},
    403: {"description": "Forbidden (permission on the DAG, or CSRF)"},
    404: {"description": "Not found"},
}


class ProjectUpdate(BaseModel):
    """Rename a project or replace its baseline cluster / Airflow task / region."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    baseline_cluster: dict[str, Any] | None = None
    dag_id: Annotated[str, Field(max_length=250)] | None = None
    task_id: Annotated[str, Field(max_length=250)] | None = None
    region: Annotated[str, Field(min_length=1, max_length=64)] | None = None


# ---------------------------------------------------------------------------- health / workspaces
@router.get("/health", response_model=Health, tags=["health"], responses=ERRORS)
def health(user: CurrentUser, svc: Service) -> Health:
    """Service and store status."""
    return svc.health()


@router.get("/workspaces", response_model=list[Workspace], tags=["workspaces"], responses=ERRORS)
def list_workspaces(user: CurrentUser, svc: Service) -> list[Workspace]:
    return svc.list_workspaces()


@router.post("/workspaces", response_model=Workspace, tags=["workspaces"], responses=ERRORS)
def create_workspace(body: WorkspaceIn, access: UserAccess, svc: Service) -> Workspace:
    """Get or create a workspace by name (no credentials are ever stored). Its plan type prices every
    project of the workspace, so this needs the deployment-wide permission (``projects_without_dag``)."""
    access.require_admin("creating or changing a workspace")
    return svc.get_or_create_workspace(body)


# ---------------------------------------------------------------------------- projects
@router.get("/projects", response_model=list[Project], tags=["projects"], responses=ERRORS)
def list_projects(access: UserAccess, svc: Service, limit: Limit = 0, offset: Offset = 0) -> list[Project]:
    """The projects the user may read (read permission on their DAG)."""
    readable = access.readable(svc.list_projects())
    return readable[offset : offset + limit] if limit else readable[offset:]


@router.get("/projects:resolve", response_model=Project, tags=["projects"], responses=ERRORS)
def resolve_project(
    access: UserAccess, svc: Service, ref: Annotated[str, Query(min_length=1, max_length=500)]
) -> Project:
    """A project by id or app id given as a query parameter (for app ids that are awkward in a path)."""
    return authorized_project(svc, access, ref)


@router.post("/projects", response_model=Project, tags=["projects"], responses=ERRORS)
def create_project(body: ProjectIn, access: UserAccess, svc: Service) -> Project:
    """Get or create the project of an app id (race-safe; an existing project is returned).

    Needs edit permission on the project's DAG (an existing project's, else ``dag_id``); naming a workspace
    that does not exist yet needs the permission of ``POST /workspaces``.
    """
    _may_get_or_create(body, access, svc)
    return svc.create_project(body)


def _may_get_or_create(body: ProjectIn, access: Access, svc: GradientService) -> None:
    """403 unless the user may get-or-create ``body``'s project (see ``POST /projects``)."""
    existing = svc.find_project(body.app_id)
    if existing is not None:
        access.require(existing.dag_id, "PUT")
        if body.dag_id and existing.dag_id is None:
            access.require(body.dag_id, "PUT")  # fills the missing DAG
    else:
        access.require(body.dag_id, "PUT")
        if body.workspace is not None and body.workspace.name not in {w.name for w in svc.list_workspaces()}:
            access.require_admin("creating a workspace")


@router.post("/projects:choose-cluster", response_model=ApplyChoice, tags=["projects"], responses=ERRORS)
def choose_cluster(body: ApplyChoiceIn, access: UserAccess, svc: Service) -> ApplyChoice:
    """The loop's apply step in one call: get or create the project (permissions of ``POST /projects``) and
    the recommendation its next run uses (co-pilot Apply, auto-apply, optimisation window at ``now_ms``)."""
    _may_get_or_create(body.project, access, svc)
    return svc.choose_cluster(body)


@router.get("/projects/{ref}", response_model=Project, tags=["projects"], responses=ERRORS)
def get_project(ref: ProjectRef, access: UserAccess, svc: Service) -> Project:
    return authorized_project(svc, access, project_ref(ref))


@router.patch("/projects/{ref}", response_model=Project, tags=["projects"], responses=ERRORS)
def update_project(ref: ProjectRef, body: ProjectUpdate, access: UserAccess, svc: Service) -> Project:
    project = authorized_project(svc, access, project_ref(ref), "PUT")
    if body.dag_id is not None and body.dag_id != project.dag_id:
        access.require(body.dag_id, "PUT")  # moving a project needs edit on both DAGs
    return svc.update_project(project.id, **body.model_dump(exclude_none=True))


@router.delete("/projects/{ref}", status_code=status.HTTP_204_NO_CONTENT, tags=["projects"], responses=ERRORS)
def delete_project(ref: ProjectRef, access: UserAccess, svc: Service) -> Response:
    """Delete a project with its runs and recommendations."""
    project = authorized_project(svc, access, project_ref(ref), "PUT")
    svc.delete_project(project.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/projects/{ref}/reset", response_model=Project, tags=["projects"], responses=ERRORS)
def reset_project(ref: ProjectRef, access: UserAccess, svc: Service) -> Project:
    """Forget runs and recommendations; the project learns again (settings kept)."""
    project = authorized_project(svc, access, project_ref(ref), "PUT")
    return svc.reset_project(project.id)


@router.get("/projects/{ref}/settings", response_model=ProjectSettings, tags=["projects"], responses=ERRORS)
def get_settings(ref: ProjectRef, access: UserAccess, svc: Service) -> ProjectSettings:
    return authorized_project(svc, access, project_ref(ref)).settings


@router.patch("/projects/{ref}/settings", response_model=Project, tags=["projects"], responses=ERRORS)
def update_settings(ref: ProjectRef, body: ProjectSettingsIn, access: UserAccess, svc: Service) -> Project:
    """Change some settings (only the fields given; ``null`` clears a nullable one)."""
    project = authorized_project(svc, access, project_ref(ref), "PUT")
    return svc.update_settings(project.id, body)


# ---------------------------------------------------------------------------- runs
@router.get("/projects/{ref}/runs", response_model=list[Run], tags=["runs"], responses=ERRORS)
def list_runs(
    ref: ProjectRef, access: UserAccess, svc: Service, limit: Limit = 100, offset: Offset = 0
) -> list[Run]:
    """Runs of a project, newest first."""
    project = authorized_project(svc, access, project_ref(ref))
    return svc.list_runs(project.id, limit=limit or None, offset=offset)


@router.post("/projects/{ref}/runs", response_model=Run, tags=["runs"], responses=ERRORS)
def record_run(ref: ProjectRef, body: RunIn, access: UserAccess, svc: Service) -> Run:
    """Record a run (idempotent on ``databricks_run_id``: a repeat updates, never duplicates)."""
    project = authorized_project(svc, access, project_ref(ref), "PUT")
    return svc.record_run(project.id, body)


@router.post("/projects/{ref}/runs:record", response_model=RecordOutcome, tags=["runs"], responses=ERRORS)
def record_and_recommend(
    ref: ProjectRef, body: RunIn, access: UserAccess, svc: Service, recommend: bool = True
) -> RecordOutcome:
    """The loop's record step in one call: mark the recommendation the run used (``recommendation_id``)
    applied to it, record the run (idempotent on ``databricks_run_id``) and, with ``recommend``, generate
    the next recommendation (``recommendation_error`` says why there is none)."""
    project = authorized_project(svc, access, project_ref(ref), "PUT")
    return svc.record_and_recommend(project.id, body, recommend=recommend)


@router.get("/projects/{ref}/runs/{databricks_run_id}", response_model=Run, tags=["runs"], responses=ERRORS)
def get_run(
    ref: ProjectRef,
    databricks_run_id: Annotated[int, Path(ge=0, le=2**63 - 1)],
    access: UserAccess,
    svc: Service,
) -> Run:
    project = authorized_project(svc, access, project_ref(ref))
    return svc.get_run(project.id, databricks_run_id)


# ---------------------------------------------------------------------------- recommendations
@router.get(
    "/projects/{ref}/recommendations",
    response_model=list[Recommendation],
    tags=["recommendations"],
    responses=ERRORS,
)
def list_recommendations(
    ref: ProjectRef, access: UserAccess, svc: Service, limit: Limit = 50
) -> list[Recommendation]:
    project = authorized_project(svc, access, project_ref(ref))
    return svc.list_recommendations(project.id, limit=limit or None)


@router.get(
    "/projects/{ref}/recommendations/latest",
    response_model=Recommendation | None,
    tags=["recommendations"],
    responses=ERRORS,
)
def latest_recommendation(
    ref: ProjectRef, access: UserAccess, svc: Service, state: StateQ = "ready"
) -> Recommendation | None:
    """The newest recommendation in ``state`` (``any``: any state); ``null`` when there is none.

    ``current``: the ready one, else the one applied last whose run did not fail (an applied one whose run
    failed, e.g. out of memory, is skipped); ``null``: the project's baseline cluster is current.
    """
    project = authorized_project(svc, access, project_ref(ref))
    return svc.latest_recommendation(project.id, state=None if state == "any" else state)


@router.post(
    "/projects/{ref}/recommendations",
    response_model=Recommendation,
    tags=["recommendations"],
    responses=ERRORS,
)
def store_recommendation(
    ref: ProjectRef,
    body: RecommendationIn,
    access: UserAccess,
    svc: Service,
    state: Literal["ready", "pending", "failed"] = "ready",
) -> Recommendation:
    """Store a recommendation computed elsewhere (a new ready one supersedes the previous one)."""
    project = authorized_project(svc, access, project_ref(ref), "PUT")
    return svc.store_recommendation(project.id, body, state=state)


@router.post(
    "/projects/{ref}/recommendations/generate",
    response_model=Recommendation,
    tags=["recommendations"],
    responses={**ERRORS, 409: {"description": "Nothing to optimise yet"}},
)
def generate_recommendation(ref: ProjectRef, access: UserAccess, svc: Service) -> Recommendation:
    """Run the optimiser over the project's runs now and store the result as the ready recommendation."""
    project = authorized_project(svc, access, project_ref(ref), "PUT")
    return svc.generate_recommendation(project.id)


@router.get(
    "/recommendations/{recommendation_id}",
    response_model=Recommendation,
    tags=["recommendations"],
    responses=ERRORS,
)
def get_recommendation(
    recommendation_id: Annotated[int, Path(ge=1, le=2**31 - 1)], access: UserAccess, svc: Service
) -> Recommendation:
    rec = svc.get_recommendation(recommendation_id)
    authorized_project(svc, access, rec.project_id)
    return rec


@router.post(
    "/recommendations/{recommendation_id}/apply",
    response_model=Recommendation,
    tags=["recommendations"],
    responses={**ERRORS, 409: {"description": "The recommendation failed"}},
)
def apply_recommendation(
    recommendation_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    access: UserAccess,
    svc: Service,
    body: ApplyIn | None = None,
) -> Recommendation:
    """Mark a recommendation applied: to a Databricks run, or approved for the next run when none is given."""
    rec = svc.get_recommendation(recommendation_id)
    authorized_project(svc, access, rec.project_id, "PUT")
    return svc.mark_applied(recommendation_id, body.databricks_run_id if body else None)
