"""The closed loop through Airflow: dag.test() against the emulator (accelerated time, moto for AWS).

Operator form: 6 runs on one profile with auto-apply on -- each run recorded once with cost > 0, the
cluster submitted on run k+1 is recommendation k (checked on what the emulator received), the OOM run
is recorded as failed with its cost. Multi-task payload: one project per cluster.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gradient.core.cluster_merge import cluster_fields
from airflow_provider_gradient.core.payload import TAG_PROJECT_ID, TAG_RECOMMENDATION_ID

pytestmark = pytest.mark.slow

LOOP_DAG = '''
import pendulum
from airflow.sdk import DAG
from airflow_provider_gradient.operators.gradient import GradientDatabricksOperator

with DAG("it_gradient_loop", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False):
    GradientDatabricksOperator(
        task_id="agg",
        # c5 nodes are too small for this workload: the first run dies with OutOfMemoryError
        new_cluster={"spark_version": "15.4.x-scala2.12", "node_type_id": "c5.xlarge", "num_workers": 4,
                     "custom_tags": {"team": "it"}},
        notebook_task={"notebook_path": "/Shared/jobs/memory_agg"},
        gradient_sla_minutes=120,
        gradient_auto_apply=True,
        gradient_aws_conn_id="aws_default",
        gradient_log_tries=6,
        gradient_log_backoff_s=0.5,
        polling_period_seconds=1,
    )
'''


def _norm(value: Any) -> Any:
    """normalise_json_content sends every scalar as a string: compare on that footing."""
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _xcom(dag_id: str, task_id: str, key: str) -> list[Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_id, task_id=task_id, key=key).all()
        return [XComModel.deserialize_value(r) for r in rows]


def test_operator_six_runs_apply_record_recommend(
    dag_files: Any, emulator: Any, submits: Any, gradient_store: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    dag = dag_files.load("it_gradient_loop", dag_files.write("it_gradient_loop.py", LOOP_DAG))
    before = len(submits())
    for _ in range(6):
        dag.test()
    bodies = submits()[before:]
    assert len(bodies) == 6

    svc = gradient_store
    project = svc.get_project("it_gradient_loop.agg")
    assert project.settings.sla_minutes == 120 and project.settings.auto_apply
    runs = sorted(svc.list_runs(project.id), key=lambda r: r.databricks_run_id)
    assert len(runs) == 6, [r.databricks_run_id for r in runs]
    assert len({r.databricks_run_id for r in runs}) == 6
    for run in runs:
        assert run.cost is not None and run.cost.total_usd > 0, run
        assert run.log_status == "complete", (run.databricks_run_id, run.log_reason)

    # run 1 used the user's cluster; it ran out of memory and is recorded as failed, with its cost
    first = bodies[0]["new_cluster"]
    assert first["node_type_id"] == "c5.xlarge" and first["custom_tags"][TAG_RECOMMENDATION_ID] == "none"
    assert first["custom_tags"]["team"] == "it" and first["custom_tags"][TAG_PROJECT_ID] == str(project.id)
    assert runs[0].outcome == "oom" and runs[0].recommendation_id is None
    assert runs[0].cost is not None and runs[0].cost.total_usd > 0

    # run k+1 was submitted with recommendation k (the one generated right after run k)
    recs = sorted(svc.list_recommendations(project.id, limit=None), key=lambda r: r.id)
    for k in range(1, 6):
        rec = recs[k - 1]
        assert runs[k].recommendation_id == rec.id
        submitted = bodies[k]["new_cluster"]
        for key, value in rec.cluster.items():
            if key == "custom_tags":
                continue
            assert _norm(submitted.get(key)) == _norm(value), (k, key, submitted, rec.cluster)
        assert "autoscale" not in submitted or "num_workers" not in submitted
        assert submitted["custom_tags"][TAG_RECOMMENDATION_ID] == str(rec.id)
        assert submitted["custom_tags"]["team"] == "it"
        assert submitted["cluster_log_conf"] == {"dbfs": {"destination": f"dbfs:/cluster-logs/gradient/{project.id}"}}
    # a configuration that ran out of memory is never submitted again
    oom_shapes = []
    for k in range(6):
        shape = _norm(cluster_fields(bodies[k]["new_cluster"]))
        assert shape not in oom_shapes, (k, shape)
        if runs[k].outcome == "oom":
            oom_shapes.append(shape)
    assert [r.state for r in recs[:5]] == ["applied"] * 5 and recs[-1].state == "ready"

    # secrets (Databricks token, AWS secret key) are nowhere in the store, the task logs or XComs
    db = Path(str(gradient_store.url).split("sqlite:///", 1)[1])
    store_bytes = b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    assert b"it_gradient_loop.agg" in store_bytes  # the scan does see the store's content
    logs = "".join(capfd.readouterr())
    xcoms = repr([_xcom("it_gradient_loop", "agg", k) for k in ("gradient_project_id", "gradient_recommendation_id")])
    for secret in (emulator.token, "test-secret-key"):
        assert secret.encode() not in store_bytes
        assert secret not in logs and secret not in xcoms

    costs = _xcom("it_gradient_loop", "agg", "gradient_run_cost_usd")
    assert costs and all(c > 0 for c in costs)
    assert set(_xcom("it_gradient_loop", "agg", "gradient_project_id")) == {project.id}


def test_multi_task_payload_one_project_per_cluster(
    dag_files: Any, submits: Any, gradient_store: Any, api: Any
) -> None:
    """One project per cluster, each recorded; the task instance's Gradient tab and ``task-runs:find`` show
    every one of them, labelled by its cluster key (the tab showed only the first)."""
    dag = dag_files.load("example_gradient_multi_task", dag_files.home["dags"] / "example_gradient_multi_task.py")
    before = len(submits())
    dag_run = dag.test()
    bodies = submits()[before:]
    assert len(bodies) == 1
    body = bodies[0]
    svc = gradient_store
    shared = svc.get_project("example_gradient_multi_task.pipeline.shared")
    report = svc.get_project("example_gradient_multi_task.pipeline.report")
    assert {p.app_id for p in svc.list_projects()} == {shared.app_id, report.app_id}
    assert body["job_clusters"][0]["new_cluster"]["custom_tags"][TAG_PROJECT_ID] == str(shared.id)
    by_key = {t["task_key"]: t for t in body["tasks"]}
    assert by_key["report"]["new_cluster"]["custom_tags"][TAG_PROJECT_ID] == str(report.id)
    assert "new_cluster" not in by_key["extract"]  # tasks on the shared cluster stay as written
    for project in (shared, report):
        runs = svc.list_runs(project.id)
        assert len(runs) == 1 and runs[0].cost is not None and runs[0].cost.total_usd > 0
        assert svc.latest_recommendation(project.id) is not None
    shared_run = svc.list_runs(shared.id)[0]
    assert set((shared_run.task_key or "").split(",")) == {"extract", "transform"}

    # the task instance's tab: one section per cluster, each labelled by its key, with its own run and cost
    query = {"dag_id": "example_gradient_multi_task", "task_id": "pipeline", "run_id": dag_run.run_id}
    tab = api.get("/ui/ti", params={**query, "map_index": "-1"})
    assert tab.status_code == 200, tab.text
    sections = dict(re.findall(r'<section class="card ti-cluster"[^>]*data-cluster-key="([^"]+)">(.*?)</section>',
                               tab.text, re.S))
    assert set(sections) == {"shared", "report"}, tab.text
    for key, project in (("shared", shared), ("report", report)):
        run = svc.list_runs(project.id)[0]
        html = sections[key]
        assert f"Cluster <code>{key}</code>" in html and f"({project.app_id})" in html
        assert f"/projects/{project.id}\"" in html
        assert f"{run.databricks_run_id} · {run.outcome}" in html
        assert f"${run.cost.total_usd:,.2f}" in html  # type: ignore[union-attr]
    assert "(tasks extract, transform)" in sections["shared"]

    # the REST API: every cluster (the first one's on top), or the one a cluster key names
    found = api.get("/api/v1/task-runs:find", params=query).json()
    by_key = {c["cluster_key"]: c for c in found["clusters"]}
    assert set(by_key) == {"shared", "report"}
    assert found["project"] == found["clusters"][0]["project"] and found["run"] == found["clusters"][0]["run"]
    for key, project in (("shared", shared), ("report", report)):
        assert by_key[key]["project"]["id"] == project.id
        assert by_key[key]["run"]["databricks_run_id"] == svc.list_runs(project.id)[0].databricks_run_id
        one = api.get("/api/v1/task-runs:find", params={**query, "cluster_key": key}).json()
        assert [c["project"]["id"] for c in one["clusters"]] == [project.id] and one["project"]["id"] == project.id
    assert api.get("/api/v1/task-runs:find", params={**query, "cluster_key": "nope"}).json()["clusters"] == []
