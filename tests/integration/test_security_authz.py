"""Authorisation and data hygiene of the plugin through the shared real ``airflow api-server`` (live_server.py:
SimpleAuthManager users admin/op/user/viewer and ``analyst``, a user denied DAG ``finance_dag``):

1. writes need the right permission (a viewer cannot create a workspace);
2. every read of a project — API, pages, CSV, task-instance tab, KPIs — follows read permission on its DAG;
   projects without a DAG are for administrators;
3. Discover uses only Databricks connections the user may read (or the allow-list) and never shows a
   connection's host;
4. the server CSV neutralises formulas (the client-side export: tests/browser);
5. secrets sent with a run are redacted before they are stored or served.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from live_server import DENIED_DAG, DENIED_USER, SHARED_CONN, LiveServer
from secret_cases import issue_cluster, issue_run, issue_secrets

pytestmark = pytest.mark.slow
API = "/gradient/api/v1"
FORMULAS = ["-2+3+cmd|' /C calc'!A0", "=1+1", "+1+cmd|' /C calc'!A0", "@SUM(1,2)", "\t=1+1", "\r=1+1"]


def _csrf(c: httpx.Client, cookie: dict[str, str]) -> str:
    html = c.get("/gradient/ui/", headers=cookie).text
    m = re.search(r'name="gradient-csrf" content="([0-9a-f]+)"', html)
    assert m, html[:500]
    return m.group(1)


def _dump_store(url: str) -> str:
    from sqlalchemy import create_engine, inspect, text

    eng = create_engine(url)
    out = []
    with eng.connect() as c:
        for table in inspect(eng).get_table_names():
            out += [json.dumps([str(v) for v in row]) for row in c.execute(text(f'SELECT * FROM "{table}"'))]
    eng.dispose()
    return "\n".join(out)


@pytest.fixture(scope="module")
def data(airflow_api: LiveServer) -> dict[str, Any]:
    """As admin: a project of the denied DAG (with a run and a recommendation), one of another DAG, one of
    no DAG. Returns their ids."""
    with airflow_api.client("admin") as c:
        out: dict[str, Any] = {}
        for key, app_id, dag in (("fin", f"{DENIED_DAG}.load", DENIED_DAG), ("sales", "sales_dag.load", "sales_dag"),
                                 ("orphan", "orphan.job", None)):
            r = c.post(f"{API}/projects", json={"app_id": app_id, "dag_id": dag, "task_id": "load",
                                                "baseline_cluster": {"node_type_id": "m5.xlarge", "num_workers": 2}})
            assert r.status_code == 200, r.text
            pid = out[key] = r.json()["id"]
            r = c.post(f"{API}/projects/{pid}/runs", json={
                "databricks_run_id": 500 + pid, "outcome": "success", "start_ms": 1_000, "end_ms": 601_000,
                "cluster_config": {"node_type_id": "m5.xlarge", "num_workers": 2}, "dag_id": dag,
                "task_id": "load", "airflow_run_id": "manual__1",
                "cost": {"cloud_usd": 1, "dbu_usd": 1, "storage_usd": 0, "total_usd": 2, "low_usd": 2, "high_usd": 2}})
            assert r.status_code == 200, r.text
            r = c.post(f"{API}/projects/{pid}/recommendations",
                       json={"cluster": {"node_type_id": "m5.large", "num_workers": 3}, "phase": "learning"})
            assert r.status_code == 200, r.text
            out[key + "_rec"] = r.json()["id"]
            out[key + "_run"] = 500 + pid
        return out


# ------------------------------------------------------------------------------ 1. writes need permission
def test_viewer_cannot_create_a_workspace(airflow_api: LiveServer) -> None:
    body = {"name": "viewer-ws", "host": "https://evil.example", "cloud": "aws", "plan_type": "Standard"}
    with airflow_api.client(None) as c:
        for who in ("viewer", "user", DENIED_USER):
            assert c.post(f"{API}/workspaces", json=body, headers=airflow_api.h(who)).status_code == 403, who
        cookie = {"Cookie": f"_token={airflow_api.tokens['viewer']}"}
        r = c.post(f"{API}/workspaces", json=body, headers={**cookie, "X-Gradient-CSRF": _csrf(c, cookie)})
        assert r.status_code == 403, r.text
        # nor through a project that names a new workspace (get-or-create)
        r = c.post(f"{API}/projects", headers=airflow_api.h("user"),
                   json={"app_id": "ws_dag.t", "dag_id": "ws_dag", "workspace": body})
        assert r.status_code == 403, r.text
        names = [w["name"] for w in c.get(f"{API}/workspaces", headers=airflow_api.h("admin")).json()]
        assert "viewer-ws" not in names
        r = c.post(f"{API}/workspaces", json={**body, "name": "admin-ws"}, headers=airflow_api.h("admin"))
        assert r.status_code == 200 and r.json()["plan_type"] == "Standard"
        # a DAG editor may still attach a project to an existing workspace
        r = c.post(f"{API}/projects", headers=airflow_api.h("user"),
                   json={"app_id": "ws_dag.t", "dag_id": "ws_dag", "workspace": {**body, "name": "admin-ws"}})
        assert r.status_code == 200 and r.json()["workspace"]["name"] == "admin-ws", r.text


# ------------------------------------------------------------------------------ 2. reads follow DAG permission
def test_airflow_itself_denies_the_dag(airflow_api: LiveServer) -> None:
    """The auth setup is real: Airflow's own API refuses the DAG to analyst and grants it to user."""
    assert httpx.get(f"{airflow_api.url}/api/v2/dags/{DENIED_DAG}", headers=airflow_api.h(DENIED_USER)).status_code == 403
    assert httpx.get(f"{airflow_api.url}/api/v2/dags/{DENIED_DAG}", headers=airflow_api.h("user")).status_code == 404


