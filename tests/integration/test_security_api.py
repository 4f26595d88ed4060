"""Authentication of the plugin's FastAPI app through the session's shared real ``airflow api-server``
(live_server.py): every route needs an authenticated user, writes need DAG edit permission, cookie-only
writes need the CSRF token. (Authorisation per DAG and role: test_security_authz.py, test_security_routes.py.)

``api_server()`` (used by the concurrency tests on PostgreSQL) serves the app alone with uvicorn and Airflow's
auth manager wired as the api-server wires it, in a subprocess on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import LiveServer
from serving import free_port

#: The server process: the plugin app mounted at /gradient beside the auth manager's own app (/auth),
#: exactly as ``airflow api-server`` mounts plugin ``fastapi_apps``; prints admin/viewer JWTs on start.
SERVER = r"""
import json, sys
import uvicorn
from fastapi import FastAPI
from airflow.api_fastapi.app import init_auth_manager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from airflow_provider_gradient.plugins.app import create_app

# the one metadata table JWT validation reads (revoked tokens), instead of a full `airflow db migrate`
from airflow import settings
from airflow.models.revoked_token import RevokedToken
if settings.engine is None:
    settings.configure_orm()
RevokedToken.__table__.create(settings.engine, checkfirst=True)

root = FastAPI()
am = init_auth_manager(root)
root.mount("/auth", am.get_fastapi_app())
root.mount("/gradient", create_app())
tokens = {role: am.generate_jwt(SimpleAuthManagerUser(username=role, role=role))
          for role in ("admin", "viewer", "op")}
print("TOKENS " + json.dumps(tokens), flush=True)
uvicorn.run(root, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", timeout_graceful_shutdown=2)
"""


@dataclass
class ApiServer:
    """A running plugin app: base URL, tokens per role, the store URL and the Airflow home."""

    url: str
    tokens: dict[str, str]
    store_url: str
    home: Path
    proc: subprocess.Popen[str]

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def client(self, role: str | None = "admin", **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(role) if role else {}, timeout=30, **kw)


def server_env(home: Path, store_url: str) -> dict[str, str]:
    """Environment of a process that serves or talks to the app like an Airflow deployment would."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager."
        "SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer,op:op",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__GRADIENT__STORE_URL": store_url,
    }


@contextlib.contextmanager
def api_server(home: Path, store_url: str, timeout: float = 90.0) -> Iterator[ApiServer]:
    """Serve the plugin app on a free port until the block ends (the process is always stopped)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(home / "server.log", "w+")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)], env=server_env(home, store_url), stdout=subprocess.PIPE,
        stderr=log, text=True, stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # Airflow may log to stdout before the tokens line
            if line.startswith("TOKENS "):
                break
            seen.append(line)
        else:
            log.seek(0)
            pytest.fail(f"API server did not start: {''.join(seen)[-2000:]}\n{log.read()[-3000:]}")
        tokens = json.loads(line[len("TOKENS "):])
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url + "/gradient/api/v1/health", timeout=2).status_code in (200, 401):
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"API server not answering:\n{log.read()[-3000:]}")
            time.sleep(0.1)
        yield ApiServer(url, tokens, store_url, home, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture(scope="module")
def server(airflow_api: LiveServer) -> LiveServer:
    """The session's shared real ``airflow api-server`` (live_server.py)."""
    return airflow_api


# ------------------------------------------------------------------------------------------ routes
def _routes() -> list[tuple[str, str, str]]:
    """(method, path template, kind) of every route of the plugin app, from the app itself."""
    from fastapi.routing import APIRoute

    from airflow_provider_gradient.plugins.app import create_app

    out = []
    for route in create_app().routes:
        if not isinstance(route, APIRoute):
            continue
        deps = {getattr(d.call, "__name__", "") for d in route.dependant.dependencies}
        kind = "page" if "page_user" in deps else "api"  # HTML pages redirect to login, the rest say 401
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((method, route.path, kind))
    return out


ROUTES = _routes()
_SAMPLE = {"ref": "1", "project_id": "1", "databricks_run_id": "1", "recommendation_id": "1", "name": "gradient.css"}


def _concrete(template: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: _SAMPLE.get(m.group(1), "1"), template)


def test_route_inventory_is_not_empty() -> None:
    paths = {p for _, p, _ in ROUTES}
    assert "/api/v1/projects" in paths and "/api/v1/openapi.json" in paths
    assert any(p.startswith("/ui") for p in paths), "the pages are part of the app"
    assert len(ROUTES) >= 20, ROUTES


