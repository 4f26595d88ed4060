"""The plugin's FastAPI app in-process: every route needs a user (401), validation (422 with field
messages), error mapping (404/409), CSRF on cookie-only writes, OpenAPI. Airflow's real ``get_user`` is
used for the 401 checks; the authenticated checks override it (the live api-server test covers JWTs)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from airflow_provider_gradient.service import GradientService


@pytest.fixture
def app(svc: GradientService) -> Any:
    from airflow_provider_gradient.plugins.app import create_app

    return create_app(svc)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    from airflow.api_fastapi.core_api.security import get_user

    app.dependency_overrides[get_user] = lambda: object()
    with TestClient(app, headers={"Authorization": "Bearer test"}) as c:
        yield c
    app.dependency_overrides.clear()


def _fill_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_requires_authentication(app: Any) -> None:
    """Enumerate the app's routes (API and pages): without a token each answers 401 (pages: a login redirect)."""
    from fastapi.routing import APIRoute

    c = TestClient(app, follow_redirects=False)
    checked = 0
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for method in route.methods - {"HEAD", "OPTIONS"}:
            r = c.request(method, _fill_path(route.path), json={} if method in ("POST", "PATCH", "PUT") else None)
            if route.path.startswith("/api/"):
                # writes without a bearer header are refused (CSRF) before anything else: 401 or 403
                expected = {401} if method == "GET" else {401, 403}
            else:
                expected = {401, 403, 307}
            assert r.status_code in expected, (method, route.path, r.status_code, r.text[:200])
            checked += 1
    assert checked >= 20


def test_unauthenticated_get_is_401_with_detail(app: Any) -> None:
    c = TestClient(app)
    r = c.get("/api/v1/projects")
    assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}
    assert c.get("/api/v1/openapi.json").status_code == 401


def test_openapi_served(client: TestClient) -> None:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["info"]["title"] == "Gradient"
    paths = spec["paths"]
    for p in ("/api/v1/health", "/api/v1/projects", "/api/v1/projects/{ref}/settings",
              "/api/v1/projects/{ref}/runs", "/api/v1/projects/{ref}/recommendations/latest",
              "/api/v1/projects/{ref}/recommendations/generate", "/api/v1/recommendations/{recommendation_id}/apply"):
        assert p in paths, p
    assert "ProjectSettingsIn" in spec["components"]["schemas"]
    assert client.get("/api/v1/docs").status_code == 200


def test_crud_flow(client: TestClient, svc: GradientService) -> None:
    assert client.get("/api/v1/health").json()["status"] == "ok"
    body = {"app_id": "etl.load", "dag_id": "etl", "task_id": "load", "settings": {"sla_minutes": 30},
            "baseline_cluster": {"node_type_id": "m5.xlarge", "num_workers": 4}}
    p = client.post("/api/v1/projects", json=body).json()
    assert p["app_id"] == "etl.load" and p["settings"]["sla_minutes"] == 30
    assert client.post("/api/v1/projects", json={"app_id": "etl.load"}).json()["id"] == p["id"]
    assert client.get(f"/api/v1/projects/{p['id']}").json() == p
    assert client.get("/api/v1/projects/etl.load").json() == p
    assert client.get("/api/v1/projects:resolve", params={"ref": "etl.load"}).json() == p
    assert [x["id"] for x in client.get("/api/v1/projects").json()] == [p["id"]]
    s = client.patch("/api/v1/projects/etl.load/settings", json={"max_workers": 12})
    assert s.status_code == 200 and s.json()["settings"]["max_workers"] == 12
    assert s.json()["settings"]["sla_minutes"] == 30
    assert client.get("/api/v1/projects/etl.load/settings").json()["max_workers"] == 12
    run = {"databricks_run_id": 77, "outcome": "success", "start_ms": 0, "end_ms": 60_000,
           "cluster_config": {"node_type_id": "m5.xlarge", "num_workers": 4}}
    for _ in range(3):
        assert client.post("/api/v1/projects/etl.load/runs", json=run).status_code == 200
    runs = client.get("/api/v1/projects/etl.load/runs").json()
    assert len(runs) == 1 and runs[0]["duration_s"] == 60.0
    assert client.get("/api/v1/projects/etl.load/runs/77").json() == runs[0]
    assert client.get("/api/v1/projects/etl.load/recommendations/latest").json() is None
    rec = client.post("/api/v1/projects/etl.load/recommendations",
                      json={"cluster": {"num_workers": 2}, "phase": "learning"}).json()
    assert client.get("/api/v1/projects/etl.load/recommendations/latest").json() == rec
    applied = client.post(f"/api/v1/recommendations/{rec['id']}/apply", json={"databricks_run_id": 78})
    assert applied.status_code == 200 and applied.json()["state"] == "applied"
    assert client.get("/api/v1/projects/etl.load/recommendations/latest", params={"state": "any"}).json() == applied.json()
    assert client.get(f"/api/v1/recommendations/{rec['id']}").json() == applied.json()
    reset = client.post("/api/v1/projects/etl.load/reset").json()
    assert reset["phase"] == "learning" and client.get("/api/v1/projects/etl.load/runs").json() == []
    assert client.delete(f"/api/v1/projects/{p['id']}").status_code == 204
    assert client.get(f"/api/v1/projects/{p['id']}").status_code == 404
    assert svc.list_projects() == []


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        ("/api/v1/projects/a.b/settings", "PATCH", {"sla_minutes": -3}, "sla_minutes"),
        ("/api/v1/projects/a.b/settings", "PATCH", {"max_workers": 0}, "max_workers"),
        ("/api/v1/projects/a.b/settings", "PATCH", {"max_workers": 10_001}, "max_workers"),
        ("/api/v1/projects/a.b/settings", "PATCH", {"window_start": "9am", "window_end": "10:00"}, "window_start"),
        ("/api/v1/projects/a.b/settings", "PATCH", {"bogus": 1}, "bogus"),
        ("/api/v1/projects/a.b/runs", "POST", {"databricks_run_id": 1, "outcome": "meh"}, "outcome"),
        ("/api/v1/projects/a.b/runs", "POST", {"outcome": "success"}, "databricks_run_id"),
        ("/api/v1/projects", "POST", {"app_id": ""}, "app_id"),
        ("/api/v1/projects", "POST", {"app_id": "x", "cloud": "oracle"}, "cloud"),
    ],
)
def test_invalid_input_422_with_field_messages(
    client: TestClient, svc: GradientService, path: str, method: str, body: dict, field: str
) -> None:
    svc.get_or_create_project("a.b")
    r = client.request(method, path, json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list) and any(field in map(str, e["loc"]) and e["msg"] for e in detail), detail


