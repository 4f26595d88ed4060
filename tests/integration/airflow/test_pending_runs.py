"""Issue 15, item 9, end to end: a run that could not be recorded (optimiser hung) is queued durably and
recorded later -- by ``gradient runs sync`` and by the DAG's next recorded run -- exactly once."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.slow

APP_ID = "it_pending.etl"
@pytest.fixture
def hung_optimiser() -> Iterator[str]:
    """An http-mode gradient connection to a server that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    yield json.dumps({"conn_type": "gradient", "host": "127.0.0.1", "port": port, "schema": "http",
                      "password": "token", "extra": {"mode": "http", "timeout": 30, "retries": 0}})
    sock.close()


def _dag_run(dag: Any, capfd: pytest.CaptureFixture[str]) -> str:
    capfd.readouterr()
    dag.test()
    return "".join(capfd.readouterr())


def test_unrecorded_run_is_queued_and_recorded_later_once(
    one_task_dag: Any, gradient_store: Any, hung_optimiser: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow_provider_gradient.cli import app as cli
    from airflow_provider_gradient.operators.steps import pending_runs, remember

    svc = gradient_store
    queue = tmp_path / "pending"
    monkeypatch.setenv("AIRFLOW__GRADIENT__PENDING_DIR", str(queue))
    dag = one_task_dag("it_pending", {"node_type_id": "m5.xlarge", "num_workers": 2,
                                      "cluster_log_conf": {"dbfs": {"destination": "dbfs:/cluster-logs/it_pending"}}},
                       gradient_auto_apply=False, gradient_log_tries=4, gradient_log_backoff_s=0.3)

    # 1. the optimiser hangs: the task still succeeds, the run is not recorded but queued with its log place
    monkeypatch.setenv("AIRFLOW_CONN_GRADIENT_DEFAULT", hung_optimiser)
    log = _dag_run(dag, capfd)
    assert "not recorded" in log and "queued for recording later" in log
    queued = pending_runs(queue)
    assert len(queued) == 1
    first = queued[0]
    assert first.app_id == APP_ID and first.dag_id == "it_pending" and first.task_id == "etl"
    assert first.log_destinations and first.log_destinations == ("dbfs:/cluster-logs/it_pending",)
    assert svc.find_project(APP_ID) is None or not svc.list_runs(APP_ID)

    # 2. `gradient runs sync` records it (store reachable again), and forgets it
    monkeypatch.delenv("AIRFLOW_CONN_GRADIENT_DEFAULT")
    out = CliRunner().invoke(cli, ["runs", "sync", "--json", "--store-url", str(svc.url)])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout[out.stdout.index("[\n  {"):])
    assert [(r["databricks_run_id"], r["recorded"]) for r in rows] == [(first.databricks_run_id, True)]
    assert pending_runs(queue) == []
    runs = svc.list_runs(APP_ID)
    assert [r.databricks_run_id for r in runs] == [first.databricks_run_id]
    assert runs[0].cost is not None and runs[0].cost.total_usd > 0 and runs[0].log_status == "complete", runs[0].log_reason
    assert runs[0].dag_id == "it_pending" and runs[0].task_id == "etl"

    # idempotent: the same run synced again is stored once
    remember(first, queue)
    out = CliRunner().invoke(cli, ["runs", "sync", "--store-url", str(svc.url)])
    assert out.exit_code == 0, out.output
    assert [r.databricks_run_id for r in svc.list_runs(APP_ID)] == [first.databricks_run_id]

    # 3. hung again -> queued; the DAG's next run (optimiser back) records its own run and the queued one
    monkeypatch.setenv("AIRFLOW_CONN_GRADIENT_DEFAULT", hung_optimiser)
    _dag_run(dag, capfd)
    (second,) = pending_runs(queue)
    monkeypatch.delenv("AIRFLOW_CONN_GRADIENT_DEFAULT")
    log = _dag_run(dag, capfd)
    assert f"recorded queued Databricks run {second.databricks_run_id}" in log
    assert pending_runs(queue) == []
    ids = [r.databricks_run_id for r in svc.list_runs(APP_ID, limit=None)]
    assert len(ids) == len(set(ids)) == 3 and second.databricks_run_id in ids


def test_sync_keeps_what_still_fails(tmp_path: Path, gradient_store: Any) -> None:
    """A queued run Databricks does not know stays queued with the reason and one more attempt (exit 1)."""
    from airflow_provider_gradient.cli import app as cli
    from airflow_provider_gradient.operators.steps import PendingRun, pending_runs, remember

    queue = tmp_path / "q"
    remember(PendingRun(databricks_run_id=987654321, app_id="nope.task", dag_id="nope", task_id="task"), queue)
    out = CliRunner().invoke(cli, ["runs", "sync", "--pending-dir", str(queue), "--store-url", str(gradient_store.url)])
    assert out.exit_code == 1, out.output
    (left,) = pending_runs(queue)
    assert left.attempts == 1 and left.last_error


SENSOR_DAG = '''
import pendulum
from airflow.sdk import DAG
from airflow_provider_gradient.sensors.eventlog import GradientEventLogSensor

with DAG("it_pending_sensor", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False):
    GradientEventLogSensor(task_id="record", run_id="{{ params.run_id }}", params={"run_id": 0},
                           gradient_app_id="it_pending_sensor.etl", poke_interval=1, timeout=60)
'''


def test_sensor_records_its_run_and_the_queue(
    dag_files: Any, emulator: Any, gradient_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two runs queued (their tasks could not record them); the sensor records its run and the other one."""
    from airflow_provider_gradient.operators.steps import PendingRun, pending_runs, remember

    queue = tmp_path / "pending"
    monkeypatch.setenv("AIRFLOW__GRADIENT__PENDING_DIR", str(queue))
    payload = {"run_name": "queued", "notebook_task": {"notebook_path": "/Shared/jobs/small_startup"},
               "new_cluster": {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2,
                               "cluster_log_conf": {"dbfs": {"destination": "dbfs:/cluster-logs/it_sensor"}}}}
    ids = [int(emulator.request("POST", "/api/2.2/jobs/runs/submit", payload)["run_id"]) for _ in range(2)]
    for rid in ids:
        emulator.wait_run(rid, timeout=120)
        remember(PendingRun(databricks_run_id=rid, app_id="it_pending_sensor.etl", dag_id="other_dag",
                            task_id="etl", log_destinations=("dbfs:/cluster-logs/it_sensor",)), queue)
    dag = dag_files.load("it_pending_sensor", dag_files.write("it_pending_sensor.py", SENSOR_DAG))
    dag.test(run_conf={"run_id": ids[0]})
    assert pending_runs(queue) == []
    runs = gradient_store.list_runs("it_pending_sensor.etl", limit=None)
    assert sorted(r.databricks_run_id for r in runs) == sorted(ids)
    assert all(r.cost is not None and r.cost.total_usd > 0 for r in runs)
