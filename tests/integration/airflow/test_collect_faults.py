"""Collection under faults: a late event log is recorded as incomplete (with the reason) without failing the
task, then completed by the GradientEventLogSensor once the log arrives -- same row, no duplicate; API
error bursts and missing cluster-event pages do not lose the run."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

DAG_SRC = '''
import pendulum
from airflow.sdk import DAG
from airflow_provider_gradient.operators.gradient import GradientDatabricksOperator
from airflow_provider_gradient.sensors.eventlog import GradientEventLogSensor

with DAG("it_gradient_late_log", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False):
    run = GradientDatabricksOperator(
        task_id="etl",
        new_cluster={"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2},
        notebook_task={"notebook_path": "/Shared/jobs/small_startup"},
        gradient_log_tries=1,
        polling_period_seconds=1,
        databricks_retry_limit=6,
        databricks_retry_delay=0.2,
    )
    record = GradientEventLogSensor(
        task_id="record",
        run_id="{{ ti.xcom_pull(task_ids='etl', key='run_id') }}",
        gradient_app_id="it_gradient_late_log.etl",
        poke_interval=1,
        timeout=120,
        mode="poke",
    )
    run >> record
'''


def test_late_log_recorded_incomplete_then_completed_by_sensor(
    dag_files: Any, emulator: Any, gradient_store: Any
) -> None:
    # the event log arrives 20 simulated minutes (2 s) after the run; clusters/events pages beyond the
    # first are missing; the first API calls get 503s
    emulator.set_faults(eventlog="late", eventlog_delay_s=1200, events_missing_pages=True,
                        error_burst=2, error_status=503, error_paths=["runs/get"])
    dag = dag_files.load("it_gradient_late_log", dag_files.write("it_gradient_late_log.py", DAG_SRC))
    assert dag.test().state == "success"

    project = gradient_store.get_project("it_gradient_late_log.etl")
    runs = gradient_store.list_runs(project.id)
    assert len(runs) == 1, runs  # recorded by the operator, completed in place by the sensor
    run = runs[0]
    assert run.log_status == "complete", (run.log_status, run.log_reason)
    assert run.cost is not None and run.cost.total_usd > 0
    assert run.metrics and run.metrics.get("input_bytes")


MISSING_SRC = DAG_SRC.replace("it_gradient_late_log", "it_gradient_no_log").replace(
    "gradient_log_tries=1", "gradient_log_tries=2, gradient_log_backoff_s=0.2"
).split("    record = ")[0]


def test_missing_log_is_recorded_with_reason(dag_files: Any, emulator: Any, gradient_store: Any) -> None:
    emulator.set_faults(eventlog="missing")
    dag = dag_files.load("it_gradient_no_log", dag_files.write("it_gradient_no_log.py", MISSING_SRC))
    assert dag.test().state == "success"
    project = gradient_store.get_project("it_gradient_no_log.etl")
    (run,) = gradient_store.list_runs(project.id)
    assert run.log_status == "missing", run
    assert "no event log found" in (run.log_reason or "") and "after 2 tries" in (run.log_reason or "")
    assert run.outcome == "success" and run.cost is not None and run.cost.total_usd > 0
