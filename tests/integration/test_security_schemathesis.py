"""schemathesis against the REST API's own OpenAPI document (the app in-process, authenticated user):
positive and negative cases for every operation -> never a 5xx; every 4xx carries a ``detail`` message."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation import GenerationMode

from airflow_provider_gradient.service import GradientService, RunIn


def _app() -> Any:
    from airflow.api_fastapi.core_api.security import get_user

    from airflow_provider_gradient.plugins.app import create_app

    tmp = Path(tempfile.mkdtemp(prefix="gradient-schemathesis-"))
    svc = GradientService.from_url(f"sqlite:///{tmp / 'gradient.db'}")
    # something to find: ids 1 and app id "fuzz_dag.task" exist, with a run and a recommendation
    p = svc.get_or_create_project("fuzz_dag.task", dag_id="fuzz_dag",
                                  baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 2})
    svc.record_run(p.id, RunIn(databricks_run_id=1, outcome="success", start_ms=0, end_ms=600_000,
                               cluster_config={"node_type_id": "m5.xlarge", "num_workers": 2}))
    svc.generate_recommendation(p.id)
    app = create_app(svc, include_ui=False)
    app.dependency_overrides[get_user] = lambda: object()
    return app


APP = _app()
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP, headers={"Authorization": "Bearer test"})
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=12,
                                deterministic=True)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=12, derandomize=True)
def test_api_never_500_and_4xx_have_a_message(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": "Bearer test"})
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body, dict) and body.get("detail"), (response.status_code, response.text[:300])


def test_schema_covers_the_api() -> None:
    ops = [op.ok() for op in schema.get_all_operations()]
    assert len(ops) >= 20
    assert any(op.path == "/api/v1/projects/{ref}/runs" and op.method.upper() == "POST" for op in ops)


@pytest.mark.parametrize("body", [
    b"{not json", b"[]", b'{"app_id": ""}', b'{"app_id": "' + b"a" * 600 + b'"}', b'{"app_id": null}',
    b'{"app_id": "x", "settings": {"sla_minutes": -1}}', b'{"app_id": "x", "unknown": 1}',
    "{\"app_id\": \"\u00e9\\ud800\"}".encode(),
])
def test_hand_written_invalid_bodies_are_422_with_detail(body: bytes) -> None:
    from fastapi.testclient import TestClient

    with TestClient(APP) as c:
        r = c.post("/api/v1/projects", content=body,
                   headers={"Authorization": "Bearer test", "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.json().get("detail")
