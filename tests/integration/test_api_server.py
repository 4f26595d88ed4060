"""A real ``airflow api-server`` on 127.0.0.1 (the session's shared one, live_server.py: temp AIRFLOW_HOME,
SQLite metadata DB, SimpleAuthManager users admin/op/user/viewer/analyst): the plugin is mounted at /gradient, the provider / plugin / connection type
are listed by the Airflow CLI, the API answers 401 without a token and 200 with one, writes need DAG edit
permission (viewer -> 403), and the http client (GradientHook in http mode) returns exactly the objects
the local client returns for the same calls."""

from __future__ import annotations

import json
import os

import httpx
import pytest
from live_server import PASSWORDS, LiveServer

from airflow_provider_gradient.hooks.gradient import GradientHook
from airflow_provider_gradient.hooks.http_client import GradientHttpClient
from airflow_provider_gradient.service import (
    ConflictError,
    GradientService,
    GradientValidationError,
    NotFoundError,
    PermissionDeniedError,
    RecommendationIn,
    RunCost,
    RunIn,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(airflow_api: LiveServer) -> LiveServer:
    """The session's shared api-server (conftest.py ``airflow_api``; users in live_server.py)."""
    return airflow_api


def test_airflow_cli_lists_provider_plugin_and_connection_type(live: LiveServer) -> None:
    assert "airflow-provider-gradient" in live.cli["providers"], live.cli["providers"][-2000:]
    plugins = live.cli["plugins"]
    assert "airflow_provider_gradient" in plugins and "gradient" in plugins.split(), plugins[-2000:]
    hooks = [line for line in live.cli["hooks"].splitlines() if "gradient" in line]
    assert any("GradientHook" in line for line in hooks), live.cli["hooks"][-2000:]


def test_plugin_registered_in_api_server(live: LiveServer) -> None:
    r = httpx.get(live.url + "/api/v2/plugins", headers=live.h(), timeout=10)
    plugin = next(p for p in r.json()["plugins"] if p["name"] == "gradient")
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/gradient"
    assert {v["destination"] for v in plugin["external_views"]} == {"nav", "task_instance"}


def test_401_without_token_200_with_token(live: LiveServer) -> None:
    api = live.url + "/gradient/api/v1"
    assert httpx.get(api + "/health", timeout=10).status_code == 401
    assert httpx.get(api + "/projects", timeout=10).status_code == 401
    assert httpx.get(api + "/health", headers={"Authorization": "Bearer forged.jwt.value"}, timeout=10).status_code in (
        401, 403)
    r = httpx.get(api + "/health", headers=live.h(), timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert httpx.get(api + "/projects", headers=live.h("viewer"), timeout=10).status_code == 200
    spec = httpx.get(api + "/openapi.json", headers=live.h(), timeout=10)
    assert spec.status_code == 200 and "/api/v1/projects/{ref}/settings" in spec.json()["paths"]
    assert httpx.get(api + "/openapi.json", timeout=10).status_code == 401


def test_writes_need_dag_edit_permission(live: LiveServer) -> None:
    api = live.url + "/gradient/api/v1"
    admin = GradientHttpClient(live.url, token=live.tokens["admin"])
    viewer = GradientHttpClient(live.url, token=live.tokens["viewer"])
    p = admin.get_or_create_project("perm.task", dag_id="perm", baseline_cluster={"node_type_id": "m5.large",
                                                                                 "num_workers": 1})
    rec = admin.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": 1}, phase="learning"))
    assert viewer.get_project(p.id) == p
    with pytest.raises(PermissionDeniedError):
        viewer.update_settings(p.id, {"sla_minutes": 5})
    with pytest.raises(PermissionDeniedError):
        viewer.mark_applied(rec.id)
    with pytest.raises(PermissionDeniedError):
        viewer.delete_project(p.id)
    with pytest.raises(PermissionDeniedError):
        viewer.reset_project(p.id)
    r = httpx.patch(f"{api}/projects/{p.id}/settings", json={"sla_minutes": -1}, headers=live.h(), timeout=10)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "sla_minutes"
    assert admin.update_settings(p.id, {"sla_minutes": 5}).settings.sla_minutes == 5
    admin.delete_project(p.id)
    assert admin.find_project(p.id) is None


def test_http_and_local_clients_return_identical_objects(live: LiveServer) -> None:
    os.environ["AIRFLOW_CONN_GRADIENT_LIVE"] = json.dumps(
        {"conn_type": "gradient", "host": live.url, "password": live.tokens["admin"], "extra": {"timeout": 20}}
    )
    try:
        http = GradientHook("gradient_live").get_client()
    finally:
        os.environ.pop("AIRFLOW_CONN_GRADIENT_LIVE")
    assert isinstance(http, GradientHttpClient)
    local = GradientHook(store_url=live.store_url).get_client()
    assert isinstance(local, GradientService)

    base = {"node_type_id": "m5.xlarge", "num_workers": 4}
    p_http = http.get_or_create_project(
        "same.task", name="Same", settings={"sla_minutes": 30, "allowed_families": ["m5", "r5"]},
        workspace={"name": "prod", "host": "https://dbc.example", "cloud": "aws", "region": "us-east-1"},
        baseline_cluster=base, dag_id="same", task_id="task",
    )
    assert local.get_or_create_project("same.task") == p_http
    assert local.get_project("same.task") == http.get_project("same.task") == http.get_project(p_http.id)
    assert local.list_projects() == http.list_projects()
    assert local.list_workspaces() == http.list_workspaces()

    assert http.update_settings(p_http.id, {"max_workers": 12}) == local.get_project(p_http.id)
    run_in = RunIn(databricks_run_id=4242, outcome="success", start_ms=1_000, end_ms=601_000,
                   cluster_config=base, input_bytes=123, metrics={"tasks": 8, "nested": {"x": [1, 2.5]}},
                   cost=RunCost(cloud_usd=0.1, dbu_usd=0.2, storage_usd=0.0, total_usd=0.3, low_usd=0.25,
                                high_usd=0.3),
                   log_status="complete", dag_id="same", task_id="task", airflow_run_id="manual__1", try_number=1)
    r_http = http.record_run("same.task", run_in)
    assert r_http == local.get_run(p_http.id, 4242) == http.get_run("same.task", 4242)
    r_local = local.record_run(p_http.id, RunIn(databricks_run_id=4243, outcome="oom", start_ms=2_000))
    assert http.list_runs(p_http.id) == local.list_runs(p_http.id)
    assert http.list_runs(p_http.id, limit=1) == local.list_runs(p_http.id, limit=1) == [r_local]  # newest first

    assert http.latest_recommendation(p_http.id) is None and local.latest_recommendation(p_http.id) is None
    rec = http.generate_recommendation(p_http.id)
    assert rec == local.latest_recommendation(p_http.id) == http.latest_recommendation("same.task")
    assert http.get_recommendation(rec.id) == local.get_recommendation(rec.id)
    applied = http.mark_applied(rec.id, databricks_run_id=4244)
    assert applied == local.get_recommendation(rec.id) == http.latest_recommendation(p_http.id, state="applied")
    assert http.latest_recommendation(p_http.id, state=None) == local.latest_recommendation(p_http.id, state=None)
    assert http.list_recommendations(p_http.id) == local.list_recommendations(p_http.id)
    h1, h2 = http.health(), local.health()
    assert h1 == h2

    # the same typed errors
    for client in (http, local):
        with pytest.raises(NotFoundError):
            client.get_project("missing.task")
        with pytest.raises(GradientValidationError):
            client.update_settings(p_http.id, {"max_workers": 0})
        assert client.find_project("missing.task") is None
    empty = local.get_or_create_project("empty.task")
    for client in (http, local):
        with pytest.raises(ConflictError):
            client.generate_recommendation(empty.id)

    reset = http.reset_project("same.task")
    assert reset == local.get_project(p_http.id) and local.list_runs(p_http.id) == []
    http.delete_project(p_http.id)
    assert local.find_project(p_http.id) is None


def test_token_from_username_and_password(live: LiveServer) -> None:
    c = GradientHttpClient(live.url, username="admin", password=PASSWORDS["admin"])
    assert c.health().status == "ok"
