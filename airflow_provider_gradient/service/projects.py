"""Projects and workspaces over the store: create (race-safe), read, change settings, rename, reset, delete.

Functions over a :class:`~airflow_provider_gradient.service.store_tx.Store`; ``GradientService`` exposes them
as its methods. ORM rows never leave the service package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from airflow_provider_gradient.core.redact import redact_tree
from airflow_provider_gradient.service.convert import project_out, workspace_out
from airflow_provider_gradient.service.errors import GradientValidationError, NotFoundError
from airflow_provider_gradient.service.redaction import redacted
from airflow_provider_gradient.service.schemas import (
    Project,
    ProjectIn,
    ProjectSettings,
    ProjectSettingsIn,
    Workspace,
    WorkspaceIn,
)
from airflow_provider_gradient.service.store_tx import ProjectRef, Store, now_ms, validate
from airflow_provider_gradient.store.models import ProjectRow
from airflow_provider_gradient.store.repository import ProjectRepo, RecommendationRepo, RunRepo, WorkspaceRepo


@dataclass(frozen=True, slots=True)
class ProjectDefaults:
    """What a new project gets where its caller gives nothing (see ``GradientService``).

    :param settings: settings of new projects.
    :param cloud: cloud of new projects.
    :param region: region of new projects (None: unknown until a recorded run's cluster reports it).
    :param plan_type: Databricks plan of new projects.
    """

    settings: ProjectSettings
    cloud: str
    region: str | None
    plan_type: str


def project_row(s: Session, ref: ProjectRef, *, for_update: bool = False) -> ProjectRow:
    """The row of project ``ref`` (id or app id); NotFoundError when absent.

    :param for_update: lock the row (the first lock of a write: project, then run).
    """
    row = ProjectRepo(s).resolve(ref, for_update=for_update)
    if row is None:
        raise NotFoundError(f"project {ref!r} not found")
    return row


def to_project(s: Session, row: ProjectRow) -> Project:
    """The value object of a project row, with its workspace."""
    ws = WorkspaceRepo(s).get(row.workspace_id) if row.workspace_id is not None else None
    return project_out(row, ws)


# ---------------------------------------------------------------------- workspaces
def get_or_create_workspace(db: Store, workspace: WorkspaceIn | dict[str, Any]) -> Workspace:
    """The workspace of that host, created if absent."""
    ws_in = validate(WorkspaceIn, workspace, ("workspace",))
    values = {**_workspace_columns(ws_in), "created_ms": now_ms()}
    return db.write(lambda s: workspace_out(WorkspaceRepo(s).get_or_create(values)))


def list_workspaces(db: Store) -> list[Workspace]:
    """Every workspace."""
    with db.read() as s:
        return [workspace_out(w) for w in WorkspaceRepo(s).list()]


# ---------------------------------------------------------------------- projects
def create_project(db: Store, p_in: ProjectIn, defaults: ProjectDefaults) -> Project:
    """The project of ``p_in.app_id``, created if absent (race-safe: concurrent callers get the same row).

    An existing project is returned as stored; only its missing ``baseline_cluster``/``region``/``dag_id``/
    ``task_id`` are filled from ``p_in``.

    :param defaults: what a new project gets where ``p_in`` gives nothing.
    """
    p_in = redacted(validate(ProjectIn, p_in))
    fills = {
        k: v
        for k, v in (
            ("baseline_cluster", p_in.baseline_cluster or None),
            ("region", p_in.region),
            ("dag_id", p_in.dag_id),
            ("task_id", p_in.task_id),
        )
        if v is not None
    }
    with db.read() as s:
        row = ProjectRepo(s).by_app_id(p_in.app_id)
        if row is not None and all(getattr(row, k) is not None for k in fills):
            return to_project(s, row)

    settings = defaults.settings
    if p_in.settings is not None:
        settings = validate(ProjectSettings, {**settings.model_dump(), **p_in.settings.changes()}, ("settings",))

    def tx(s: Session) -> Project:
        repo = ProjectRepo(s)
        existing = repo.by_app_id(p_in.app_id, for_update=True)
        if existing is None:
            ws_id = None
            ws_cloud = ws_region = ws_plan = None
            if p_in.workspace is not None:
                ws = WorkspaceRepo(s).get_or_create({**_workspace_columns(p_in.workspace), "created_ms": now_ms()})
                ws_id, ws_cloud, ws_region, ws_plan = ws.id, ws.cloud, ws.region, ws.plan_type
            t = now_ms()
            repo.insert_if_absent(
                {
                    "app_id": p_in.app_id,
                    "name": p_in.name or p_in.app_id,
                    "workspace_id": ws_id,
                    "cloud": p_in.cloud or ws_cloud or defaults.cloud,
                    "region": p_in.region or ws_region or defaults.region,
                    "plan_type": p_in.plan_type or ws_plan or defaults.plan_type,
                    "compute_type": p_in.compute_type or "jobs",
                    **_settings_columns(settings),
                    "phase": "learning",
                    "baseline_cluster": fills.get("baseline_cluster"),
                    "dag_id": p_in.dag_id,
                    "task_id": p_in.task_id,
                    "created_ms": t,
                    "updated_ms": t,
                }
            )
            existing = repo.by_app_id(p_in.app_id, for_update=True)
            assert existing is not None
        else:
            changed = False
            for k, v in fills.items():
                if getattr(existing, k) is None:
                    setattr(existing, k, v)
                    changed = True
            if changed:
                existing.updated_ms = now_ms()
                s.flush()
        return to_project(s, existing)

    try:
        return db.write(tx)
    except IntegrityError:
        # a concurrent creator won a race the ON CONFLICT could not absorb (e.g. the workspace): re-read
        with db.read() as s:
            row = ProjectRepo(s).by_app_id(p_in.app_id)
            if row is None:
                raise
            return to_project(s, row)


def get_project(db: Store, ref: ProjectRef) -> Project:
    """A project by id or app id (NotFoundError when absent)."""
    with db.read() as s:
        return to_project(s, project_row(s, ref))


def list_projects(db: Store, *, limit: int | None = None, offset: int = 0) -> list[Project]:
    """Projects, a page of them."""
    with db.read() as s:
        rows = ProjectRepo(s).list(limit=limit, offset=offset)
        ws = {w.id: w for w in WorkspaceRepo(s).list()}
        return [project_out(r, ws.get(r.workspace_id) if r.workspace_id else None) for r in rows]


def update_settings(db: Store, ref: ProjectRef, patch: ProjectSettingsIn | dict[str, Any]) -> Project:
    """Change some settings (validated: e.g. negative SLA or 0 / >10,000 workers -> GradientValidationError)."""
    patch_in = validate(ProjectSettingsIn, patch, ("settings",))

    def tx(s: Session) -> Project:
        row = project_row(s, ref, for_update=True)
        current = project_out(row, None).settings
        merged = validate(ProjectSettings, {**current.model_dump(), **patch_in.changes()}, ("settings",))
        for k, v in _settings_columns(merged).items():
            setattr(row, k, v)
        row.updated_ms = now_ms()
        s.flush()
        return to_project(s, row)

    return db.write(tx)


def update_project(
    db: Store,
    ref: ProjectRef,
    *,
    name: str | None = None,
    baseline_cluster: dict[str, Any] | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    region: str | None = None,
) -> Project:
    """Rename a project or replace its baseline cluster / Airflow task / region (where its runs that report
    none are priced, and its recommendations estimated; a run reporting one still moves it there)."""
    region = _region(region)

    def tx(s: Session) -> Project:
        row = project_row(s, ref, for_update=True)
        if region is not None:
            row.region = region
        if name is not None:
            if not name.strip() or len(name) > 500:
                raise GradientValidationError(
                    "name: must be 1..500 characters",
                    [{"loc": ["name"], "msg": "must be 1..500 characters", "type": "value_error"}],
                )
            row.name = name
        if baseline_cluster is not None:
            row.baseline_cluster = redact_tree(baseline_cluster)
        if dag_id is not None:
            row.dag_id = dag_id
        if task_id is not None:
            row.task_id = task_id
        row.updated_ms = now_ms()
        s.flush()
        return to_project(s, row)

    return db.write(tx)


def delete_project(db: Store, ref: ProjectRef) -> None:
    """Delete a project with its runs and recommendations."""

    def tx(s: Session) -> None:
        row = project_row(s, ref, for_update=True)
        RunRepo(s).delete_for_project(row.id)
        RecommendationRepo(s).delete_for_project(row.id)
        ProjectRepo(s).delete(row.id)

    db.write(tx)


def reset_project(db: Store, ref: ProjectRef) -> Project:
    """Forget the runs and recommendations of a project; it starts learning again (settings kept)."""

    def tx(s: Session) -> Project:
        row = project_row(s, ref, for_update=True)
        RunRepo(s).delete_for_project(row.id)
        RecommendationRepo(s).delete_for_project(row.id)
        row.phase = "learning"
        row.last_run_ms = None
        row.updated_ms = now_ms()
        s.flush()
        return to_project(s, row)

    return db.write(tx)


# ---------------------------------------------------------------------- helpers
def _region(region: str | None) -> str | None:
    """A region as stored (trimmed, lower case); GradientValidationError naming it when blank or too long."""
    if region is None:
        return None
    value = region.strip().lower()
    if not value or len(value) > 64:
        msg = f"must be a region name of 1..64 characters (us-west-2, westeurope), got {region!r}"
        raise GradientValidationError(f"region: {msg}", [{"loc": ["region"], "msg": msg, "type": "value_error"}])
    return value


def _settings_columns(settings: ProjectSettings) -> dict[str, Any]:
    d = redacted(settings).model_dump()  # cluster_log_url: a presigned URL's signature
    d["allowed_families"] = list(d["allowed_families"])
    return d


def _workspace_columns(ws_in: WorkspaceIn) -> dict[str, Any]:
    return redacted(ws_in).model_dump()  # host: user:password@ or a token in the query
