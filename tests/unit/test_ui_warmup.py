"""The projects-page cache is warmed in the background when the plugin's app starts, so the first request
is served from it; the fast read path gives the same summaries as the service's full ``Run`` objects."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from airflow_provider_gradient.plugins.app import create_app
from airflow_provider_gradient.plugins.ui import auth, data
from airflow_provider_gradient.service import GradientService, read_model
from airflow_provider_gradient.service.summaries import summarize_project
from airflow_provider_gradient.simulator.seed import seed_default


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> GradientService:
    service = GradientService.from_url(f"sqlite:///{tmp_path_factory.mktemp('warm') / 'gradient.db'}")
    seed_default(service, runs=8)
    return service


def _cached_ids(svc: GradientService) -> set[int]:
    url = str(svc.url)
    return read_model.cached_projects(url)


def _wait_warm(before: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while data.stats["warmups"] == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert data.stats["warmups"] > before, "the warm-up finished"


def test_cache_filled_after_app_start_and_first_request_does_not_recompute(svc: GradientService) -> None:
    read_model.forget_summaries()
    app = create_app(svc)
    app.dependency_overrides[auth.page_user] = lambda: None
    ids = {p.id for p in svc.list_projects()}
    assert _cached_ids(svc) == set()
    before = data.stats["warmups"]
    with TestClient(app) as client:
        _wait_warm(before)
        assert _cached_ids(svc) == ids
        computed = read_model.stats["computed"]
        resp = client.get("/ui/")
        assert resp.status_code == 200
        assert read_model.stats["computed"] == computed, "served from the warmed cache"
        # incremental invalidation still works: one new run -> only that project is recomputed
        pid = min(ids)
        svc.record_run(
            pid, {"databricks_run_id": 77_000_001, "outcome": "success", "start_ms": 1, "end_ms": 2}
        )
        assert client.get("/ui/").status_code == 200
        assert read_model.stats["computed"] == computed + 1


def test_warmup_never_raises() -> None:
    def broken() -> Any:
        raise RuntimeError("store unreachable")

    before = data.stats["warmups"]
    thread = data.start_warmup(broken)
    thread.join(10)
    assert not thread.is_alive() and thread.daemon
    assert data.stats["warmups"] == before


def test_fast_summaries_equal_the_service_objects(svc: GradientService) -> None:
    read_model.forget_summaries()
    now = int(time.time() * 1000)
    fast = {row.id: row for row in svc.project_summaries(now_ms=now)}
    for p in svc.list_projects():
        runs = svc.list_runs(p.id, limit=None)
        slow = summarize_project(p, runs, svc.latest_recommendation(p.id, state=None), now_ms=now)
        assert len(runs) > 0
        assert dataclasses.asdict(fast[p.id]) == dataclasses.asdict(slow)


def test_api_server_hook_builds_app_and_warms(svc: GradientService) -> None:
    from airflow_provider_gradient.plugins.app import LazyApp
    from airflow_provider_gradient.plugins.ui import warmup

    assert warmup.start_in_api_server(LazyApp(), argv=["airflow", "scheduler"]) is None
    lazy = LazyApp()
    lazy._app = create_app(svc)  # the app the api-server would build from [gradient] store_url
    read_model.forget_summaries()
    before = data.stats["warmups"]
    thread = warmup.start_in_api_server(lazy, argv=["airflow", "api-server", "--port", "8080"])
    assert thread is not None and thread.daemon
    thread.join(30)
    assert data.stats["warmups"] == before + 1
    assert _cached_ids(svc) == {p.id for p in svc.list_projects()}