@pytest.mark.parametrize(("method", "template", "kind"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_route_requires_authentication(server: LiveServer, method: str, template: str, kind: str) -> None:
    path = "/gradient" + _concrete(template)
    with server.client(role=None, follow_redirects=False) as c:
        for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Cookie": "_token=forged.jwt.value"}):
            r = c.request(method, path, headers=headers, json={} if method in ("POST", "PATCH", "PUT") else None)
            if kind == "page":
                assert r.status_code in (302, 303, 307), (headers, r.status_code, r.text[:200])
                assert "login" in r.headers["location"], r.headers
            else:
                # no credentials: 401; a forged token: Airflow answers 401 or 403 ("Invalid JWT token")
                assert r.status_code in ((401,) if not headers else (401, 403)), (headers, r.status_code)
                assert "detail" in r.json()


def test_expired_token_is_rejected(server: LiveServer) -> None:
    env = server.env
    with server.client(role=None) as c:
        r = c.get("/gradient/api/v1/projects", headers={"Authorization": "Bearer " + server.tokens["admin"][:-4] + "AAAA"})
        assert r.status_code in (401, 403)
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] not in server.tokens["admin"]


# ------------------------------------------------------------------------------------------ permissions
def test_viewer_can_read_but_not_write(server: LiveServer) -> None:
    with server.client("admin") as admin, server.client("viewer") as viewer:
        p = admin.post("/gradient/api/v1/projects", json={"app_id": "perm_dag.task", "dag_id": "perm_dag",
                                                          "baseline_cluster": {"node_type_id": "m5.xlarge",
                                                                               "num_workers": 2}})
        assert p.status_code == 200, p.text
        pid = p.json()["id"]
        assert viewer.get(f"/gradient/api/v1/projects/{pid}").status_code == 200
        assert viewer.get(f"/gradient/api/v1/projects/{pid}/runs").status_code == 200
        writes = [
            ("PATCH", f"/gradient/api/v1/projects/{pid}/settings", {"sla_minutes": 5}),
            ("PATCH", f"/gradient/api/v1/projects/{pid}", {"name": "x"}),
            ("POST", f"/gradient/api/v1/projects/{pid}/runs", {"databricks_run_id": 1, "outcome": "success"}),
            ("POST", f"/gradient/api/v1/projects/{pid}/recommendations/generate", None),
            ("POST", f"/gradient/api/v1/projects/{pid}/reset", None),
            ("DELETE", f"/gradient/api/v1/projects/{pid}", None),
            ("POST", f"/gradient/ui/actions/projects/{pid}/settings", {"sla_minutes": 5}),
            ("POST", f"/gradient/ui/actions/projects/{pid}/generate", {}),
            ("POST", f"/gradient/ui/actions/projects/{pid}/delete", {}),
        ]
        for method, path, body in writes:
            r = viewer.request(method, path, json=body)
            assert r.status_code == 403, (method, path, r.status_code, r.text[:200])
        after = admin.get(f"/gradient/api/v1/projects/{pid}").json()
        assert after["settings"]["sla_minutes"] is None and after["name"] == "perm_dag.task"
        assert admin.get(f"/gradient/api/v1/projects/{pid}/runs").json() == []
        r = admin.patch(f"/gradient/api/v1/projects/{pid}/settings", json={"sla_minutes": 5})
        assert r.status_code == 200 and r.json()["settings"]["sla_minutes"] == 5


# ------------------------------------------------------------------------------------------ CSRF
def test_cookie_only_writes_need_the_csrf_token(server: LiveServer) -> None:
    with server.client("admin") as admin:
        pid = admin.post("/gradient/api/v1/projects", json={"app_id": "csrf_dag.task"}).json()["id"]
    cookie = {"Cookie": f"_token={server.tokens['admin']}"}
    with server.client(role=None) as c:
        # reads with the session cookie work (the pages use it)
        assert c.get(f"/gradient/api/v1/projects/{pid}", headers=cookie).status_code == 200
        for method, path, body in [
            ("PATCH", f"/gradient/api/v1/projects/{pid}/settings", {"sla_minutes": 7}),
            ("POST", f"/gradient/ui/actions/projects/{pid}/settings", {"sla_minutes": 7}),
            ("DELETE", f"/gradient/api/v1/projects/{pid}", None),
        ]:
            r = c.request(method, path, json=body, headers=cookie)
            assert r.status_code == 403, (method, path, r.status_code, r.text[:200])
            r = c.request(method, path, json=body, headers={**cookie, "X-Gradient-CSRF": "0" * 64})
            assert r.status_code == 403, (method, path, "forged token accepted")
            r = c.request(method, path, json=body, headers={**cookie, "Sec-Fetch-Site": "cross-site"})
            assert r.status_code == 403
        assert c.get(f"/gradient/api/v1/projects/{pid}", headers=cookie).json()["settings"]["sla_minutes"] is None
        # a form post (what a cross-site page can send without preflight) is refused too
        r = c.post(f"/gradient/ui/actions/projects/{pid}/settings", data={"sla_minutes": "7"}, headers=cookie)
        assert r.status_code in (403, 415, 422), r.status_code
        assert c.get(f"/gradient/api/v1/projects/{pid}", headers=cookie).json()["settings"]["sla_minutes"] is None
