"""The pages' read model is a service use case: the in-process service and the HTTP client (through the
plugin's REST API) return the same summaries, overview, ROI and task run, and the pages rendered over either
are the same HTML."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from app_users import as_admin
from fastapi.testclient import TestClient

from airflow_provider_gradient.hooks.http_client import GradientHttpClient
from airflow_provider_gradient.plugins.app import create_app
from airflow_provider_gradient.service import GradientService, NotFoundError
from airflow_provider_gradient.service.summaries import ProjectSummary, TaskRun
from airflow_provider_gradient.simulator.seed import SeedProject, seed_default, seed_project

NOW = int(time.time() * 1000)


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> GradientService:
    service = GradientService.from_url(f"sqlite:///{tmp_path_factory.mktemp('read') / 'gradient.db'}")
    seed_default(service, runs=8)
    seed_project(service, SeedProject("quiet.task", "quiet", "task"), runs=0, run_id_base=5_000_000)
    return service


@pytest.fixture(scope="module")
def api(svc: GradientService) -> Iterator[TestClient]:
    """The plugin's app over the local service (the api-server)."""
    with TestClient(as_admin(create_app(svc))) as c:
        c.cookies.set("_token", "session-jwt")
        yield c


@pytest.fixture(scope="module")
def http(api: TestClient) -> Iterator[GradientHttpClient]:
    """The HTTP client of a worker, its requests served by the app above."""

    def forward(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode().removeprefix("/gradient")
        resp = api.request(request.method, path, content=request.content, headers=dict(request.headers))
        return httpx.Response(resp.status_code, headers=resp.headers, content=resp.content)

    client = GradientHttpClient("http://gradient.test", token="tok", transport=httpx.MockTransport(forward))
    yield client
    client.close()


def test_summaries_are_the_same_over_http(svc: GradientService, http: GradientHttpClient) -> None:
    local = svc.project_summaries(now_ms=NOW)
    remote = http.project_summaries(now_ms=NOW)
    assert len(local) == 4 and all(isinstance(s, ProjectSummary) for s in remote)
    assert remote == local
    assert any(s.roi.status == "ok" and s.roi.savings_to_date_usd > 0 for s in remote)
    assert {i.code for s in remote for i in s.insights} == {i.code for s in local for i in s.insights}


def test_overview_roi_and_task_run_are_the_same_over_http(svc: GradientService, http: GradientHttpClient) -> None:
    project = svc.get_project("nightly_etl.transform")
    local, remote = svc.project_overview(project.id, now_ms=NOW), http.project_overview(project.id, now_ms=NOW)
    assert remote == local and len(remote.runs) == 8 and remote.recommendations
    assert remote.summary.roi == svc.project_roi(project.id) == http.project_roi("nightly_etl.transform")
    found = http.find_task_run("nightly_etl", "transform", "run_0005")
    assert found == svc.find_task_run("nightly_etl", "transform", "run_0005")
    assert found.project is not None and found.run is not None and found.run.airflow_run_id == "run_0005"
    assert http.find_task_run("nightly_etl", "transform", "no_such_run").run is None
    assert http.find_task_run("no_dag", "t", "r").project is None
    with pytest.raises(NotFoundError):
        http.project_overview(987654)


@pytest.mark.parametrize("page", ["/ui/", "/ui/projects.csv", "/ui/projects/{pid}",
                                  "/ui/ti?dag_id=nightly_etl&task_id=transform&run_id=run_0005"])
def test_pages_over_the_http_client_are_the_pages_of_the_local_service(
    svc: GradientService, http: GradientHttpClient, api: TestClient, page: str
) -> None:
    path = page.format(pid=svc.get_project("nightly_etl.transform").id)
    with TestClient(as_admin(create_app(http))) as remote:
        remote.cookies.set("_token", "session-jwt")
        over_http = remote.get(path)
    local = api.get(path)
    assert local.status_code == over_http.status_code == 200
    assert "nightly_etl.transform" in local.text
    assert over_http.text == local.text


def test_every_cluster_of_a_multi_cluster_task_is_found_the_same_over_http(
    svc: GradientService, http: GradientHttpClient
) -> None:
    """A task with two clusters has two projects (``<app id>.<key>``): both are found, each with its key and its
    run, in local and http mode; ``cluster_key`` picks one."""
    from airflow_provider_gradient.service import RunIn

    runs = {}
    for i, key in enumerate(("shared", "report")):
        p = svc.get_or_create_project(f"multi.pipeline.{key}", dag_id="multi", task_id="pipeline")
        runs[key] = svc.record_run(p.id, RunIn(databricks_run_id=7_100_000, outcome="success", start_ms=NOW,
                                               end_ms=NOW + 60_000 * (i + 1), airflow_run_id="manual__1",
                                               task_key=key, try_number=1))
    found = http.find_task_run("multi", "pipeline", "manual__1")
    assert found == svc.find_task_run("multi", "pipeline", "manual__1")
    assert [(c.cluster_key, c.run.id if c.run else None) for c in found.clusters] == [
        ("shared", runs["shared"].id), ("report", runs["report"].id)]
    assert (found.project, found.run) == (found.clusters[0].project, found.clusters[0].run)
    one = http.find_task_run("multi", "pipeline", "manual__1", cluster_key="report")
    assert one == svc.find_task_run("multi", "pipeline", "manual__1", cluster_key="report")
    assert [c.cluster_key for c in one.clusters] == ["report"] and one.run == runs["report"]
    assert http.find_task_run("multi", "pipeline", "manual__1", cluster_key="nope") == svc.find_task_run(
        "multi", "pipeline", "manual__1", cluster_key="nope") == TaskRun()
