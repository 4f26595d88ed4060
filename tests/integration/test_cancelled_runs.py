"""A run that was cancelled (by a user, or by Airflow killing / timing out the task, which cancels the
Databricks run) says nothing about the cluster it ran on: the next run keeps using that recommendation, the
pages and the CLI label it ``run cancelled`` (never ``run failed``), and ``--state current`` exports it.
A run that ran out of memory is still skipped. Driven as the loop does: ``projects:choose-cluster`` then
``runs:record`` through the plugin's FastAPI app, then the project page, the task-instance tab and the CLI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from app_users import as_admin
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from airflow_provider_gradient.cli import app as cli_app
from airflow_provider_gradient.plugins.app import create_app
from airflow_provider_gradient.service import GradientService

pytestmark = pytest.mark.sqlite_only
API = "/api/v1"
BASELINE = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 8}


@pytest.fixture
def client(svc: GradientService) -> Iterator[TestClient]:
    app = as_admin(create_app(svc))
    with TestClient(app, headers={"Authorization": "Bearer test"}) as c:
        yield c


def _choose(c: TestClient, app_id: str) -> dict[str, Any]:
    dag, task = app_id.split(".")
    r = c.post(f"{API}/projects:choose-cluster", json={"project": {
        "app_id": app_id, "dag_id": dag, "task_id": task, "baseline_cluster": BASELINE,
        "settings": {"auto_apply": False}}})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _run_with(c: TestClient, svc: GradientService, app_id: str, workers: int, run_id: int, outcome: str) -> int:
    """A user approves a recommendation (Apply); the task's next run uses it and ends with ``outcome``."""
    pid = svc.get_project(app_id).id
    rec = svc.store_recommendation(pid, {"cluster": {**BASELINE, "num_workers": workers}, "phase": "learning",
                                         "reason": f"{workers} workers"})
    assert c.post(f"{API}/recommendations/{rec.id}/apply").status_code == 200
    chosen = _choose(c, app_id)
    assert chosen["recommendation"]["id"] == rec.id, chosen
    dag, task = app_id.split(".")
    r = c.post(f"{API}/projects/{pid}/runs:record", params={"recommend": "false"}, json={
        "databricks_run_id": run_id, "outcome": outcome, "start_ms": run_id * 1000, "end_ms": run_id * 1000 + 30_000,
        "cluster_config": {**BASELINE, "num_workers": workers}, "recommendation_id": rec.id,
        "dag_id": dag, "task_id": task, "airflow_run_id": f"manual__{run_id}", "try_number": 1,
        "failure_message": "Run cancelled." if outcome == "cancelled" else "java.lang.OutOfMemoryError"})
    assert r.status_code == 200, r.text
    return rec.id


def _cli(svc: GradientService, *args: str) -> Any:
    return CliRunner().invoke(cli_app, [*args, "--store-url", svc.url], env={"COLUMNS": "200"})


def test_a_cancelled_run_keeps_its_cluster_current(client: TestClient, svc: GradientService) -> None:
    app_id = "cancel_dag.load"
    _choose(client, app_id)
    good = _run_with(client, svc, app_id, 6, 101, "success")
    cancelled = _run_with(client, svc, app_id, 4, 102, "cancelled")

    chosen = _choose(client, app_id)  # the apply step of the next run
    assert chosen["recommendation"]["id"] == cancelled, chosen
    assert "not reused" not in chosen["note"] and "fail" not in chosen["note"], chosen["note"]
    assert good != cancelled

    pid = chosen["project"]["id"]
    page = client.get(f"/ui/projects/{pid}").text
    row = re.search(rf"<td>{cancelled}</td>.*?</tr>", page, re.S)
    assert row is not None and "run cancelled" in row.group(0) and "run failed" not in row.group(0), page
    tab = client.get("/ui/ti?dag_id=cancel_dag&task_id=load&run_id=manual__102").text
    status = re.search(r'id="ti-rec-status">([^<]*)<', tab)
    assert status is not None and status.group(1) == "applied — run cancelled", tab

    current = _cli(svc, "recommendations", "latest", app_id, "--json")
    assert current.exit_code == 0 and json.loads(current.stdout)["id"] == cancelled, current.output
    assert "skipped" not in current.stderr, current.stderr
    listed = _cli(svc, "recommendations", "list", app_id)
    assert "applied - run cancelled" in listed.stdout and "run failed" not in listed.stdout, listed.stdout


def test_an_out_of_memory_run_is_still_skipped(client: TestClient, svc: GradientService) -> None:
    app_id = "oom_dag.load"
    _choose(client, app_id)
    good = _run_with(client, svc, app_id, 6, 201, "success")
    _run_with(client, svc, app_id, 4, 202, "cancelled")  # a cancel in between changes nothing
    oom = _run_with(client, svc, app_id, 2, 203, "oom")
    chosen = _choose(client, app_id)
    assert chosen["recommendation"]["id"] != oom, chosen
    assert f"recommendation {oom} not reused: the run that used it failed (oom)" in chosen["note"], chosen["note"]
    # the one applied before the OOM run whose run did not fail: the cancelled one (it says nothing of its cluster)
    assert chosen["recommendation"]["reason"] == "4 workers" and good != chosen["recommendation"]["id"], chosen


@pytest.mark.parametrize(("outcomes", "says"), [
    (["success", "cancelled", "cancelled", "success", "cancelled"], None),
    (["success", "failed", "cancelled", "failed", "success"], "2 of the last 5 runs failed (other)."),
])
def test_cancelled_runs_are_not_failing_runs(
    client: TestClient, svc: GradientService, outcomes: list[str], says: str | None
) -> None:
    """The projects page's *failing runs* badge counts runs that failed, not runs that were cancelled."""
    p = svc.get_or_create_project("badge_dag.load", dag_id="badge_dag", task_id="load", baseline_cluster=BASELINE)
    for i, outcome in enumerate(outcomes):
        r = client.post(f"{API}/projects/{p.id}/runs:record", params={"recommend": "false"}, json={
            "databricks_run_id": 300 + i, "outcome": outcome, "start_ms": 1000 * i, "end_ms": 1000 * i + 600,
            "cluster_config": BASELINE})
        assert r.status_code == 200, r.text
    (row,) = [s for s in client.get(f"{API}/projects:summaries").json() if s["id"] == p.id]
    failing = [i["message"] for i in row["insights"] if i["code"] == "failing_runs"]
    assert failing == ([] if says is None else [says]), row["insights"]
    assert all("cancel" not in i["message"] or "fail" not in i["message"] for i in row["insights"]), row["insights"]