def test_reads_of_a_denied_dag_project_are_refused(airflow_api: LiveServer, data: dict[str, Any]) -> None:
    fin, rec, run = data["fin"], data["fin_rec"], data["fin_run"]
    paths = [f"{API}/projects/{fin}", f"{API}/projects/{fin}/runs", f"{API}/projects/{fin}/runs/{run}",
             f"{API}/projects/{fin}/settings", f"{API}/projects/{fin}/recommendations",
             f"{API}/projects/{fin}/recommendations/latest", f"{API}/projects/{DENIED_DAG}.load",
             f"{API}/projects:resolve?ref={DENIED_DAG}.load", f"{API}/recommendations/{rec}",
             f"/gradient/ui/projects/{fin}", f"/gradient/ui/ti?dag_id={DENIED_DAG}&task_id=load&run_id=manual__1",
             f"{API}/projects/{fin}/overview", f"{API}/projects/{fin}/roi",
             f"{API}/task-runs:find?dag_id={DENIED_DAG}&task_id=load&run_id=manual__1"]
    with airflow_api.client(DENIED_USER) as analyst, airflow_api.client("user") as user:
        for path in paths:
            r = analyst.get(path)
            assert r.status_code == 403, (path, r.status_code, r.text[:200])
            assert "m5.large" not in r.text and "manual__1" not in r.text
            assert user.get(path).status_code == 200, path
        # the project of another DAG stays readable
        assert analyst.get(f"{API}/projects/{data['sales']}/runs").status_code == 200


