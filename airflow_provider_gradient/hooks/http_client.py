"""GradientHttpClient: the GradientService methods over the plugin's REST API (``/gradient/api/v1``).

Returns the same pydantic value objects as the local service and raises the same typed errors.
Transport: httpx with timeouts; tenacity retries with exponential backoff + jitter on 429/5xx and on
connection/read errors for idempotent calls only (a connection that never opened is retried for every
call, since nothing was sent). No Airflow import.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from airflow_provider_gradient.core.roi import ProjectRoi
from airflow_provider_gradient.service.errors import (
    AuthenticationError,
    ConflictError,
    GradientError,
    GradientValidationError,
    NotFoundError,
    OptimizerUnavailableError,
    PermissionDeniedError,
)
from airflow_provider_gradient.service.schemas import (
    Health,
    Project,
    ProjectIn,
    ProjectSettingsIn,
    Recommendation,
    RecommendationIn,
    Run,
    RunIn,
    Workspace,
    WorkspaceIn,
)
from airflow_provider_gradient.service.summaries import ProjectOverview, ProjectSummary, TaskRun

log = logging.getLogger(__name__)
T = TypeVar("T")
API_PREFIX = "/gradient/api/v1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_SAFE_REF = re.compile(r"^[A-Za-z0-9._~:@+\-]+$")


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _retry_after(exc: BaseException | None) -> float:
    if isinstance(exc, _RetryableStatus):
        value = exc.response.headers.get("retry-after", "")
        try:
            return min(max(float(value), 0.0), 30.0)
        except ValueError:
            return 0.0
    return 0.0


def _validate(model: Any, value: Any, prefix: tuple[str, ...]) -> Any:
    from pydantic import ValidationError

    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise GradientValidationError.from_pydantic(exc, prefix) from None


class GradientHttpClient:
    """HTTP client of the Gradient REST API (same methods as ``GradientService``).

    :param base_url: the Airflow API server, e.g. ``http://127.0.0.1:8080`` (``/gradient/api/v1`` appended).
    :param token: bearer token (JWT from Airflow's ``/auth/token``).
    :param username: with ``password``: obtain (and renew on 401) the token from ``/auth/token``.
    :param password: see ``username``.
    :param timeout: per-request timeout in seconds.
    :param retries: retries of idempotent calls on 429/5xx/connection errors (0 disables).
    :param verify: TLS certificate verification.
    :param backoff_initial: first backoff in seconds (doubles, with jitter, up to ``backoff_max``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        verify: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api = self.base_url + API_PREFIX
        self._token = token
        self._username = username
        self._password = password
        self.retries = max(0, int(retries))
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._lock = threading.Lock()
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            verify=verify,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "airflow-provider-gradient"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GradientHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def _fetch_token(self) -> str:
        resp = self._http.post(
            self.base_url + "/auth/token", json={"username": self._username, "password": self._password}
        )
        if resp.status_code not in (200, 201):
            raise AuthenticationError(
                f"could not obtain a token from {self.base_url}/auth/token: {resp.status_code}"
            )
        return str(resp.json()["access_token"])

    def _auth_header(self, renew: bool = False) -> dict[str, str]:
        with self._lock:
            if self._username and (renew or not self._token):
                self._token = self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _send(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        resp = self._http.request(
            method, self.api + path, json=json, params=params, headers=self._auth_header()
        )
        if resp.status_code == 401 and self._username:
            resp = self._http.request(
                method, self.api + path, json=json, params=params, headers=self._auth_header(renew=True)
            )
        return resp

    def _request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok_404_after_retry: bool = False,
    ) -> httpx.Response:
        attempts = {"n": 0}

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                return True  # nothing was sent
            if not idempotent:
                return False
            return isinstance(exc, (_RetryableStatus, httpx.TransportError))

        def wait(state: RetryCallState) -> float:
            n = max(state.attempt_number - 1, 0)
            base = min(self.backoff_max, self.backoff_initial * 2**n) + random.uniform(0, self.backoff_initial)
            exc = state.outcome.exception() if state.outcome else None
            return max(base, _retry_after(exc))

        def once() -> httpx.Response:
            attempts["n"] += 1
            resp = self._send(method, path, json=json, params=params)
            if resp.status_code in RETRY_STATUSES and idempotent:
                raise _RetryableStatus(resp)
            return resp

        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait,
            retry=retry_if_exception(retryable),
            reraise=True,
            before_sleep=lambda s: log.warning(
                "gradient %s %s failed (%s); retrying",
                method,
                path,
                s.outcome.exception() if s.outcome else "?",
            ),
        )
        try:
            resp = retrying(once)
        except _RetryableStatus as exc:
            resp = exc.response
        except httpx.TimeoutException as exc:
            raise GradientError(f"gradient API {method} {path} timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise GradientError(f"gradient API {method} {path} unreachable: {exc}") from exc
        if resp.status_code == 404 and ok_404_after_retry and attempts["n"] > 1:
            return resp
        if resp.status_code >= 400:
            raise self._error(resp)
        return resp

    @staticmethod
    def _error(resp: httpx.Response) -> GradientError:
        try:
            body = resp.json()
        except ValueError:
            body = {"detail": resp.text[:500]}
        detail = body.get("detail") if isinstance(body, dict) else body
        code = resp.status_code
        if code == 422:
            errors = detail if isinstance(detail, list) else []
            errors = [
                {
                    "loc": [str(x) for x in e.get("loc", []) if x != "body"],
                    "msg": e.get("msg", ""),
                    "type": e.get("type", ""),
                }
                for e in errors
                if isinstance(e, dict)
            ]
            msg = "; ".join(f"{'.'.join(e['loc']) or 'value'}: {e['msg']}" for e in errors) or str(detail)
            return GradientValidationError(msg, errors)
        msg = detail if isinstance(detail, str) else str(detail)
        cls: type[GradientError] = {
            401: AuthenticationError,
            403: PermissionDeniedError,
            404: NotFoundError,
            409: ConflictError,
            503: OptimizerUnavailableError,
        }.get(code, GradientError)
        err = cls(msg)
        err.status_code = code
        return err

    def _get(self, path: str, adapter: Callable[[Any], T], params: dict[str, Any] | None = None) -> T:
        return adapter(self._request("GET", path, idempotent=True, params=params).json())

    @staticmethod
    def _p(ref: int | str) -> str:
        return quote(str(ref), safe="")

    def _ref(self, ref: int | str) -> str:
        """Path segment of a project: the id, or an app id (resolved to the id when not URL-safe)."""
        if isinstance(ref, int) and not isinstance(ref, bool):
            return str(ref)
        if _SAFE_REF.match(str(ref)) and not str(ref).isdigit():
            return self._p(ref)
        return str(self._get("/projects:resolve", Project.model_validate, {"ref": str(ref)}).id)

    # ------------------------------------------------------------------ health / workspaces
    def health(self) -> Health:
        return self._get("/health", Health.model_validate)

    def get_or_create_workspace(self, workspace: WorkspaceIn | dict[str, Any]) -> Workspace:
        ws = _validate(WorkspaceIn, workspace, ("workspace",))
        resp = self._request("POST", "/workspaces", idempotent=True, json=ws.model_dump(mode="json"))
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
            "POST", "/projects", idempotent=True, json=p_in.model_dump(mode="json", exclude_unset=True)
        )
        return Project.model_validate(resp.json())

    def get_project(self, ref: int | str) -> Project:
        if not isinstance(ref, int) and (not _SAFE_REF.match(str(ref)) or str(ref).isdigit()):
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
            json=patch_in.model_dump(mode="json", exclude_unset=True),
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
    ) -> Project:
        body = {
            k: v
            for k, v in {
                "name": name,
                "baseline_cluster": baseline_cluster,
                "dag_id": dag_id,
                "task_id": task_id,
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
            "POST", f"/projects/{self._ref(ref)}/runs", idempotent=True, json=run_in.model_dump(mode="json")
        )
        return Run.model_validate(resp.json())

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
            json=rec_in.model_dump(mode="json"),
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

    def find_task_run(self, dag_id: str, task_id: str, run_id: str) -> TaskRun:
        """The project of an Airflow task and its run for the DAG run ``run_id``."""
        return self._get(
            "/task-runs:find",
            TypeAdapter(TaskRun).validate_python,
            {"dag_id": dag_id, "task_id": task_id, "run_id": run_id},
        )
