"""``GradientClient``: the contract every Gradient client fulfils (no Airflow import).

Two implementations, checked against it by mypy (each names it as a base class):

* :class:`~airflow_provider_gradient.service.service.GradientService` -- in-process, over the store (local mode);
* :class:`~airflow_provider_gradient.hooks.http_client.GradientHttpClient` -- the plugin's REST API (http mode).

Both take and return the value objects of :mod:`~airflow_provider_gradient.service.schemas` and raise the
typed errors of :mod:`~airflow_provider_gradient.service.errors`. A project argument (``ref``) is the numeric
id or the app id. Airflow glue (operators, the hook, the listener, the policy, the sensor) only ever holds a
``GradientClient``.
"""

from __future__ import annotations

from typing import Any, Protocol

from airflow_provider_gradient.core.roi import ProjectRoi
from airflow_provider_gradient.service.schemas import (
    ApplyChoice,
    ApplyChoiceIn,
    Health,
    Project,
    ProjectIn,
    ProjectSettingsIn,
    Recommendation,
    RecommendationIn,
    RecordOutcome,
    Run,
    RunIn,
    Workspace,
    WorkspaceIn,
)
from airflow_provider_gradient.service.summaries import ProjectOverview, ProjectSummary, TaskRun

ProjectRef = int | str


class GradientClient(Protocol):
    """Projects, runs and recommendations of one Gradient store, local or remote."""

    # -- health / workspaces
    def health(self) -> Health:
        """Service and store status (never raises in local mode)."""
        ...

    def get_or_create_workspace(self, workspace: WorkspaceIn | dict[str, Any]) -> Workspace:
        """A workspace by name, created if absent."""
        ...

    def list_workspaces(self) -> list[Workspace]:
        """Every workspace."""
        ...

    # -- projects
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
        """The project of ``app_id``, created if absent (race-safe)."""
        ...

    def create_project(self, p_in: ProjectIn) -> Project:
        """``get_or_create_project`` taking a ``ProjectIn``."""
        ...

    def get_project(self, ref: ProjectRef) -> Project:
        """A project (NotFoundError when absent)."""
        ...

    def find_project(self, ref: ProjectRef) -> Project | None:
        """A project, or None when absent."""
        ...

    def list_projects(self, *, limit: int | None = None, offset: int = 0) -> list[Project]:
        """Every project (the ones the user may read, in http mode)."""
        ...

    def update_settings(self, ref: ProjectRef, patch: ProjectSettingsIn | dict[str, Any]) -> Project:
        """Change some settings of a project."""
        ...

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
        """Rename a project or replace its baseline cluster / Airflow task / region."""
        ...

    def delete_project(self, ref: ProjectRef) -> None:
        """Delete a project with its runs and recommendations."""
        ...

    def reset_project(self, ref: ProjectRef) -> Project:
        """Forget a project's runs and recommendations (settings kept)."""
        ...

    def choose_cluster(self, choice: ApplyChoiceIn) -> ApplyChoice:
        """The apply step of the loop in one call: the project of ``choice.project`` (get-or-create) and the
        recommendation its next run uses (co-pilot Apply, auto-apply, optimisation window at ``now_ms``)."""
        ...

    # -- runs
    def record_run(self, ref: ProjectRef, run: RunIn | dict[str, Any]) -> Run:
        """Record a run (idempotent on ``databricks_run_id``)."""
        ...

    def record_and_recommend(
        self, ref: ProjectRef, run: RunIn | dict[str, Any], *, recommend: bool = True
    ) -> RecordOutcome:
        """The record step of the loop in one call: mark the recommendation the run used applied to it,
        record the run, and generate the next recommendation (``recommend``)."""
        ...

    def get_run(self, ref: ProjectRef, databricks_run_id: int) -> Run:
        """One run of a project by its Databricks run id."""
        ...

    def list_runs(self, ref: ProjectRef, limit: int | None = 100, offset: int = 0) -> list[Run]:
        """Runs of a project, newest first."""
        ...

    # -- recommendations
    def latest_recommendation(self, ref: ProjectRef, state: str | None = "ready") -> Recommendation | None:
        """The newest recommendation in ``state`` (None: any state), or None. ``"current"``: the ready one,
        else the one applied last whose run did not fail (what the job definition should hold)."""
        ...

    def list_recommendations(self, ref: ProjectRef, limit: int | None = 50) -> list[Recommendation]:
        """Recommendations of a project, newest first."""
        ...

    def get_recommendation(self, recommendation_id: int) -> Recommendation:
        """One recommendation."""
        ...

    def store_recommendation(
        self, ref: ProjectRef, rec: RecommendationIn | dict[str, Any], *, state: str = "ready"
    ) -> Recommendation:
        """Store a recommendation computed elsewhere."""
        ...

    def generate_recommendation(self, ref: ProjectRef) -> Recommendation:
        """Run the optimiser now and store the result as the ready recommendation."""
        ...

    def mark_applied(self, recommendation_id: int, databricks_run_id: int | None = None) -> Recommendation:
        """Mark a recommendation applied (to a run, or approved by a user)."""
        ...

    # -- read model (the pages)
    def project_summaries(self, *, now_ms: int | None = None) -> list[ProjectSummary]:
        """Every (readable) project's summary, newest activity first."""
        ...

    def project_overview(self, ref: ProjectRef, *, now_ms: int | None = None) -> ProjectOverview:
        """A project with its summary, runs and newest recommendations (its page)."""
        ...

    def project_roi(self, ref: ProjectRef) -> ProjectRoi:
        """A project's ROI from all its runs."""
        ...

    def find_task_run(
        self,
        dag_id: str,
        task_id: str,
        run_id: str,
        try_number: int | None = None,
        map_index: int | None = None,
        cluster_key: str | None = None,
    ) -> TaskRun:
        """The projects of an Airflow task (one per cluster; ``cluster_key``: only that cluster's), each with
        its run for the DAG run ``run_id`` and ``map_index`` (the try ``try_number``, else the latest) and the
        recommendation that run used."""
        ...
