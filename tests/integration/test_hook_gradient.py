"""GradientHook: connection -> client (local by default, http with a host), and the http transport's
retry policy (backoff on 429/5xx/connection errors for idempotent calls only), against a mock transport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from airflow_provider_gradient.hooks.gradient import GradientHook
from airflow_provider_gradient.hooks.http_client import GradientHttpClient
from airflow_provider_gradient.service import (
    GradientService,
    GradientValidationError,
    NotFoundError,
    OptimizerUnavailableError,
    PermissionDeniedError,
    RunIn,
)
from airflow_provider_gradient.service.errors import GradientError

PROJECT = {
    "id": 1, "app_id": "a.b", "name": "a.b", "workspace": None, "cloud": "aws", "region": "us-east-1",
    "plan_type": "Premium", "compute_type": "jobs", "settings": {}, "phase": "learning", "baseline_cluster": None,
    "dag_id": None, "task_id": None, "created_ms": 1, "updated_ms": 1, "last_run_ms": None,
}
RUN = {"id": 1, "project_id": 1, "databricks_run_id": 5, "outcome": "success", "log_status": "pending",
       "created_ms": 1, "updated_ms": 1}
REC = {"id": 3, "project_id": 1, "created_ms": 1, "updated_ms": 1, "state": "ready", "cluster": {},
       "phase": "learning"}


@pytest.fixture
def env_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, dict], None]:
    def set_conn(conn_id: str, conn: dict) -> None:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))

    return set_conn


def test_local_mode_without_connection(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    monkeypatch.setenv("AIRFLOW__GRADIENT__STORE_URL", url)
    monkeypatch.setenv("AIRFLOW__GRADIENT__DEFAULT_SLA_MINUTES", "45")
    monkeypatch.delenv("AIRFLOW_CONN_GRADIENT_DEFAULT", raising=False)
    client = GradientHook().get_client()
    assert isinstance(client, GradientService) and client.url == url
    p = client.get_or_create_project("x.y")
    assert p.settings.sla_minutes == 45
    assert GradientHook(store_url=url).get_client().get_project("x.y") == p
    assert GradientHook().test_connection()[0] is True


def test_local_mode_connection_with_store_url(tmp_path, env_conn) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    env_conn("gradient_local", {"conn_type": "gradient", "extra": {"mode": "local", "store_url": url}})
    client = GradientHook("gradient_local").get_client()
    assert isinstance(client, GradientService) and client.url == url


def test_http_mode_from_connection(env_conn) -> None:
    env_conn("gradient_http", {"conn_type": "gradient", "host": "http://127.0.0.1:9", "password": "tok",
                               "extra": {"timeout": 3, "retries": 1}})
    client = GradientHook("gradient_http").get_client()
    assert isinstance(client, GradientHttpClient)
    assert client.api == "http://127.0.0.1:9/gradient/api/v1" and client.retries == 1
    assert client._auth_header() == {"Authorization": "Bearer tok"}
    env_conn("gradient_http2", {"conn_type": "gradient", "host": "airflow.internal", "schema": "https", "port": 8443,
                                "password": "t"})
    assert GradientHook("gradient_http2").get_client().base_url == "https://airflow.internal:8443"


def test_missing_non_default_connection_raises() -> None:
    with pytest.raises(Exception, match="gradient_nope"):
        GradientHook("gradient_nope").get_client()


def test_bad_mode_is_an_error(env_conn) -> None:
    env_conn("gradient_bad", {"conn_type": "gradient", "extra": {"mode": "carrier-pigeon"}})
    with pytest.raises(ValueError, match="mode"):
        GradientHook("gradient_bad").get_client()


# ----------------------------------------------------------------------------- retries
class Script:
    """A mock server answering from a list of (status, body) or exceptions; records every request."""

    def __init__(self, answers: list) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        headers = {"Retry-After": "0"} if status == 429 else {}
        return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


@pytest.fixture
def make_client() -> Iterator[Callable[[Script], GradientHttpClient]]:
    clients: list[GradientHttpClient] = []

    def make(script: Script, retries: int = 3) -> GradientHttpClient:
        c = GradientHttpClient("http://gradient.test", token="tok", retries=retries, backoff_initial=0.001,
                               backoff_max=0.01, transport=httpx.MockTransport(script))
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def test_idempotent_get_retries_on_5xx_and_429(make_client) -> None:
    s = Script([(503, {"detail": "busy"}), (429, {"detail": "slow down"}), (502, {}), (200, PROJECT)])
    p = make_client(s).get_project(1)
    assert p.app_id == "a.b" and len(s.requests) == 4
    assert s.requests[0].headers["authorization"] == "Bearer tok"
    assert s.requests[0].url.path == "/gradient/api/v1/projects/1"


def test_retries_are_bounded(make_client) -> None:
    s = Script([(500, {"detail": "boom"})])
    with pytest.raises(GradientError):
        make_client(s, retries=2).list_projects()
    assert len(s.requests) == 3


def test_record_run_is_retried(make_client) -> None:
    s = Script([httpx.ReadTimeout("slow"), (503, {"detail": "x"}), (200, RUN)])
    run = make_client(s).record_run(1, RunIn(databricks_run_id=5, outcome="success"))
    assert run.databricks_run_id == 5 and len(s.requests) == 3
    assert all(json.loads(r.content)["databricks_run_id"] == 5 for r in s.requests)


def test_generate_is_not_retried(make_client) -> None:
    s = Script([(503, {"detail": "optimiser busy"}), (200, REC)])
    with pytest.raises(OptimizerUnavailableError):
        make_client(s).generate_recommendation(1)
    assert len(s.requests) == 1
    s2 = Script([httpx.ReadTimeout("slow"), (200, REC)])
    with pytest.raises(GradientError, match="timed out"):
        make_client(s2).generate_recommendation(1)
    assert len(s2.requests) == 1


def test_connect_error_is_retried_even_for_generate(make_client) -> None:
    s = Script([httpx.ConnectError("refused"), (200, REC)])
    assert make_client(s).generate_recommendation(1).id == 3
    assert len(s.requests) == 2


def test_error_mapping(make_client) -> None:
    assert make_client(Script([(200, None)])).latest_recommendation(1) is None
    with pytest.raises(NotFoundError, match="nope"):
        make_client(Script([(404, {"detail": "project 'nope' not found"})])).get_project("nope")
    with pytest.raises(PermissionDeniedError):
        make_client(Script([(403, {"detail": "edit permission"})])).delete_project(1)
    s = Script([(422, {"detail": [{"loc": ["body", "max_workers"], "msg": "too many", "type": "x"}]})])
    with pytest.raises(GradientValidationError) as ei:
        make_client(s).update_settings(1, {"max_workers": 5})
    assert ei.value.errors == [{"loc": ["max_workers"], "msg": "too many", "type": "x"}]


def test_client_side_validation_sends_nothing(make_client) -> None:
    s = Script([(200, PROJECT)])
    with pytest.raises(GradientValidationError):
        make_client(s).update_settings(1, {"max_workers": 0})
    assert s.requests == []


def test_partial_settings_patch_sends_only_given_fields(make_client) -> None:
    s = Script([(200, PROJECT)])
    make_client(s).update_settings("a.b", {"sla_minutes": None, "auto_apply": False})
    assert json.loads(s.requests[0].content) == {"sla_minutes": None, "auto_apply": False}
    assert s.requests[0].url.path == "/gradient/api/v1/projects/a.b/settings"


def test_awkward_app_ids_are_resolved_by_query(make_client) -> None:
    s = Script([(200, PROJECT), (200, [RUN])])
    runs = make_client(s).list_runs("dag/with slash", limit=None)
    assert len(runs) == 1
    assert s.requests[0].url.path == "/gradient/api/v1/projects:resolve"
    assert s.requests[0].url.params["ref"] == "dag/with slash"
    assert s.requests[1].url.path == "/gradient/api/v1/projects/1/runs"
    assert s.requests[1].url.params["limit"] == "0"


def test_delete_retried_after_success_is_not_an_error(make_client) -> None:
    s = Script([httpx.ReadTimeout("lost answer"), (404, {"detail": "gone"})])
    make_client(s).delete_project(1)
    assert len(s.requests) == 2


def test_token_from_username_password_and_renewal() -> None:
    tokens = iter(["t1", "t2"])
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            assert json.loads(request.content) == {"username": "svc", "password": "pw"}
            return httpx.Response(201, json={"access_token": next(tokens)})
        seen.append(request.headers["authorization"])
        if request.headers["authorization"] == "Bearer t1":
            return httpx.Response(401, json={"detail": "Token Expired"})
        return httpx.Response(200, json={"status": "ok", "version": "0", "store": "sqlite"})

    c = GradientHttpClient("http://g", username="svc", password="pw", transport=httpx.MockTransport(handler))
    assert c.health().status == "ok"
    assert seen == ["Bearer t1", "Bearer t2"]
