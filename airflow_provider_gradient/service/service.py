"""GradientService: the use cases over the store (plain Python, no Airflow import).

Every public method takes and returns value objects from ``service.schemas``; ORM rows never leave the service
package. Project arguments accept the numeric id or the app id.

The facade of the in-process :class:`GradientClient`; each concept lives in its module and is delegated to:
projects and workspaces (``projects``), runs (``runs``), recommendations (``recommendations``), the record step
(``record_outcome``), the apply step (``apply``), the pages' reads (``read_model``) and a task instance's runs
(``task_runs``), all over one store's transactions (``store_tx``).
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import text

from airflow_provider_gradient import __version__
from airflow_provider_gradient.core.redact import redact_text
from airflow_provider_gradient.core.roi import ProjectRoi
from airflow_provider_gradient.service import (
    projects,
    read_model,
    recommendations,
    record_outcome,
    runs,
    task_runs,
)
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.errors import NotFoundError
from airflow_provider_gradient.service.projects import ProjectDefaults
from airflow_provider_gradient.service.schemas import (
    ApplyChoice,
    ApplyChoiceIn,
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
from airflow_provider_gradient.service.store_tx import ProjectRef, Store, StoreBusyError, validate
from airflow_provider_gradient.service.summaries import ProjectOverview, ProjectSummary, TaskRun
from airflow_provider_gradient.settings import GradientSettings, declared_defaults
from airflow_provider_gradient.store import migrate
from airflow_provider_gradient.store.engine import Engines, get_engines

__all__ = ["GradientService", "StoreBusyError"]

class GradientService(GradientClient):
    """Projects, runs and recommendations over one store URL (the in-process :class:`GradientClient`).

    :param url: SQLAlchemy URL of the store (SQLite or PostgreSQL).
    :param price_catalog: optional price catalog override path (``[gradient] price_catalog``).
    :param default_settings: settings of new projects where the caller gives none.
    :param default_cloud: cloud of new projects where the caller gives none (default: the declared
        ``[gradient] cloud`` default).
    :param default_region: region of new projects where the caller gives none (``[gradient] region``; None: the
        project's region stays unknown until a recorded run's cluster reports it -- never a made-up default).
    :param default_plan_type: Databricks plan of new projects where the caller gives none (same).
    :param migrate_on_start: apply Alembic migrations on first use (default True).
    """

    def __init__(
        self,
        url: str,
        *,
        price_catalog: str | None = None,
        default_settings: ProjectSettings | None = None,
        default_cloud: str | None = None,
        default_region: str | None = None,
        default_plan_type: str | None = None,
        dormant_days: float | None = None,
        migrate_on_start: bool = True,
    ) -> None:
        declared = declared_defaults()
        self.engines: Engines = get_engines(url)
        self.url = self.engines.url
        self.price_catalog = price_catalog or None
        self.default_settings = default_settings or ProjectSettings()
        self.default_cloud = default_cloud or declared["cloud"]
        self.default_region = default_region or declared["region"] or None
        self.default_plan_type = default_plan_type or declared["plan_type"]
        self.dormant_days = float(dormant_days or declared["dormant_days"])
        self._store = Store(self.engines)
        if migrate_on_start:
            migrate.ensure_schema(self.engines)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> GradientService:
        """The service over ``url``; applies Alembic migrations on first use."""
        return cls(url, **kwargs)

    @classmethod
    def from_settings(cls, settings: GradientSettings, url: str | None = None, **kwargs: Any) -> GradientService:
        """The service the ``[gradient]`` settings describe (store URL, catalog, defaults of new projects).

        :param url: another store URL than ``settings.store_url``.
        """
        defaults = ProjectSettings(
            sla_minutes=settings.default_sla_minutes,
            auto_apply=settings.default_auto_apply,
            learning_runs=settings.learning_runs,
        )
        return cls(
            url or settings.resolved_store_url(),
            price_catalog=settings.price_catalog,
            default_settings=defaults,
            default_cloud=settings.cloud,
            default_region=settings.region,
            default_plan_type=settings.plan_type,
            dormant_days=settings.dormant_days,
            **kwargs,
        )

    def _defaults(self) -> ProjectDefaults:
        """What a new project gets where its caller gives nothing (the attributes, read at each call)."""
        return ProjectDefaults(self.default_settings, self.default_cloud, self.default_region, self.default_plan_type)

    # ------------------------------------------------------------------ health / workspaces
    def health(self) -> Health:
        try:
            with self._store.read() as s:
                s.execute(text("SELECT 1"))
                rev = migrate.current_revision(s.connection())
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            return Health(
                status="degraded",
                version=__version__,
                store=self.engines.dialect,
                detail=redact_text(str(exc))[:500],
            )
        status: Literal["ok", "degraded"] = "ok" if rev == migrate.head_revision() else "degraded"
        return Health(status=status, version=__version__, store=self.engines.dialect, schema_revision=rev)

    def get_or_create_workspace(self, workspace: WorkspaceIn | dict[str, Any]) -> Workspace:
        return projects.get_or_create_workspace(self._store, workspace)

    def list_workspaces(self) -> list[Workspace]:
        return projects.list_workspaces(self._store)

    # ------------------------------------------------------------------ projects (service/projects.py)
    def get_or_create_project(
        self,
        app_id: str,
        *,
        name: str | None = None,
        settings: ProjectSettingsIn | dict[str, Any] | None = None,
        workspace: WorkspaceIn | dict[str, Any] | None = None,
        cloud: str | None = None,
        region: str | None = None,
        plan_type: str | None = None,
        compute_type: str | None = None,
        baseline_cluster: dict[str, Any] | None = None,
        dag_id: str | None = None,
        task_id: str | None = None,
    ) -> Project:
        """The project of ``app_id``, created if absent (race-safe: concurrent callers get the same row).

        An existing project is returned as stored; only its missing ``baseline_cluster``/``region``/``dag_id``/
        ``task_id`` are filled from the arguments.
        """
        p_in = validate(
            ProjectIn,
            {
                "app_id": app_id,
                "name": name,
                "settings": settings.model_dump(exclude_unset=True)
                if isinstance(settings, ProjectSettingsIn)
                else settings,
                "workspace": workspace.model_dump() if isinstance(workspace, WorkspaceIn) else workspace,
                "cloud": cloud,
                "region": region,
                "plan_type": plan_type,
                "compute_type": compute_type,
                "baseline_cluster": baseline_cluster,
                "dag_id": dag_id,
                "task_id": task_id,
            },
        )
        return self.create_project(p_in)

    def create_project(self, p_in: ProjectIn) -> Project:
        """``get_or_create_project`` taking a ``ProjectIn`` (what the REST API receives)."""
        return projects.create_project(self._store, p_in, self._defaults())

    def choose_cluster(self, choice: ApplyChoiceIn) -> ApplyChoice:
        """The apply step of the loop: get or create the project, then the recommendation its next run uses
        (:func:`~airflow_provider_gradient.service.apply.choose_recommendation`)."""
        import datetime as dt

        from airflow_provider_gradient.service.apply import choose_recommendation

        choice = validate(ApplyChoiceIn, choice)
        project = self.create_project(choice.project)
        now = dt.datetime.fromtimestamp(choice.now_ms / 1000, dt.UTC) if choice.now_ms is not None else None
        rec, note = choose_recommendation(self, project, now or dt.datetime.now(dt.UTC))
        return ApplyChoice(project=project, recommendation=rec, note=note)

    def get_project(self, ref: ProjectRef) -> Project:
        """A project by id or app id (NotFoundError when absent)."""
        return projects.get_project(self._store, ref)

    def find_project(self, ref: ProjectRef) -> Project | None:
        """Like ``get_project`` but None when absent."""
        try:
            return self.get_project(ref)
        except NotFoundError:
            return None

    def list_projects(self, *, limit: int | None = None, offset: int = 0) -> list[Project]:
        return projects.list_projects(self._store, limit=limit, offset=offset)

    def update_settings(self, ref: ProjectRef, patch: ProjectSettingsIn | dict[str, Any]) -> Project:
        """Change some settings (validated: e.g. negative SLA or 0 / >10,000 workers -> GradientValidationError)."""
        return projects.update_settings(self._store, ref, patch)

    def update_project(
        self,
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
        return projects.update_project(
            self._store, ref, name=name, baseline_cluster=baseline_cluster, dag_id=dag_id, task_id=task_id,
            region=region,
        )

    def delete_project(self, ref: ProjectRef) -> None:
        """Delete a project with its runs and recommendations."""
        projects.delete_project(self._store, ref)

    def reset_project(self, ref: ProjectRef) -> Project:
        """Forget the runs and recommendations of a project; it starts learning again (settings kept)."""
        return projects.reset_project(self._store, ref)

    # ------------------------------------------------------------------ runs (service/runs.py, record_outcome.py)
    def record_run(self, ref: ProjectRef, run: RunIn | dict[str, Any]) -> Run:
        """Record a run; idempotent on ``databricks_run_id`` (a later record updates, never duplicates)."""
        return runs.record_run(self._store, ref, run, price_catalog=self.price_catalog)

    def record_and_recommend(
        self, ref: ProjectRef, run: RunIn | dict[str, Any], *, recommend: bool = True
    ) -> RecordOutcome:
        """The record step of the loop: record the run (idempotent), mark the recommendation it used
        (``run.recommendation_id``, checked to be the project's by ``record_run``) applied to it, then
        generate the next recommendation.

        Idempotent as a whole: a retry (the same run again, e.g. an HTTP retry after a timeout, or the
        record step of a retried task) that tells the optimiser nothing new returns the outcome of the
        first call -- its next recommendation, nothing marked applied again, no second recommendation.
        A record with new facts about the run (e.g. its event log, complete now) recommends again.

        Marking applied is informational (a recommendation that failed meanwhile is only logged); a
        failed generation leaves the run stored and says why in ``recommendation_error``, so the next
        record recommends again.
        """
        return record_outcome.record_and_recommend(
            self._store, ref, run, recommend=recommend, price_catalog=self.price_catalog
        )

    def get_run(self, ref: ProjectRef, databricks_run_id: int) -> Run:
        return runs.get_run(self._store, ref, databricks_run_id)

    def list_runs(self, ref: ProjectRef, limit: int | None = 100, offset: int = 0) -> list[Run]:
        """Runs of a project, newest first."""
        return runs.list_runs(self._store, ref, limit=limit, offset=offset)

    # ------------------------------------------------------------------ recommendations (service/recommendations.py)
    def latest_recommendation(self, ref: ProjectRef, state: str | None = "ready") -> Recommendation | None:
        """The newest recommendation of a project in ``state`` (None: any state), or None.

        ``state="current"`` is the cluster the project's job definition (IaC) should hold: the ready
        recommendation, else the one applied last whose run did not fail (an applied one whose run failed,
        e.g. out of memory, is skipped for the one applied before it; a cancelled run is no failure, see
        ``FAILED_RUN_OUTCOMES``); None: the project's baseline.
        ``state="applied_ok"`` is that last part alone: the one applied last whose run did not fail.
        """
        return recommendations.latest_recommendation(self._store, ref, state)

    def list_recommendations(self, ref: ProjectRef, limit: int | None = 50) -> list[Recommendation]:
        return recommendations.list_recommendations(self._store, ref, limit)

    def get_recommendation(self, recommendation_id: int) -> Recommendation:
        return recommendations.get_recommendation(self._store, recommendation_id)

    def store_recommendation(
        self, ref: ProjectRef, rec: RecommendationIn | dict[str, Any], *, state: str = "ready"
    ) -> Recommendation:
        """Store a recommendation; a new *ready* one supersedes the previous ready one in the same
        transaction (the project row is locked, so there is exactly one latest ready per project)."""
        return recommendations.store_recommendation(self._store, ref, rec, state=state)

    def mark_applied(self, recommendation_id: int, databricks_run_id: int | None = None) -> Recommendation:
        """Mark a recommendation applied (to a Databricks run, or approved by a user when no run is given)."""
        return recommendations.mark_applied(self._store, recommendation_id, databricks_run_id)

    def generate_recommendation(self, ref: ProjectRef) -> Recommendation:
        """Run the optimiser over the project's runs and settings, store the result as the ready one."""
        return record_outcome.generate_recommendation(self._store, ref, price_catalog=self.price_catalog)

    # ------------------------------------------------------------------ read model (the pages; service/read_model.py)
    def project_summaries(self, *, now_ms: int | None = None) -> list[ProjectSummary]:
        """Every project's summary (costs, learning progress, ROI, insights), newest activity first."""
        return read_model.project_summaries(self, now_ms=now_ms)

    def project_overview(self, ref: ProjectRef, *, now_ms: int | None = None) -> ProjectOverview:
        """A project with its summary, runs and newest recommendations (its page)."""
        return read_model.project_overview(self, ref, now_ms=now_ms)

    def project_roi(self, ref: ProjectRef) -> ProjectRoi:
        """A project's ROI from all its runs."""
        return read_model.roi_of(self, ref)

    def find_task_run(
        self,
        dag_id: str,
        task_id: str,
        run_id: str,
        try_number: int | None = None,
        map_index: int | None = None,
        cluster_key: str | None = None,
    ) -> TaskRun:
        """A task instance's projects (by DAG and task id, else app id ``<dag_id>.<task_id>``; one per cluster
        of a multi-cluster task), each with its run for the DAG run ``run_id`` and ``map_index`` (the try
        ``try_number``, else the latest) and the recommendation that run used, each looked up by key in the
        store (its task-instance tab).

        :param cluster_key: only the project of this ``task_key`` / ``job_cluster_key`` (None: every cluster)
        """
        return task_runs.find_task_run(self._store, dag_id, task_id, run_id, try_number, map_index, cluster_key)