def test_lists_pages_csv_and_kpis_only_hold_readable_projects(airflow_api: LiveServer, data: dict[str, Any]) -> None:
    def seen(who: str) -> dict[str, Any]:
        with airflow_api.client(who) as c:
            api = {p["app_id"] for p in c.get(f"{API}/projects").json()}
            assert {p["app_id"] for p in c.get(f"{API}/projects:summaries").json()} == api  # the read model too
            page = c.get("/gradient/ui/")
            assert page.status_code == 200
            kpi = int(re.search(r'data-kpi="projects"><span class="v">(\d+)<', page.text).group(1))  # type: ignore[union-attr]
            rows = set(re.findall(r'data-project-id="(\d+)"', page.text))
            csv_ids = {row["id"] for row in csv.DictReader(io.StringIO(c.get("/gradient/ui/projects.csv").text, newline=""))}
            return {"api": api, "kpi": kpi, "rows": rows, "csv": csv_ids}

    fin, sales, orphan = (str(data[k]) for k in ("fin", "sales", "orphan"))
    admin, user, viewer, analyst = seen("admin"), seen("user"), seen("viewer"), seen(DENIED_USER)
    assert {fin, sales, orphan} <= admin["rows"] and {fin, sales, orphan} <= admin["csv"]
    for view, expect_fin in ((user, True), (viewer, True), (analyst, False)):
        assert (f"{DENIED_DAG}.load" in view["api"]) is expect_fin
        assert (fin in view["rows"]) is expect_fin and (fin in view["csv"]) is expect_fin
        assert sales in view["rows"] and "orphan.job" not in view["api"] and orphan not in view["csv"]
        assert view["kpi"] == len(view["rows"]) == len(view["csv"])
    assert analyst["kpi"] < user["kpi"] < admin["kpi"]


def test_projects_without_a_dag_are_for_administrators(airflow_api: LiveServer, data: dict[str, Any]) -> None:
    orphan = data["orphan"]
    for who, status in (("viewer", 403), ("user", 403), (DENIED_USER, 403), ("op", 200), ("admin", 200)):
        with airflow_api.client(who) as c:
            assert c.get(f"{API}/projects/{orphan}").status_code == status, who
            assert c.get(f"/gradient/ui/projects/{orphan}").status_code == status, who
    with airflow_api.client("user") as c:
        assert c.patch(f"{API}/projects/{orphan}/settings", json={"sla_minutes": 5}).status_code == 403
        assert c.post(f"{API}/projects", json={"app_id": "nodag.task"}).status_code == 403


def test_moving_a_project_needs_edit_on_both_dags(airflow_api: LiveServer, data: dict[str, Any]) -> None:
    with airflow_api.client(DENIED_USER) as c:
        r = c.patch(f"{API}/projects/{data['sales']}", json={"dag_id": DENIED_DAG})
        assert r.status_code == 403
    with airflow_api.client("admin") as c:
        assert c.get(f"{API}/projects/{data['sales']}").json()["dag_id"] == "sales_dag"


# ------------------------------------------------------------------------------ 3. Discover
class _Capture(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"jobs": [], "runs": []}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def capture() -> Iterator[tuple[str, int]]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "127.0.0.1", srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def connections(airflow_api: LiveServer, capture: tuple[str, int]) -> dict[str, Any]:
    """As admin, through Airflow's API: an http connection to the capture server, a Databricks connection
    and the allow-listed one (both to a closed port)."""
    host, port = capture
    closed = _closed_port()
    conns = [
        {"connection_id": "internal_http_api", "conn_type": "http", "host": host, "port": port, "schema": "http",
         "login": "svc", "password": "http-basic-secret"},
        {"connection_id": "databricks_private", "conn_type": "databricks", "host": "127.0.0.1", "port": closed,
         "schema": "http", "password": "dapi-private-token"},
        {"connection_id": SHARED_CONN, "conn_type": "databricks", "host": "127.0.0.1", "port": closed,
         "schema": "http", "password": "dapi-shared-token"},
    ]
    for conn in conns:
        r = httpx.post(f"{airflow_api.url}/api/v2/connections", json=conn, headers=airflow_api.h("admin"))
        assert r.status_code in (201, 409), r.text
    return {"closed": closed, "capture": port}


