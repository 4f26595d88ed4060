"""Collectors against the emulator and its moto (no Airflow DAG run): cluster events over all pages, event
log parts of the right Spark context, EC2 instances/volumes by ClusterId tag, one run collected end to end."""

from __future__ import annotations

import copy
import json
import re
import time
from typing import Any

import pytest

from airflow_provider_gradient.hooks.collectors.cloud import AwsClusterCollector
from airflow_provider_gradient.hooks.collectors.databricks import (
    GradientDatabricksHook,
    cluster_ids_of_run,
    eventlog_files,
)
from airflow_provider_gradient.hooks.collectors.run import CollectOptions, collect_run, eventlog_status

PAYLOAD = {
    "run_name": "collect",
    "new_cluster": {
        "spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 3,
        "custom_tags": {"team": "it"}, "cluster_log_conf": {"dbfs": {"destination": "dbfs:/cluster-logs/it"}},
        "aws_attributes": {"ebs_volume_count": 1, "ebs_volume_size": 100},
    },
    "notebook_task": {"notebook_path": "/Shared/jobs/small_startup"},
}


@pytest.fixture(scope="module")
def finished_run(emulator: Any) -> dict[str, Any]:
    emulator.set_faults(reset=True)
    run_id = emulator.request("POST", "/api/2.2/jobs/runs/submit", PAYLOAD)["run_id"]
    run = emulator.wait_run(run_id, timeout=120)
    return run


def test_pure_helpers() -> None:
    run = {"run_id": 1, "state": {}, "tasks": [
        {"task_key": "a", "job_cluster_key": "shared", "cluster_instance": {"cluster_id": "c1", "spark_context_id": "7"},
         "start_time": 10, "end_time": 20},
        {"task_key": "b", "job_cluster_key": "shared", "cluster_instance": {"cluster_id": "c1"}, "start_time": 20, "end_time": 35},
        {"task_key": "c", "cluster_instance": {"cluster_id": "c2"}, "start_time": 5, "end_time": 9},
        {"task_key": "d", "existing_cluster_id": "x", "cluster_instance": {"cluster_id": "x"}},
    ]}
    ids = cluster_ids_of_run(run, single=False)
    assert set(ids) == {"job_clusters/shared", "tasks/c"}
    assert ids["job_clusters/shared"]["task_keys"] == ["a", "b"] and ids["job_clusters/shared"]["end_ms"] == 35
    files = [
        {"path": "dbfs:/l/c1/eventlog/c1_10_0_0_1/111/eventlog", "modification_time": 5},
        {"path": "dbfs:/l/c1/eventlog/c1_10_0_0_1/222/eventlog-2024-01-01--10-00.gz", "modification_time": 7},
        {"path": "dbfs:/l/c1/eventlog/c1_10_0_0_1/222/eventlog", "modification_time": 9},
        {"path": "dbfs:/l/c1/eventlog/c1_10_0_0_1/222/other.txt", "modification_time": 9},
    ]
    assert [f["path"].rsplit("/", 2)[1:] for f in eventlog_files(files, "222")] == [
        ["222", "eventlog-2024-01-01--10-00.gz"], ["222", "eventlog"]]
    assert [f["path"].rsplit("/", 2)[1] for f in eventlog_files(files, None)] == ["222", "222"]  # newest context


def test_cluster_events_all_pages(emulator: Any, finished_run: dict[str, Any]) -> None:
    hook = GradientDatabricksHook("databricks_default")
    cid = finished_run["cluster_instance"]["cluster_id"]
    one_page = list(hook.iter_cluster_events(cid, page_size=500))
    paged = list(hook.iter_cluster_events(cid, page_size=2))
    assert len(one_page) >= 4 and paged == one_page
    assert {"CREATING", "RUNNING", "TERMINATING"} <= {e["type"] for e in paged}