def test_cross_field_settings_error_is_422(client: TestClient, svc: GradientService) -> None:
    svc.get_or_create_project("a.b")
    r = client.patch("/api/v1/projects/a.b/settings", json={"window_start": "01:00"})
    assert r.status_code == 422 and "window_start and window_end" in r.text


def test_error_mapping(client: TestClient, svc: GradientService) -> None:
    assert client.get("/api/v1/projects/nope").status_code == 404
    assert client.get("/api/v1/projects/9999/runs").status_code == 404
    assert client.get("/api/v1/recommendations/9999").status_code == 404
    svc.get_or_create_project("a.b")
    assert client.get("/api/v1/projects/a.b/runs/5").status_code == 404
    r = client.post("/api/v1/projects/a.b/recommendations/generate")
    assert r.status_code == 409 and "baseline" in r.json()["detail"]
    assert client.get("/api/v1/projects/a.b/runs", params={"limit": -1}).status_code == 422


def test_cookie_only_write_is_refused(app: Any, svc: GradientService) -> None:
    """A write authenticated only by the ambient cookie (no bearer header, no CSRF token) is refused."""
    from airflow.api_fastapi.core_api.security import get_user

    svc.get_or_create_project("a.b")
    app.dependency_overrides[get_user] = lambda: object()
    c = TestClient(app, cookies={"_token": "session-jwt"})
    assert c.get("/api/v1/projects/a.b").status_code == 200
    r = c.patch("/api/v1/projects/a.b/settings", json={"sla_minutes": 1})
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.patch("/api/v1/projects/a.b/settings", json={"sla_minutes": 1}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    assert svc.get_project("a.b").settings.sla_minutes is None
    app.dependency_overrides.clear()


def test_every_rest_route_is_in_interfaces_md() -> None:
    """docs/INTERFACES.md lists every route of the REST API (path parameters compared by position only)."""
    from pathlib import Path

    from fastapi.routing import APIRoute

    from airflow_provider_gradient.plugins.app import create_app

    doc = re.sub(r"\{\w+\}", "{}", (Path(__file__).resolve().parents[2] / "docs" / "INTERFACES.md").read_text())
    routes = [r for r in create_app(include_ui=False).routes if isinstance(r, APIRoute)]
    paths = {re.sub(r"\{\w+\}", "{}", r.path.removeprefix("/api/v1")) for r in routes if r.path.startswith("/api/v1/")}
    missing = sorted(p for p in paths if not re.search(re.escape(p) + r"(?![\w/{:-])", doc))
    assert len(paths) > 20 and not missing, f"routes missing from docs/INTERFACES.md: {missing}"