def test_discover_refuses_connections_the_user_may_not_use(
    airflow_api: LiveServer, connections: dict[str, Any]
) -> None:
    _Capture.hits.clear()
    with airflow_api.client("viewer") as viewer, airflow_api.client("admin") as admin:
        assert viewer.get(f"{airflow_api.url}/api/v2/connections/internal_http_api").status_code == 403
        for c in (viewer, admin):  # an http connection is never used, whoever asks
            for path in ("/gradient/ui/discover?conn_id=internal_http_api&refresh=1",
                         "/gradient/ui/discover.csv?conn_id=internal_http_api"):
                r = c.get(path)
                assert r.status_code == 403, (path, r.status_code)
                assert str(connections["capture"]) not in r.text and "http-basic-secret" not in r.text
        assert _Capture.hits == [], "the api-server called the http connection's host"
        # a Databricks connection the viewer may not read is refused too
        r = viewer.get("/gradient/ui/discover?conn_id=databricks_private&refresh=1")
        assert r.status_code == 403 and "databricks_private" not in re.findall(r'value="([^"]+)"', r.text)
        assert viewer.get("/gradient/ui/discover.csv?conn_id=databricks_private").status_code == 403
        # the page only offers the connections the user may use
        offered = set(re.findall(r'name="conn_id" value="([^"]+)"', viewer.get("/gradient/ui/discover").text))
        assert offered == {SHARED_CONN}
        offered = set(re.findall(r'name="conn_id" value="([^"]+)"', admin.get("/gradient/ui/discover").text))
        assert {SHARED_CONN, "databricks_private"} <= offered and "internal_http_api" not in offered


def test_discover_errors_do_not_show_connection_details(airflow_api: LiveServer, connections: dict[str, Any]) -> None:
    """The allow-listed connection may be scanned by a viewer; its failure names no host or port."""
    with airflow_api.client("viewer") as viewer, airflow_api.client("admin") as admin:
        for c, conn in ((viewer, SHARED_CONN), (admin, "databricks_private")):
            r = c.get(f"/gradient/ui/discover?conn_id={conn}&refresh=1")
            assert r.status_code == 200, r.text[:300]
            assert "not reachable" in r.text, r.text[:2000]
            assert str(connections["closed"]) not in r.text and "127.0.0.1" not in r.text
            assert "dapi-" not in r.text


# ------------------------------------------------------------------------------ 4. server CSV
def test_projects_csv_neutralises_formulas(airflow_api: LiveServer) -> None:
    with airflow_api.client("admin") as c:
        for i, name in enumerate(FORMULAS):
            r = c.post(f"{API}/projects", json={"app_id": f"csv_dag.t{i}", "dag_id": "csv_dag", "name": name})
            assert r.status_code == 200, r.text
        rows = {r["app_id"]: r["name"] for r in csv.DictReader(io.StringIO(c.get("/gradient/ui/projects.csv").text, newline=""))}
    for i, name in enumerate(FORMULAS):
        assert rows[f"csv_dag.t{i}"] == "'" + name, (name, rows[f"csv_dag.t{i}"])


# ------------------------------------------------------------------------------ 5. redaction
def test_secrets_recorded_through_the_api_are_redacted(airflow_api: LiveServer) -> None:
    with airflow_api.client("admin") as admin, airflow_api.client("viewer") as viewer:
        p = admin.post(f"{API}/projects", json={"app_id": "redact_dag.t", "dag_id": "redact_dag",
                                                "baseline_cluster": issue_cluster()})
        assert p.status_code == 200, p.text
        pid = p.json()["id"]
        r = admin.post(f"{API}/projects/{pid}/runs", json=issue_run(77))
        assert r.status_code == 200, r.text
        r = admin.post(f"{API}/projects/{pid}/recommendations", json={
            "cluster": {"num_workers": 3, "spark_env_vars": {"API_KEY": issue_secrets()[4]}}, "phase": "learning",
            "reason": f"copied from a run: Authorization: Bearer {issue_secrets()[8]}"})
        assert r.status_code == 200, r.text
        served = "\n".join(viewer.get(path).text for path in (
            f"{API}/projects/{pid}", f"{API}/projects/{pid}/runs", f"{API}/projects/{pid}/runs/77",
            f"{API}/projects/{pid}/recommendations", f"/gradient/ui/projects/{pid}"))
    stored = _dump_store(airflow_api.store_url)
    for secret in issue_secrets():
        assert secret not in served, secret
        assert secret not in stored, secret
    assert "*********(redacted)" in served and "8g" in served
