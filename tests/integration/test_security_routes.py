"""Every plugin route x every role against ONE expected-access table (``ACCESS``), through the shared real
``airflow api-server`` (live_server.py). The routes are enumerated from the plugin's FastAPI app itself, so a
new route without a rule here fails ``test_every_route_has_a_rule``.

Roles: anonymous, ``viewer``, ``analyst`` (a user denied DAG ``finance_dag``), ``user`` (may edit every DAG)
and ``admin``. The project under test belongs to ``finance_dag``. Rules (see docs/security.md):

* ``AUTH``  any authenticated user
* ``LIST``  any authenticated user; the finance project is listed only for users who may read its DAG
* ``READ``  read permission on the project's DAG
* ``EDIT``  edit permission on the project's DAG
* ``ADMIN`` deployment-wide (``[gradient] projects_without_dag``, default: Airflow administrators)
* ``CONN``  read permission on the Databricks connection used (or ``[gradient] discover_conn_ids``)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from typing import Any

import httpx
import pytest
from live_server import DENIED_DAG, DENIED_USER, LiveServer

pytestmark = pytest.mark.slow
API = "/gradient/api/v1"
ROLES = ("anonymous", "viewer", DENIED_USER, "user", "admin")
PRIVATE_CONN = "databricks_private_routes"

#: rule -> the roles it lets through (anonymous never)
ALLOWED = {
    "AUTH": {"viewer", DENIED_USER, "user", "admin"},
    "LIST": {"viewer", DENIED_USER, "user", "admin"},
    "READ": {"viewer", "user", "admin"},
    "EDIT": {"user", "admin"},
    "ADMIN": {"admin"},
    "CONN": {"admin"},
}
#: the roles that see the finance project in a LIST answer
SEES_FINANCE = {"viewer", "user", "admin"}

# ------------------------------------------------------------------------ THE expected-access table
#: (method, path as declared in the app) -> (rule, kind); kind "page": anonymous is sent to the login page,
#: "api": anonymous gets 401.
ACCESS: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/api/v1/health"): ("AUTH", "api"),
    ("GET", "/api/v1/openapi.json"): ("AUTH", "api"),
    ("GET", "/api/v1/docs"): ("AUTH", "api"),
    ("GET", "/api/v1/workspaces"): ("AUTH", "api"),
    ("POST", "/api/v1/workspaces"): ("ADMIN", "api"),
    ("GET", "/api/v1/projects"): ("LIST", "api"),
    ("POST", "/api/v1/projects"): ("EDIT", "api"),
    ("POST", "/api/v1/projects:choose-cluster"): ("EDIT", "api"),
    ("GET", "/api/v1/projects:resolve"): ("READ", "api"),
    ("GET", "/api/v1/projects/{ref}"): ("READ", "api"),
    ("PATCH", "/api/v1/projects/{ref}"): ("EDIT", "api"),
    ("DELETE", "/api/v1/projects/{ref}"): ("EDIT", "api"),
    ("POST", "/api/v1/projects/{ref}/reset"): ("EDIT", "api"),
    ("GET", "/api/v1/projects/{ref}/settings"): ("READ", "api"),
    ("PATCH", "/api/v1/projects/{ref}/settings"): ("EDIT", "api"),
    ("GET", "/api/v1/projects/{ref}/runs"): ("READ", "api"),
    ("POST", "/api/v1/projects/{ref}/runs"): ("EDIT", "api"),
    ("POST", "/api/v1/projects/{ref}/runs:record"): ("EDIT", "api"),
    ("GET", "/api/v1/projects/{ref}/runs/{databricks_run_id}"): ("READ", "api"),
    ("GET", "/api/v1/projects/{ref}/recommendations"): ("READ", "api"),
    ("GET", "/api/v1/projects/{ref}/recommendations/latest"): ("READ", "api"),
    ("POST", "/api/v1/projects/{ref}/recommendations"): ("EDIT", "api"),
    ("POST", "/api/v1/projects/{ref}/recommendations/generate"): ("EDIT", "api"),
    ("GET", "/api/v1/recommendations/{recommendation_id}"): ("READ", "api"),
    ("GET", "/api/v1/projects:summaries"): ("LIST", "api"),
    ("GET", "/api/v1/projects/{ref}/overview"): ("READ", "api"),
    ("GET", "/api/v1/projects/{ref}/roi"): ("READ", "api"),
    ("GET", "/api/v1/task-runs:find"): ("READ", "api"),
    ("POST", "/api/v1/recommendations/{recommendation_id}/apply"): ("EDIT", "api"),
    ("GET", "/ui/"): ("LIST", "page"),
    ("GET", "/ui/projects.csv"): ("LIST", "api"),
    ("GET", "/ui/projects/{project_id}"): ("READ", "page"),
    ("GET", "/ui/ti"): ("READ", "page"),
    ("GET", "/ui/static/{name}"): ("AUTH", "api"),
    ("POST", "/ui/actions/projects/{project_id}/settings"): ("EDIT", "api"),
    ("POST", "/ui/actions/projects/{project_id}/generate"): ("EDIT", "api"),
    ("POST", "/ui/actions/projects/{project_id}/apply"): ("EDIT", "api"),
    ("POST", "/ui/actions/projects/{project_id}/delete"): ("EDIT", "api"),
    ("GET", "/ui/discover"): ("CONN", "page"),
    ("GET", "/ui/discover.csv"): ("CONN", "api"),
}


def _app_routes() -> tuple[list[tuple[str, str]], dict[tuple[str, str], str]]:
    """(method, path) of every route of the plugin app, from the app itself (mounts count as ``*``), and the
    kind of each API route ("page" when it depends on ``page_user``: anonymous goes to the login page)."""
    from fastapi.routing import APIRoute

    from airflow_provider_gradient.plugins.app import create_app

    out: list[tuple[str, str]] = []
    kinds: dict[tuple[str, str], str] = {}
    for route in create_app().routes:
        if isinstance(route, APIRoute):
            deps = {getattr(d.call, "__name__", "") for d in route.dependant.dependencies}
            for m in sorted(route.methods - {"HEAD", "OPTIONS"}):
                out.append((m, route.path))
                kinds[(m, route.path)] = "page" if "page_user" in deps else "api"
        else:
            out.append(("*", str(getattr(route, "path", route))))
    return out, kinds


ROUTES, KINDS = _app_routes()


def test_every_route_has_a_rule() -> None:
    missing = [r for r in ROUTES if r not in ACCESS]
    stale = [r for r in ACCESS if r not in ROUTES]
    assert not missing, f"routes without an access rule in ACCESS: {missing}"
    assert not stale, f"rules for routes that no longer exist: {stale}"
    for (method, path), (_, kind) in ACCESS.items():
        assert KINDS.get((method, path)) == kind, (method, path)


# ------------------------------------------------------------------------ the requests
@dataclass
class Target:
    """A project of finance_dag with a run and a recommendation."""

    id: int
    app_id: str
    run_id: int
    rec_id: int


_seq = count(1)


def _target(c: httpx.Client, prefix: str) -> Target:
    n = next(_seq)
    app_id = f"{DENIED_DAG}.{prefix}{n}"
    r = c.post(f"{API}/projects", json={"app_id": app_id, "dag_id": DENIED_DAG, "task_id": f"{prefix}{n}",
                                        "baseline_cluster": {"node_type_id": "m5.xlarge", "num_workers": 2}})
    assert r.status_code == 200, r.text
    pid = r.json()["id"]
    for k in range(2):
        r = c.post(f"{API}/projects/{pid}/runs", json={
            "databricks_run_id": 9000 + k, "outcome": "success", "start_ms": 1_000 + k, "end_ms": 601_000 + k,
            "cluster_config": {"node_type_id": "m5.xlarge", "num_workers": 2}, "dag_id": DENIED_DAG,
            "task_id": f"{prefix}{n}", "airflow_run_id": f"manual__{k}"})
        assert r.status_code == 200, r.text
    r = c.post(f"{API}/projects/{pid}/recommendations",
               json={"cluster": {"node_type_id": "m5.large", "num_workers": 3}, "phase": "learning"})
    assert r.status_code == 200, r.text
    return Target(pid, app_id, 9000, r.json()["id"])


@pytest.fixture(scope="module")
def admin_client(airflow_api: LiveServer) -> Iterator[httpx.Client]:
    with airflow_api.client("admin") as c:
        r = c.post(f"{airflow_api.url}/api/v2/connections", json={
            "connection_id": PRIVATE_CONN, "conn_type": "databricks", "host": "127.0.0.1", "port": 9,
            "schema": "http", "password": "dapi-routes-token"})
        assert r.status_code in (201, 409), r.text
        yield c


@pytest.fixture(scope="module")
def shared_target(admin_client: httpx.Client) -> Target:
    return _target(admin_client, "read")


def _request(method: str, path: str, t: Target, role: str) -> tuple[str, str, Any]:
    """The concrete URL and JSON body of a route for target ``t``."""
    url = "/gradient" + path
    url = url.replace("{ref}", str(t.id)).replace("{project_id}", str(t.id))
    url = url.replace("{databricks_run_id}", str(t.run_id)).replace("{recommendation_id}", str(t.rec_id))
    url = url.replace("{name}", "gradient.css")
    assert "{" not in url, url
    query = {
        "/api/v1/projects:resolve": f"?ref={t.app_id}",
        "/ui/ti": f"?dag_id={DENIED_DAG}&task_id={t.app_id.split('.', 1)[1]}&run_id=manual__0",
        "/api/v1/task-runs:find": f"?dag_id={DENIED_DAG}&task_id={t.app_id.split('.', 1)[1]}&run_id=manual__0",
        "/ui/discover": f"?conn_id={PRIVATE_CONN}&days=1",
        "/ui/discover.csv": f"?conn_id={PRIVATE_CONN}&days=1",
    }.get(path, "")
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/api/v1/workspaces"): {"name": f"ws-{role}", "cloud": "aws", "plan_type": "Standard"},
        ("POST", "/api/v1/projects"): {"app_id": t.app_id, "dag_id": DENIED_DAG},
        ("POST", "/api/v1/projects:choose-cluster"): {"project": {"app_id": t.app_id, "dag_id": DENIED_DAG}},
        ("PATCH", "/api/v1/projects/{ref}"): {"name": f"renamed by {role}"},
        ("PATCH", "/api/v1/projects/{ref}/settings"): {"sla_minutes": 9},
        ("POST", "/api/v1/projects/{ref}/runs"): {"databricks_run_id": 77, "outcome": "success"},
        ("POST", "/api/v1/projects/{ref}/runs:record"): {"databricks_run_id": 78, "outcome": "success"},
        ("POST", "/api/v1/projects/{ref}/recommendations"): {"cluster": {"num_workers": 4}, "phase": "learning"},
        ("POST", "/ui/actions/projects/{project_id}/settings"): {"sla_minutes": 9},
    }
    body = bodies.get((method, path), {} if method in ("POST", "PATCH") else None)
    return method, url + query, body


CASES = [(m, p, role) for (m, p) in ACCESS for role in ROLES]


@pytest.mark.parametrize(("method", "path", "role"), CASES, ids=[f"{m} {p} as {r}" for m, p, r in CASES])
def test_route_access(
    airflow_api: LiveServer, admin_client: httpx.Client, shared_target: Target, method: str, path: str, role: str
) -> None:
    rule, kind = ACCESS[(method, path)]
    target = shared_target if method == "GET" else _target(admin_client, "w")
    method, url, body = _request(method, path, target, role)
    with airflow_api.client(None if role == "anonymous" else role, follow_redirects=False) as c:
        r = c.request(method, url, json=body)
    if role == "anonymous":
        if kind == "page":
            assert r.status_code == 307 and "/auth/login" in r.headers["location"], (r.status_code, r.headers)
        else:
            assert r.status_code == 401, (r.status_code, r.text[:200])
        return
    if role not in ALLOWED[rule]:
        assert r.status_code == 403, (rule, r.status_code, r.text[:300])
        assert target.app_id not in r.text or rule == "CONN", "a refusal must not show the project"
        return
    assert r.status_code in (200, 201, 204, 409), (rule, r.status_code, r.text[:300])
    if rule == "LIST":
        listed = target.app_id in r.text or re.search(rf'data-project-id="{target.id}"', r.text) is not None
        assert listed is (role in SEES_FINANCE), (role, "finance project listed" if listed else "not listed")
