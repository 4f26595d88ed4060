"""Faults injected in the emulator while a real DAG runs (dag.test(), accelerated time): latency, 429/503
bursts, dropped connections, missing clusters/events pages, AWS (moto) throttling, late / partial / missing
event logs. The Databricks task still runs and succeeds; collection retries then records the run as
incomplete/missing with the reason; a downstream GradientEventLogSensor completes the same row later
(never a duplicate). A broken Gradient store never breaks the user's task (pre_execute, record, listener).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gradient.service import GradientService

pytestmark = pytest.mark.slow

DAG = '''
import pendulum
from airflow.sdk import DAG
from airflow_provider_gradient.operators.gradient import GradientDatabricksOperator
from airflow_provider_gradient.sensors.eventlog import GradientEventLogSensor

with DAG("{dag_id}", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False):
    job = GradientDatabricksOperator(
        task_id="job",
        new_cluster={{"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2,
                     "custom_tags": {{"emulator_profile": "small_startup"}}}},
        notebook_task={{"notebook_path": "/Shared/jobs/small_startup"}},
        gradient_aws_conn_id="aws_default",
        gradient_log_tries=2,
        gradient_log_backoff_s=0.2,
        polling_period_seconds=1,
        databricks_retry_delay=0.2,
        databricks_retry_limit=6,
    )
    {sensor}
'''
SENSOR = '''job >> PythonOperator(task_id="status_before_sensor", python_callable=_log_statuses) >> GradientEventLogSensor(
        task_id="record_later", run_id="{{ ti.xcom_pull(task_ids='job', key='run_id') }}",
        poke_interval=1, timeout=90, mode="poke")'''
STATUS_FN = '''
from airflow.providers.standard.operators.python import PythonOperator


def _log_statuses():
    """What the operator recorded, read from the store before the sensor runs."""
    from airflow_provider_gradient.hooks.gradient import local_service

    svc = local_service()
    return [[r.log_status, r.log_reason] for p in svc.list_projects() for r in svc.list_runs(p.id, limit=None)]
'''


@pytest.fixture
def store(airflow_home: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from airflow.configuration import conf

    url = f"sqlite:///{tmp_path / 'gradient.db'}"
    monkeypatch.setenv("AIRFLOW__GRADIENT__STORE_URL", url)
    monkeypatch.delenv("AIRFLOW_CONN_GRADIENT_DEFAULT", raising=False)
    old = conf.get("gradient", "store_url", fallback="")
    conf.set("gradient", "store_url", url)
    yield url
    conf.set("gradient", "store_url", old or "")


def _run(dag_files: Any, dag_id: str, sensor: bool) -> Any:
    source = DAG.format(dag_id=dag_id, sensor=SENSOR if sensor else "")
    if sensor:
        source = source.replace("\nwith DAG(", STATUS_FN + "\n\nwith DAG(", 1)
    path = dag_files.write(f"{dag_id}.py", source)
    dag = dag_files.load(dag_id, path)
    dag_run = dag.test()
    return dag_run


def _xcom(dag_id: str, task_id: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (session.query(XComModel).filter(XComModel.dag_id == dag_id, XComModel.task_id == task_id,
                                               XComModel.key == "return_value")
               .order_by(XComModel.timestamp.desc()).first())
        assert row is not None, f"no XCom from {task_id}"
        value = row.value
        return json.loads(value) if isinstance(value, str) else value


def _task_states(dag_run: Any) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances(session=session)}


SCENARIOS = {
    # API faults on every call the collector makes + late log: recorded incomplete/missing, completed later
    "api_faults_late_log": dict(latency_ms=40, error_status=503, error_burst=2,
                                error_paths=["clusters/events", "clusters/get"], drop_connections=1,
                                events_missing_pages=True, aws_throttle=5, eventlog="late",
                                eventlog_delay_s=15000),
    "429_partial_log": dict(error_status=429, error_burst=2, error_paths=["clusters/events"],
                            eventlog="partial", events_empty=True),
    "missing_log": dict(eventlog="missing", latency_ms=20),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_faults_task_succeeds_run_recorded_with_reason(
    scenario: str, dag_files: Any, no_faults: Any, store: str
) -> None:
    emu = no_faults
    emu.set_faults(reset=True, **SCENARIOS[scenario])
    sensor = scenario == "api_faults_late_log"
    dag_id = f"faults_{scenario}"
    before = len([s for s in emu.submissions() if s["path"].endswith("/runs/submit")])
    dag_run = _run(dag_files, dag_id, sensor)
    states = _task_states(dag_run)
    assert states["job"].endswith("success"), states  # the user's Databricks task is never broken
    submits = [s for s in emu.submissions() if s["path"].endswith("/runs/submit")]
    assert len(submits) == before + 1, "the Databricks run was not submitted exactly once"

    svc = GradientService.from_url(store)
    projects = svc.list_projects()
    assert [p.app_id for p in projects] == [f"{dag_id}.job"]
    runs = svc.list_runs(projects[0].id, limit=None)
    assert len(runs) == 1, f"{len(runs)} rows for one Databricks run"
    run = runs[0]
    assert run.outcome == "success" and run.cost is not None and run.cost.total_usd > 0
    if sensor:
        # the operator gave up (incomplete/missing); the sensor waited for the late log and completed the row
        assert states["record_later"].endswith("success"), states
        first = _xcom(dag_id, "status_before_sensor")
        assert len(first) == 1 and first[0][0] in ("incomplete", "missing") and first[0][1], first
        assert run.log_status == "complete" and run.log_reason is None, (run.log_status, run.log_reason)
        assert run.metrics and run.metrics.get("tasks", 0) > 0
    elif scenario == "missing_log":
        assert run.log_status == "missing" and run.log_reason, run
    else:
        assert run.metrics is None or run.metrics.get("complete") is not True  # the log really is cut short
        assert run.log_status in ("incomplete", "missing") and run.log_reason, (run.log_status, run.log_reason)
    emu.set_faults(reset=True)


def test_broken_gradient_store_never_breaks_the_task(
    dag_files: Any, no_faults: Any, monkeypatch: pytest.MonkeyPatch, airflow_home: dict[str, Any]
) -> None:
    """Store unreachable (PostgreSQL port closed): apply and record fail open, the Databricks run goes ahead."""
    from airflow.configuration import conf

    dead = "postgresql+psycopg://gradient@127.0.0.1:9/gradient?connect_timeout=1"
    monkeypatch.setenv("AIRFLOW__GRADIENT__STORE_URL", dead)
    monkeypatch.delenv("AIRFLOW_CONN_GRADIENT_DEFAULT", raising=False)
    old = conf.get("gradient", "store_url", fallback="")
    conf.set("gradient", "store_url", dead)
    try:
        emu = no_faults
        before = len(emu.submissions())
        dag_run = _run(dag_files, "faults_dead_store", sensor=False)
    finally:
        conf.set("gradient", "store_url", old or "")
    assert _task_states(dag_run)["job"].endswith("success")
    submits = [s for s in emu.submissions()[before:] if s["path"].endswith("/runs/submit")]
    assert len(submits) == 1
    # the original cluster went out unchanged (no recommendation could be read)
    assert submits[0]["body"]["new_cluster"]["num_workers"] in (2, "2")
