"""The Gradient pages served by the plugin's app (FastAPI TestClient, a real SQLite store seeded with
simulated runs): authentication on every route, numbers shown, escaping, CSRF and the actions.

Authenticated requests replace only the identity dependencies (a real SimpleAuthManager user); the
end-to-end login through Airflow is covered by tests/browser.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_users import as_admin
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from airflow_provider_gradient.core import roi as roi_mod
from airflow_provider_gradient.plugins.app import create_app
from airflow_provider_gradient.plugins.ui import auth
from airflow_provider_gradient.service import GradientService
from airflow_provider_gradient.service import summaries as summaries_mod
from airflow_provider_gradient.simulator.seed import (
    DEFAULT_PROJECTS,
    SeedProject,
    seed_default,
    seed_project,
)

XSS = "<script>alert(1)</script>"
RUNS = 12


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> GradientService:
    url = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'gradient.db'}"
    service = GradientService.from_url(url)
    seed_default(service, runs=RUNS)
    seed_project(service, SeedProject(XSS, "<img src=x onerror=alert(2)>", "t\"'&"), runs=5, run_id_base=9_000_000)
    return service


@pytest.fixture(scope="module")
def app(svc: GradientService) -> Any:
    return create_app(svc)


@pytest.fixture
def anon(app: Any) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(as_admin(app), follow_redirects=False) as c:
        c.cookies.set("_token", "session-jwt")
        yield c
    app.dependency_overrides.clear()


def _csrf(client: TestClient) -> str:
    m = re.search(r'name="gradient-csrf" content="([0-9a-f]+)"', client.get("/ui/").text)
    assert m, "the page carries the CSRF token"
    return m.group(1)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_requires_authentication(anon: TestClient, app: Any) -> None:
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    ui = [r for r in routes if r.path.startswith("/ui")]
    assert len(ui) >= 11  # projects, project, ti, discover, 2 CSV, static, 4 actions
    checked = 0
    for route in routes:
        for method in route.methods - {"HEAD", "OPTIONS"}:
            resp = anon.request(method, _concrete(route.path), json={})
            if route.path.startswith("/ui"):
                assert resp.status_code in (401, 307), f"{method} {route.path} -> {resp.status_code}"
            else:  # the REST API's CSRF guard may refuse an anonymous write (403) before authentication
                assert resp.status_code in (401, 403), f"{method} {route.path} -> {resp.status_code}"
            if resp.status_code == 307:
                assert route.path.startswith("/ui"), route.path
                assert "login" in resp.headers["location"]
            checked += 1
    assert checked >= len(routes)
    # HTML pages redirect to the login page and come back afterwards
    resp = anon.get("/ui/projects/1?x=1")
    assert resp.status_code == 307 and "next=" in resp.headers["location"]


def test_projects_page_kpis_and_rows(client: TestClient, svc: GradientService) -> None:
    html = client.get("/ui/").text
    rows = summaries_mod.summarize_project  # the page's own numbers, recomputed from the store
    projects = svc.list_projects()
    summaries = [rows(p, svc.list_runs(p.id, limit=None)) for p in projects]
    k = summaries_mod.kpis(summaries)
    assert f'data-kpi="projects"><span class="v">{len(projects)}<' in html
    assert f'data-kpi="runs"><span class="v">{k.runs}<' in html
    assert f"${k.total_cost_usd:,.2f}" in html
    # savings come from core.roi, summed by organisation_roi
    org = roi_mod.organisation_roi(roi_mod.project_roi(summaries_mod.to_roi_point(r) for r in svc.list_runs(p.id, limit=None))
                                   for p in projects)
    assert f"${org.savings_to_date_usd:,.2f}" in html
    assert html.count('data-project-id="') == len(projects)
    for spec in DEFAULT_PROJECTS:
        assert spec.app_id in html
    assert "optimizing" in html


def test_hostile_strings_are_rendered_as_text(client: TestClient, svc: GradientService) -> None:
    pid = svc.get_project(XSS).id
    for path in ("/ui/", f"/ui/projects/{pid}",
                 "/ui/ti?dag_id=%3Cimg%20src%3Dx%20onerror%3Dalert(2)%3E&task_id=t%22%27%26&run_id=run_0001"):
        html = client.get(path).text
        assert XSS not in html and "<img src=x" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
    csv_text = client.get("/ui/projects.csv").text
    assert XSS in csv_text  # CSV keeps the raw value (it is data, not HTML)


def test_project_page_charts_have_one_point_per_run(client: TestClient, svc: GradientService) -> None:
    p = svc.get_project(DEFAULT_PROJECTS[1].app_id)
    html = client.get(f"/ui/projects/{p.id}").text
    for chart in ("cost-chart", "runtime-chart"):
        block = html.split(f'id="{chart}"', 1)[1].split("</svg>", 1)[0]
        assert f'data-points="{RUNS}"' in html
        assert len(re.findall(r'class="pt( failed)?"', block)) == RUNS
    # one seeded failure (run index 3) is marked on both charts
    assert html.count('class="pt failed"') == 2
    assert "SLA 90 min" in html
    assert "roi-reason" in html and "correlat" in html.lower() or "cost change" in html


def test_csv_export(client: TestClient, svc: GradientService) -> None:
    resp = client.get("/ui/projects.csv")
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert {r["app_id"] for r in rows} == {p.app_id for p in svc.list_projects()}
    one = next(r for r in rows if r["app_id"] == DEFAULT_PROJECTS[0].app_id)
    runs = svc.list_runs(one["id"] and int(one["id"]), limit=None)
    assert int(one["runs"]) == len(runs)
    assert float(one["total_cost_usd"]) == pytest.approx(sum(r.cost.total_usd for r in runs if r.cost), abs=1e-3)


def test_writes_need_the_csrf_token_and_persist(client: TestClient, svc: GradientService) -> None:
    pid = svc.get_project(DEFAULT_PROJECTS[0].app_id).id
    url = f"/ui/actions/projects/{pid}/settings"
    assert client.post(url, json={"sla_minutes": 99}).status_code == 403
    assert client.post(url, content="sla_minutes=99", headers={
        "X-Gradient-CSRF": _csrf(client), "Content-Type": "application/x-www-form-urlencoded"}).status_code in (415, 422)
    assert client.post(url, json={"sla_minutes": 99}, headers={
        "X-Gradient-CSRF": _csrf(client), "Sec-Fetch-Site": "cross-site"}).status_code == 403
    ok = client.post(url, json={"sla_minutes": 99, "window_start": "01:00", "window_end": "05:00"},
                     headers={"X-Gradient-CSRF": _csrf(client)})
    assert ok.status_code == 200, ok.text
    assert svc.get_project(pid).settings.sla_minutes == 99
    assert "99 min" in client.get(f"/ui/projects/{pid}").text
    bad = client.post(url, json={"sla_minutes": -5}, headers={"X-Gradient-CSRF": _csrf(client)})
    assert bad.status_code == 422 and "SLA (minutes)" in bad.json()["detail"]


def test_project_page_says_an_applied_recommendation_whose_run_ran_out_of_memory(
    client: TestClient, svc: GradientService
) -> None:
    from airflow_provider_gradient.service import RecommendationIn, RunIn

    p = svc.get_or_create_project("oom.project", baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 4})
    ok = svc.store_recommendation(p.id, RecommendationIn(cluster={"node_type_id": "m5.xlarge", "num_workers": 3},
                                                         phase="learning"))
    svc.record_and_recommend(p.id, RunIn(databricks_run_id=8_100_001, outcome="success", start_ms=0, end_ms=60_000,
                                         recommendation_id=ok.id))
    small = svc.store_recommendation(p.id, RecommendationIn(cluster={"node_type_id": "m5.large", "num_workers": 2},
                                                            phase="learning"))
    svc.record_and_recommend(p.id, RunIn(databricks_run_id=8_100_002, outcome="oom", start_ms=100_000,
                                         end_ms=130_000, recommendation_id=small.id, failure_message="OOM"))
    html = client.get(f"/ui/projects/{p.id}").text
    history = html.split('id="rec-history"', 1)[1].split("</table>", 1)[0]
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(
        r'<td>(\d+)</td><td>[^<]*</td><td[^>]*>([^<]*)</td>', history)}
    assert rows[small.id] == "applied — run failed (oom)"
    assert rows[ok.id] == "applied"


def test_generate_apply_and_delete(client: TestClient, svc: GradientService) -> None:
    spec = SeedProject("tmp.project", "tmp", "project")
    pid = seed_project(svc, spec, runs=6, run_id_base=7_000_000).id
    h = {"X-Gradient-CSRF": _csrf(client)}
    gen = client.post(f"/ui/actions/projects/{pid}/generate", json={}, headers=h)
    assert gen.status_code == 200, gen.text
    rec_id = gen.json()["id"]
    assert svc.latest_recommendation(pid).id == rec_id  # type: ignore[union-attr]
    assert client.post(f"/ui/actions/projects/{pid}/apply", json={}, headers=h).json()["state"] == "applied"
    assert svc.get_recommendation(rec_id).state == "applied"
    assert client.post(f"/ui/actions/projects/{pid}/apply", json={}, headers=h).status_code == 409
    assert client.post(f"/ui/actions/projects/{pid}/delete", json={}, headers=h).status_code == 200
    assert svc.find_project(pid) is None
    assert client.get(f"/ui/projects/{pid}").status_code == 404


def test_task_instance_tab(client: TestClient, svc: GradientService) -> None:
    spec = DEFAULT_PROJECTS[0]
    html = client.get(f"/ui/ti?dag_id={spec.dag_id}&task_id={spec.task_id}&run_id=run_0007").text
    run = next(r for r in svc.list_runs(spec.app_id, limit=None) if r.airflow_run_id == "run_0007")
    assert f"{run.databricks_run_id} · success" in html
    assert f"${run.cost.total_usd:,.2f}" in html  # type: ignore[union-attr]
    assert f"{spec.node_type} × {spec.recommended_workers}" in html
    assert "Fewer workers" in html  # the applied recommendation's reason
    none = client.get("/ui/ti?dag_id=other&task_id=x&run_id=r").text
    assert 'id="ti-none"' in none


def test_task_instance_tab_says_the_recommendation_it_used_ran_out_of_memory(
    client: TestClient, svc: GradientService
) -> None:
    """The tab shows the same state label as the project page (``Recommendation.status``)."""
    from airflow_provider_gradient.service import RecommendationIn, RunIn

    p = svc.get_or_create_project("oom_dag.oom_task", dag_id="oom_dag", task_id="oom_task",
                                  baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 4})
    small = svc.store_recommendation(p.id, RecommendationIn(cluster={"node_type_id": "m5.large", "num_workers": 2},
                                                            phase="learning", reason="try fewer workers"))
    svc.record_and_recommend(p.id, RunIn(databricks_run_id=8_300_001, outcome="oom", start_ms=0, end_ms=30_000,
                                         recommendation_id=small.id, airflow_run_id="run_oom", try_number=1,
                                         failure_message="OOM"))
    html = client.get("/ui/ti?dag_id=oom_dag&task_id=oom_task&run_id=run_oom").text
    status = re.search(r'id="ti-rec-status">([^<]*)<', html)
    assert f"#{small.id} (learning" in html and status is not None, html
    assert status.group(1) == "applied — run failed (oom)"
    project_page = client.get(f"/ui/projects/{p.id}").text
    assert f"<td>{small.id}</td>" in project_page and status.group(1) in project_page


def test_static_files_are_local_and_pages_load_nothing_external(client: TestClient) -> None:
    assert client.get("/ui/static/gradient.js").status_code == 200
    assert client.get("/ui/static/../routes.py").status_code == 404
    html = client.get("/ui/").text + client.get("/ui/projects/1").text
    assert not re.search(r'(src|href)="(https?:)?//', html)
    static = Path(auth.__file__).parent / "static"
    for f in static.iterdir():
        assert "http://" not in f.read_text() and "https://" not in f.read_text(), f


def test_rest_latest_current_skips_an_applied_recommendation_whose_run_failed(
    client: TestClient, svc: GradientService
) -> None:
    from airflow_provider_gradient.service import RecommendationIn, RunIn

    p = svc.get_or_create_project("current.rest", baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 4})
    ok = svc.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": 3}, phase="learning"))
    svc.mark_applied(ok.id, 8_200_001)
    svc.record_run(p.id, RunIn(databricks_run_id=8_200_001, outcome="success", start_ms=0, end_ms=60_000))
    oom = svc.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": 1}, phase="learning"))
    svc.mark_applied(oom.id, 8_200_002)
    svc.record_run(p.id, RunIn(databricks_run_id=8_200_002, outcome="oom", start_ms=0, end_ms=60_000))
    url = f"/api/v1/projects/{p.id}/recommendations/latest"
    assert client.get(url, params={"state": "applied"}).json()["id"] == oom.id
    current = client.get(url, params={"state": "current"})
    assert current.status_code == 200 and current.json()["id"] == ok.id, current.text


def test_task_instance_tab_of_an_old_run_on_a_busy_project(client: TestClient, svc: GradientService) -> None:
    """The tab finds the task instance's run and the recommendation it used by the task-instance key in the
    store, however many recommendations came after it (it looked among the project's 200 newest), and
    picks the try (latest by default, ``try_number=`` for another)."""
    from airflow_provider_gradient.service import RecommendationIn, RunIn

    p = svc.get_or_create_project("busy_dag.busy_task", dag_id="busy_dag", task_id="busy_task",
                                  baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 8})
    used: dict[int, int] = {}
    for attempt, workers in ((1, 7), (2, 6)):
        rec = svc.store_recommendation(p.id, RecommendationIn(
            cluster={"node_type_id": "m5.xlarge", "num_workers": workers}, phase="learning",
            reason=f"old reason {workers} workers"))
        svc.record_and_recommend(p.id, RunIn(
            databricks_run_id=8_400_000 + attempt, outcome="success", start_ms=attempt * 1000,
            end_ms=attempt * 1000 + 60_000, recommendation_id=rec.id, dag_id="busy_dag", task_id="busy_task",
            airflow_run_id="scheduled__2026-01-01", try_number=attempt), recommend=False)
        used[attempt] = rec.id
    for i in range(205):  # a busy project: many newer recommendations
        svc.store_recommendation(p.id, RecommendationIn(cluster={"node_type_id": "m5.xlarge", "num_workers": 2 + i % 5},
                                                        phase="optimizing", reason=f"newer {i}"))
    assert len(svc.list_recommendations(p.id, limit=None)) > 200
    base = "/ui/ti?dag_id=busy_dag&task_id=busy_task&run_id=scheduled__2026-01-01"
    for query, attempt in (("", 2), ("&try_number=1", 1), ("&try_number=2", 2)):
        html = client.get(base + query).text
        run = re.search(r'id="ti-run">([^<]*)<', html)
        assert run is not None and run.group(1) == f"{8_400_000 + attempt} · success", html
        rec = re.search(r'id="ti-rec">(.*?)</dd>', html, re.S)
        assert rec is not None and f"#{used[attempt]} (learning" in rec.group(1), rec
        assert f"old reason {8 - attempt} workers" in rec.group(1) and "applied" in rec.group(1), rec.group(1)
    found = client.get("/api/v1/task-runs:find", params={"dag_id": "busy_dag", "task_id": "busy_task",
                                                         "run_id": "scheduled__2026-01-01", "try_number": 1})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["run"]["try_number"] == 1 and body["recommendation"]["id"] == used[1], body


def test_task_instance_tab_of_a_mapped_task_shows_its_own_map_index(client: TestClient, svc: GradientService) -> None:
    """Each mapped instance of a DAG run has its own Databricks run: the tab (Airflow fills ``{MAP_INDEX}``)
    shows that one; the literal ``{MAP_INDEX}`` Airflow leaves in an unmapped task's link is ignored."""
    from airflow_provider_gradient.service import RecommendationIn, RunIn

    p = svc.get_or_create_project("mapped_dag.load", dag_id="mapped_dag", task_id="load",
                                  baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 8})
    recs = {}
    for index in (0, 1, 2):
        rec = svc.store_recommendation(p.id, RecommendationIn(
            cluster={"node_type_id": "m5.xlarge", "num_workers": 3 + index}, phase="learning",
            reason=f"map {index}"))
        svc.record_and_recommend(p.id, RunIn(
            databricks_run_id=8_500_000 + index, outcome="success", start_ms=1000 * (3 - index),
            end_ms=60_000, recommendation_id=rec.id, dag_id="mapped_dag", task_id="load",
            airflow_run_id="manual__m", try_number=1, map_index=index), recommend=False)
        recs[index] = rec.id
    base = "/ui/ti?dag_id=mapped_dag&task_id=load&run_id=manual__m"
    for index in (0, 1, 2):
        html = client.get(f"{base}&map_index={index}").text
        run = re.search(r'id="ti-run">([^<]*)<', html)
        assert run is not None and run.group(1) == f"{8_500_000 + index} · success", html
        assert f"#{recs[index]} (learning" in html and f"map {index}" in html
    literal = client.get(base + "&map_index={MAP_INDEX}")
    assert literal.status_code == 200 and re.search(r'id="ti-run">85000', literal.text), literal.text
    found = client.get("/api/v1/task-runs:find", params={"dag_id": "mapped_dag", "task_id": "load",
                                                         "run_id": "manual__m", "map_index": 1}).json()
    assert found["run"]["map_index"] == 1 and found["recommendation"]["id"] == recs[1], found
