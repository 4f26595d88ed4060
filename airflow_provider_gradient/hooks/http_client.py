"""GradientHttpClient: the :class:`~airflow_provider_gradient.service.client.GradientClient` over the plugin's
REST API (``/gradient/api/v1``).

Returns the same pydantic value objects as the local service and raises the same typed errors. Every request
body is redacted before it leaves the worker (:func:`_body`, the service's own rule: a secret of a task's cluster
spec or of a run's failure text never travels to the Gradient service nor lands in its logs). The
transport (auth, timeouts, retries, error mapping) is :class:`~airflow_provider_gradient.hooks.http_transport.
GradientHttpTransport`; this module holds only the domain calls. No Airflow import.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from airflow_provider_gradient.core.redact import redact_tree
from airflow_provider_gradient.core.roi import ProjectRoi
from airflow_provider_gradient.hooks.http_transport import GradientHttpTransport
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.errors import GradientValidationError, NotFoundError
from airflow_provider_gradient.service.redaction import redacted
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

_SAFE_REF = re.compile(r"^[A-Za-z0-9._~:@+\-]+$")


def _validate(model: Any, value: Any, prefix: tuple[str, ...]) -> Any:
    from pydantic import ValidationError

    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise GradientValidationError.from_pydantic(exc, prefix) from None


def _body(model: BaseModel, *, exclude_unset: bool = False) -> dict[str, Any]:
    """The JSON body of a request: ``model`` with its secrets redacted (what the service would store anyway).

    :param model: a value object of :mod:`~airflow_provider_gradient.service.schemas`.
    :param exclude_unset: send only the fields that were given.
    """
    return redacted(model).model_dump(mode="json", exclude_unset=exclude_unset)


class GradientHttpClient(GradientHttpTransport, GradientClient):
    """HTTP client of the Gradient REST API (the http-mode :class:`GradientClient`; transport arguments as
    :class:`~airflow_provider_gradient.hooks.http_transport.GradientHttpTransport`)."""

    @staticmethod
    def _p(ref: int | str) -> str:
        return quote(str(ref), safe="")

    def _ref(self, ref: int | str) -> str:
        """Path segment of a project: the id, or an app id (resolved to the id when not URL-safe)."""
        if isinstance(ref, int) and not isinstance(ref, bool):
            return str(ref)
        if _SAFE_REF.match(str(ref)) and not (str(ref).isascii() and str(ref).isdigit()):
            return self._p(ref)
        return str(self._get("/projects:resolve", Project.model_validate, {"ref": str(ref)}).id)

    # ------------------------------------------------------------------ health / workspaces
    def health(self) -> Health:
        return self._get("/health", Health.model_validate)

    def get_or_create_workspace(self, workspace: WorkspaceIn | dict[str, Any]) -> Workspace:
        ws = _validate(WorkspaceIn, workspace, ("workspace",))
        resp = self._request("POST", "/workspaces", idempotent=True, json=_body(ws))
        return Workspace.model_validate(resp.json())

    def list_workspaces(self) -> list[Workspace]:
        return self._get("/workspaces", TypeAdapter(list[Workspace]).validate_python)

    # ------------------------------------------------------------------ projects
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
        p_in = _validate(
            ProjectIn,
            {
                "app_id": app_id,
                "name": name,
                "settings": settings.model_dump(exclude_unset=True)
                if isinstance(settings, BaseModel)
                else settings,
                "workspace": workspace.model_dump() if isinstance(workspace, BaseModel) else workspace,
                "cloud": cloud,
                "region": region,
                "plan_type": plan_type,
                "compute_type": compute_type,
                "baseline_cluster": baseline_cluster,
                "dag_id": dag_id,
                "task_id": task_id,
            },
            (),
        )
        return self.create_project(p_in)

    def create_project(self, p_in: ProjectIn) -> Project:
        p_in = _validate(ProjectIn, p_in, ())
        resp = self._request(
            "POST", "/projects", idempotent=True, json=_body(p_in, exclude_unset=True)
        )
        return Project.model_validate(resp.json())

    def choose_cluster(self, choice: ApplyChoiceIn) -> ApplyChoice:
        # idempotent: get-or-create and reads only
        c_in = _validate(ApplyChoiceIn, choice, ())
        resp = self._request(
            "POST", "/projects:choose-cluster", idempotent=True, json=_body(c_in, exclude_unset=True)
        )
        return ApplyChoice.model_validate(resp.json())

    def get_project(self, ref: int | str) -> Project:
        if not isinstance(ref, int) and (not _SAFE_REF.match(str(ref)) or (str(ref).isascii() and str(ref).isdigit())):
            return self._get("/projects:resolve", Project.model_validate, {"ref": str(ref)})
        return self._get(f"/projects/{self._ref(ref)}", Project.model_validate)

    def find_project(self, ref: int | str) -> Project | None:
        try:
            return self.get_project(ref)
        except NotFoundError:
            return None

    def list_projects(self, *, limit: int | None = None, offset: int = 0) -> list[Project]:
        return self._get(
            "/projects",
            TypeAdapter(list[Project]).validate_python,
            {"limit": limit, "offset": offset or None},
        )

    def update_settings(self, ref: int | str, patch: ProjectSettingsIn | dict[str, Any]) -> Project:
        patch_in = _validate(ProjectSettingsIn, patch, ("settings",))
        resp = self._request(
            "PATCH",
            f"/projects/{self._ref(ref)}/settings",
            idempotent=True,
            json=_body(patch_in, exclude_unset=True),
        )
        return Project.model_validate(resp.json())

    def update_project(
        self,
        ref: int | str,
        *,
        name: str | None = None,
        baseline_cluster: dict[str, Any] | None = None,
        dag_id: str | None = None,
        task_id: str | None = None,
        region: str | None = None,
    ) -> Project:
        body = {
            k: v
            for k, v in {
                "name": name,
                "baseline_cluster": redact_tree(baseline_cluster) if baseline_cluster is not None else None,
                "dag_id": dag_id,
                "task_id": task_id,
                "region": region,
            }.items()
            if v is not None
        }
        resp = self._request("PATCH", f"/projects/{self._ref(ref)}", idempotent=True, json=body)
        return Project.model_validate(resp.json())

    def delete_project(self, ref: int | str) -> None:
        self._request("DELETE", f"/projects/{self._ref(ref)}", idempotent=True, ok_404_after_retry=True)

    def reset_project(self, ref: int | str) -> Project:
        resp = self._request("POST", f"/projects/{self._ref(ref)}/reset", idempotent=True)
        return Project.model_validate(resp.json())

    # ------------------------------------------------------------------ runs
    def record_run(self, ref: int | str, run: RunIn | dict[str, Any]) -> Run:
        run_in = _validate(RunIn, run, ("run",))
        resp = self._request(
            "POST", f"/projects/{self._ref(ref)}/runs", idempotent=True, json=_body(run_in)
        )
        return Run.model_validate(resp.json())

    def record_and_recommend(
        self, ref: int | str, run: RunIn | dict[str, Any], *, recommend: bool = True
    ) -> RecordOutcome:
        # retried like record_run: the service answers a retry of the same run with the first call's outcome
        # (no second recommendation, nothing marked applied again)
        run_in = _validate(RunIn, run, ("run",))
        resp = self._request(
            "POST",
            f"/projects/{self._ref(ref)}/runs:record",
            idempotent=True,
            json=_body(run_in),
            params={"recommend": "true" if recommend else "false"},
        )
        return RecordOutcome.model_validate(resp.json())

    def get_run(self, ref: int | str, databricks_run_id: int) -> Run:
        return self._get(f"/projects/{self._ref(ref)}/runs/{int(databricks_run_id)}", Run.model_validate)

    def list_runs(self, ref: int | str, limit: int | None = 100, offset: int = 0) -> list[Run]:
        return self._get(
            f"/projects/{self._ref(ref)}/runs",
            TypeAdapter(list[Run]).validate_python,
            {"limit": limit if limit is not None else 0, "offset": offset or None},
        )

    # ------------------------------------------------------------------ recommendations
    def latest_recommendation(self, ref: int | str, state: str | None = "ready") -> Recommendation | None:
        return self._get(
            f"/projects/{self._ref(ref)}/recommendations/latest",
            TypeAdapter(Recommendation | None).validate_python,
            {"state": state if state is not None else "any"},
        )

    def list_recommendations(self, ref: int | str, limit: int | None = 50) -> list[Recommendation]:
        return self._get(
            f"/projects/{self._ref(ref)}/recommendations",
            TypeAdapter(list[Recommendation]).validate_python,
            {"limit": limit if limit is not None else 0},
        )

    def get_recommendation(self, recommendation_id: int) -> Recommendation:
        return self._get(f"/recommendations/{int(recommendation_id)}", Recommendation.model_validate)

    def store_recommendation(
        self, ref: int | str, rec: RecommendationIn | dict[str, Any], *, state: str = "ready"
    ) -> Recommendation:
        rec_in = _validate(RecommendationIn, rec, ("recommendation",))
        resp = self._request(
            "POST",
            f"/projects/{self._ref(ref)}/recommendations",
            idempotent=False,
            json=_body(rec_in),
            params={"state": state},
        )
        return Recommendation.model_validate(resp.json())

    def generate_recommendation(self, ref: int | str) -> Recommendation:
        resp = self._request("POST", f"/projects/{self._ref(ref)}/recommendations/generate", idempotent=False)
        return Recommendation.model_validate(resp.json())

    def mark_applied(self, recommendation_id: int, databricks_run_id: int | None = None) -> Recommendation:
        resp = self._request(
            "POST",
            f"/recommendations/{int(recommendation_id)}/apply",
            idempotent=True,
            json={"databricks_run_id": databricks_run_id},
        )
        return Recommendation.model_validate(resp.json())

    # ------------------------------------------------------------------ read model (the pages; plugins/api/read_routes.py)
    def project_summaries(self, *, now_ms: int | None = None) -> list[ProjectSummary]:
        """Every readable project's summary (costs, learning progress, ROI, insights), newest activity first."""
        return self._get("/projects:summaries", TypeAdapter(list[ProjectSummary]).validate_python, {"now_ms": now_ms})

    def project_overview(self, ref: int | str, *, now_ms: int | None = None) -> ProjectOverview:
        """A project with its summary, runs and newest recommendations (its page)."""
        return self._get(
            f"/projects/{self._ref(ref)}/overview", TypeAdapter(ProjectOverview).validate_python, {"now_ms": now_ms}
        )

    def project_roi(self, ref: int | str) -> ProjectRoi:
        """A project's ROI from all its runs."""
        return self._get(f"/projects/{self._ref(ref)}/roi", TypeAdapter(ProjectRoi).validate_python)

    def find_task_run(
        self,
        dag_id: str,
        task_id: str,
        run_id: str,
        try_number: int | None = None,
        map_index: int | None = None,
        cluster_key: str | None = None,
    ) -> TaskRun:
        """The projects of an Airflow task (one per cluster; ``cluster_key``: only that cluster's), each with its
        run for the DAG run ``run_id`` and the recommendation it used."""
        params: dict[str, Any] = {"dag_id": dag_id, "task_id": task_id, "run_id": run_id}
        if try_number is not None:
            params["try_number"] = try_number
        if map_index is not None:
            params["map_index"] = map_index
        if cluster_key is not None:
            params["cluster_key"] = cluster_key
        return self._get("/task-runs:find", TypeAdapter(TaskRun).validate_python, params)
