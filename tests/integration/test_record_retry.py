"""The loop's record step retried end to end: the REST route ``runs:record`` through the plugin's app, and a
worker's HTTP client whose request reached the server but whose answer was lost (a read timeout, a gateway
504): the transport retries, and the retry answers the first call's outcome -- one next recommendation, the
used one marked applied once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from airflow_provider_gradient.service import GradientService, RecommendationIn, RunIn

BASELINE = {"node_type_id": "m5.xlarge", "num_workers": 2}


@pytest.fixture
def api(svc: GradientService) -> Iterator[TestClient]:
    """The plugin's app mounted like the api-server mounts it (``/gradient``), as an authenticated user."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI

    from airflow_provider_gradient.plugins.app import create_app

    app = create_app(svc)
    app.dependency_overrides[get_user] = lambda: object()
    server = FastAPI()
    server.mount("/gradient", app)
    with TestClient(server, headers={"Authorization": "Bearer test"}) as c:
        yield c


def _project_and_run(svc: GradientService) -> tuple[int, int, dict[str, Any]]:
    p = svc.get_or_create_project("etl.load", baseline_cluster=BASELINE)
    used = svc.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": 3}, phase="learning"))
    run = {"databricks_run_id": 88, "outcome": "success", "start_ms": 0, "end_ms": 600_000,
           "recommendation_id": used.id, "cluster_config": {**BASELINE, "num_workers": 3},
           "cost": {"total_usd": 1.2}}
    return p.id, used.id, run


def test_rest_record_retried_answers_the_first_outcome(api: TestClient, svc: GradientService) -> None:
    pid, used, run = _project_and_run(svc)
    first = api.post("/gradient/api/v1/projects/etl.load/runs:record", json=run)
    again = api.post("/gradient/api/v1/projects/etl.load/runs:record", json=run)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    a, b = first.json(), again.json()
    assert a["recommendation"]["id"] == b["recommendation"]["id"] and a["recommendation"] == b["recommendation"]
    assert a["applied"] == b["applied"] and a["applied"]["id"] == used and a["applied"]["applied_to_run"] == 88
    assert [(r.id, r.state) for r in svc.list_recommendations(pid)] == [(a["recommendation"]["id"], "ready"),
                                                                         (used, "applied")]


@pytest.mark.parametrize("lost", ["read timeout", "gateway 504"])
def test_http_retry_after_a_lost_answer_answers_the_first_outcome(
    api: TestClient, svc: GradientService, lost: str
) -> None:
    """http mode: the first ``runs:record`` is served, then its answer is lost; the client's transport retries."""
    from airflow_provider_gradient.hooks.http_client import GradientHttpClient

    pid, used, run = _project_and_run(svc)
    inner = api._transport
    served: list[dict[str, Any]] = []

    class LosesFirstAnswer(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            resp = inner.handle_request(request)
            if not request.url.path.endswith("/runs:record"):
                return resp
            resp.read()
            served.append(resp.json())
            if len(served) > 1:
                return resp
            if lost == "read timeout":
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(504, text="upstream timed out", request=request)

    client = GradientHttpClient("http://testserver", token="test", retries=2, backoff_initial=0.001,
                                backoff_max=0.01, transport=LosesFirstAnswer())
    out = client.record_and_recommend(pid, RunIn.model_validate(run))
    assert len(served) == 2  # the lost answer, then the retry's
    assert out.recommendation is not None and out.recommendation.id == served[0]["recommendation"]["id"]
    assert out.applied is not None and out.applied.model_dump(mode="json") == served[0]["applied"]
    assert [(r.id, r.state) for r in svc.list_recommendations(pid)] == [(out.recommendation.id, "ready"),
                                                                         (used, "applied")]
    assert svc.get_run(pid, 88).next_recommendation_id == out.recommendation.id