def test_aws_instances_and_volumes_by_cluster_tag(emulator: Any, finished_run: dict[str, Any]) -> None:
    import boto3

    if not emulator.aws_endpoint:
        pytest.skip("emulator without moto")
    ec2 = boto3.client("ec2", endpoint_url=emulator.aws_endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    cid = finished_run["cluster_instance"]["cluster_id"]
    deadline = time.monotonic() + 20  # the emulator terminates the EC2 side asynchronously
    while True:
        emulator.state.tick()
        instances, volumes = AwsClusterCollector(client=ec2).collect(cid)
        if (instances and all(i.end_ms for i in instances)) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(instances) >= 4  # driver + 3 workers (more if the run resized)
    assert [i.role for i in instances].count("driver") == 1
    assert all(i.instance_type == "m5.xlarge" and i.start_ms > 0 for i in instances)
    assert all(i.end_ms is not None and i.end_ms >= i.start_ms for i in instances)  # terminated with the run
    # one 100 GB EBS volume per node, found although detached from the terminated instances
    assert len(volumes) == len(instances) and all(v.size_gb == 100 and v.start_ms > 0 for v in volumes)
    assert AwsClusterCollector(client=ec2).collect("no-such-cluster") == ((), ())


def test_collect_run_end_to_end(emulator: Any, finished_run: dict[str, Any]) -> None:
    hook = GradientDatabricksHook("databricks_default")
    assert eventlog_status(hook, finished_run["run_id"]) == (True, "")
    out = collect_run(hook, finished_run["run_id"], PAYLOAD, opts=CollectOptions(log_tries=3, log_backoff_s=0.2))
    assert set(out) == {"new_cluster"}
    run = out["new_cluster"]
    assert run.state.result_state == "SUCCESS" and run.end_ms > run.start_ms
    assert run.log_status == "complete" and run.summary is not None and run.summary.complete
    assert run.cluster is not None and len(run.cluster.events) >= 4
    assert run.cluster.spark_context_id == finished_run["cluster_instance"]["spark_context_id"]


def _counting_http_client(svc: Any) -> tuple[Any, list[str]]:
    """An http-mode client of the plugin's API over ``svc`` (in-process, mounted at /gradient as Airflow's
    api-server does) and the list of requests it sends."""
    import httpx
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_provider_gradient.hooks.http_client import GradientHttpClient
    from airflow_provider_gradient.plugins.app import create_app

    app = create_app(svc)
    app.dependency_overrides[get_user] = lambda: object()
    api_server = FastAPI()
    api_server.mount("/gradient", app)
    inner = TestClient(api_server)._transport
    sent: list[str] = []

    class Counting(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(f"{request.method} {request.url.path}")
            return inner.handle_request(request)

    return GradientHttpClient("http://testserver", token="test", transport=Counting()), sent


def test_http_mode_applies_a_cluster_in_one_request(tmp_path: Any) -> None:
    """The apply step of one cluster in http mode: one REST request (get-or-create the project and choose the
    recommendation its next run uses) -- it took 3 (create, latest applied, latest ready)."""
    from types import SimpleNamespace

    from airflow_provider_gradient.operators.steps import guarded_apply
    from airflow_provider_gradient.service import GradientService, RecommendationIn

    svc = GradientService.from_url(f"sqlite:///{tmp_path / 'gradient.db'}")
    project = svc.get_or_create_project("it_http_apply.etl", settings={"auto_apply": True}, dag_id="it_http_apply")
    ready = svc.store_recommendation(project.id, RecommendationIn(
        cluster={"node_type_id": "r5.xlarge", "num_workers": 5}, phase="learning"))
    http, sent = _counting_http_client(svc)
    task = SimpleNamespace(dag_id="it_http_apply", task_id="etl", params={}, json=copy.deepcopy(PAYLOAD),
                           new_cluster=None, tasks=None)
    state = guarded_apply(task, {}, client_factory=lambda _t: http)

    assert sent == ["POST /gradient/api/v1/projects:choose-cluster"], sent
    assert state.fail_open_reason is None and state.clusters["new_cluster"].recommendation_id == ready.id
    cluster = task.json["new_cluster"]
    assert (cluster["node_type_id"], cluster["num_workers"]) == ("r5.xlarge", 5)
    assert cluster["custom_tags"]["gradient:recommendation-id"] == str(ready.id)
    assert cluster["custom_tags"]["team"] == "it" and cluster["cluster_log_conf"] == PAYLOAD["new_cluster"]["cluster_log_conf"]


def test_http_mode_records_a_cluster_in_one_request(
    emulator: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record step of a cluster Gradient prepared, in http mode: one REST request (record the run, mark
    the recommendation it used applied to it, recommend the next one) -- it took 3, plus 2 for the alerts."""
    from types import SimpleNamespace

    from airflow_provider_gradient.core.cluster_merge import gradient_tags
    from airflow_provider_gradient.operators.steps import safe_record
    from airflow_provider_gradient.service import GradientService, RecommendationIn

    monkeypatch.setenv("AIRFLOW__GRADIENT__PENDING_DIR", str(tmp_path / "pending"))
    monkeypatch.setenv("AIRFLOW__GRADIENT__PLAN_TYPE", "Premium")  # the worker's plan
    svc = GradientService.from_url(f"sqlite:///{tmp_path / 'gradient.db'}")
    # the project's own plan (what its recommendations are estimated at) is another one
    project = svc.get_or_create_project("it_http_count.etl", settings={"auto_apply": True}, dag_id="it_http_count",
                                        plan_type="Standard")
    used = svc.store_recommendation(project.id, RecommendationIn(cluster={"num_workers": 3}, phase="learning"))
    # the cluster as the apply step submits it: Gradient's tags name the project and the recommendation
    payload = copy.deepcopy(PAYLOAD)
    payload["new_cluster"]["custom_tags"].update(gradient_tags(project.id, project.app_id, used.id))
    emulator.set_faults(reset=True)
    run_id = emulator.request("POST", "/api/2.2/jobs/runs/submit", payload)["run_id"]
    emulator.wait_run(run_id, timeout=120)

    http, sent = _counting_http_client(svc)
    task = SimpleNamespace(
        dag_id="it_http_count", task_id="etl", params={}, json=payload, new_cluster=None, tasks=None,
        databricks_conn_id="databricks_default", databricks_retry_limit=3, databricks_retry_delay=1,
        gradient_conn_id=None, gradient_aws_conn_id=None, gradient_log_tries=4, gradient_log_backoff_s=0.2,
    )
    (result,) = safe_record(task, {"run_id": "manual__1"}, run_id, client=http)

    assert sent == [f"POST /gradient/api/v1/projects/{project.id}/runs:record"], sent
    assert result.error is None and result.run is not None and result.run.databricks_run_id == run_id
    stored = svc.get_run(project.id, run_id)
    assert stored.recommendation_id == used.id and stored.log_status == "complete" and stored.cost is not None
    # priced at the project's plan in that one request (its DBUs at Standard's $/DBU), as its recommendations are
    assert stored.pricing is not None and stored.pricing.plan_type == "Standard", stored.pricing
    assert "the worker priced it at Premium" in (stored.pricing.note or ""), stored.pricing
    assert result.cost_usd == stored.cost.total_usd
    applied = svc.get_recommendation(used.id)
    assert applied.state == "applied" and applied.applied_to_run == run_id
    nxt = svc.latest_recommendation(project.id, state="ready")
    assert nxt is not None and result.next_recommendation_id == nxt.id != used.id
    assert result.project is not None and result.project.last_run_ms is not None

    # the record step again (a retried task's listener / sensor: its next try), in http and in local mode:
    # the first outcome, no second recommendation, the used one not marked applied again
    retry_ctx = {"run_id": "manual__1", "ti": SimpleNamespace(try_number=2, run_id="manual__1", map_index=3)}
    for client in (http, svc):
        (again,) = safe_record(task, retry_ctx, run_id, client=client)
        assert again.error is None and again.next_recommendation_id == nxt.id, again
    assert svc.get_recommendation(used.id) == applied
    assert [r.id for r in svc.list_recommendations(project.id)] == [nxt.id, used.id]
    assert svc.get_run(project.id, run_id).try_number == 2 and svc.get_run(project.id, run_id).map_index == 3


def test_a_run_databricks_timed_out_is_recorded_as_timeout(
    emulator: Any, finished_run: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task stopped at its ``timeout_seconds`` (emulated as Databricks does: result state ``TIMEDOUT``, the
    cluster and its event log end there) is stored as ``timeout`` -- it was stored as ``failed`` -- and the
    project page and ``gradient runs list`` say so."""
    from types import SimpleNamespace

    from app_users import as_admin
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from airflow_provider_gradient.cli import app as cli_app
    from airflow_provider_gradient.operators.steps import safe_record
    from airflow_provider_gradient.plugins.app import create_app
    from airflow_provider_gradient.service import GradientService

    monkeypatch.setenv("AIRFLOW__GRADIENT__PENDING_DIR", str(tmp_path / "pending"))
    svc = GradientService.from_url(f"sqlite:///{tmp_path / 'gradient.db'}")
    # a minute: the emulator's cluster start-up alone takes longer (several minutes), so this run always times out
    limit_s = 60
    assert finished_run["setup_duration"] > 2 * limit_s * 1000
    payload = {**copy.deepcopy(PAYLOAD), "run_name": "timeout", "timeout_seconds": limit_s}
    emulator.set_faults(reset=True)
    run_id = emulator.request("POST", "/api/2.2/jobs/runs/submit", payload)["run_id"]
    run = emulator.wait_run(run_id, timeout=120)
    assert run["state"]["result_state"] == "TIMEDOUT" and run["state"]["user_cancelled_or_timedout"], run["state"]
    assert run["status"]["termination_details"]["code"] == "CANCELED"  # stopped by the platform, not a user

    task = SimpleNamespace(
        dag_id="it_timeout", task_id="etl", params={}, json=payload, new_cluster=None, tasks=None,
        databricks_conn_id="databricks_default", databricks_retry_limit=3, databricks_retry_delay=1,
        gradient_conn_id=None, gradient_aws_conn_id=None, gradient_log_tries=3, gradient_log_backoff_s=0.2,
    )
    (result,) = safe_record(task, {"run_id": "manual__t"}, run_id, client=svc)
    assert result.error is None and result.run is not None, result
    stored = svc.get_run(result.run.project_id, run_id)
    assert stored.outcome == "timeout", stored.outcome
    assert stored.failure_message and f"timed out after {limit_s} seconds" in stored.failure_message
    assert stored.end_ms is not None and stored.start_ms is not None
    assert stored.end_ms - stored.start_ms < finished_run["end_time"] - finished_run["start_time"]

    with TestClient(as_admin(create_app(svc)), headers={"Authorization": "Bearer test"}) as c:
        page = c.get(f"/ui/projects/{stored.project_id}").text
    row = re.search(rf"<td>{run_id}</td>.*?</tr>", page, re.S)
    assert row is not None and ">timeout<" in row.group(0), page
    listed = CliRunner().invoke(cli_app, ["runs", "list", "it_timeout.etl", "--json", "--store-url", svc.url])
    assert listed.exit_code == 0, listed.output
    assert [r["outcome"] for r in json.loads(listed.stdout)] == ["timeout"], listed.stdout
