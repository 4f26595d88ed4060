"""Unmodified DatabricksSubmitRunOperator against the emulator via dag.test(), sync and deferrable."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gradient.core.eventlog import parse_event_log

DAG_SOURCE = '''
from datetime import datetime

from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.sdk import DAG

with DAG("emulator_submit_{mode}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    DatabricksSubmitRunOperator(
        task_id="submit",
        deferrable={deferrable},
        polling_period_seconds=1,
        json={{
            "run_name": "emulator-{mode}",
            "new_cluster": {{
                "spark_version": "15.4.x-scala2.12",
                "node_type_id": "m5.xlarge",
                "num_workers": 2,
                "custom_tags": {{"emulator_profile": "small_startup", "team": "it"}},
                "cluster_log_conf": {{"dbfs": {{"destination": "dbfs:/cluster-logs"}}}},
            }},
            "notebook_task": {{"notebook_path": "/Repos/it/small_startup"}},
        }},
    )
'''


def _wait_eventlog(emu: Any, cluster_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        emu.state.tick()
        sim = emu.simulation(cluster_id)
        if sim["eventlog_written"] or time.monotonic() > deadline:
            return sim
        time.sleep(0.1)


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_submit_run_operator_runs_against_emulator(dag_files: Any, no_faults: Any, deferrable: bool) -> None:
    emu = no_faults
    mode = "deferrable" if deferrable else "sync"
    path = dag_files.write(f"emulator_submit_{mode}.py", DAG_SOURCE.format(mode=mode, deferrable=deferrable))
    dag = dag_files.load(f"emulator_submit_{mode}", path)
    before = len(emu.submissions())
    dag_run = dag.test()
    assert str(dag_run.state) in ("success", "DagRunState.SUCCESS"), dag_run.state

    submits = [s for s in emu.submissions()[before:] if s["path"].endswith("/runs/submit")]
    assert len(submits) == 1
    assert submits[0]["body"]["new_cluster"]["node_type_id"] == "m5.xlarge"
    run_id = max(r for r, run in emu.state.runs.items() if run["run_name"] == f"emulator-{mode}")
    run = emu.request("GET", f"/api/2.2/jobs/runs/get?run_id={run_id}")
    assert run["state"]["result_state"] == "SUCCESS"
    cluster_id = run["cluster_instance"]["cluster_id"]

    sim = _wait_eventlog(emu, cluster_id)
    assert sim["eventlog_written"] and sim["profile"] == "small_startup"
    logs = list((Path(emu.dbfs_root) / "cluster-logs" / cluster_id / "eventlog").glob("*/*"))
    assert len(logs) == 1
    summary = parse_event_log(logs[0])
    assert summary.duration_s == pytest.approx(sim["runtime_s"], rel=0.01)
    assert summary.tasks == pytest.approx(sim["tasks"], rel=0.01)
    assert summary.cluster is not None and summary.cluster.cluster_id == cluster_id
    assert run["execution_duration"] == pytest.approx(sim["runtime_s"] * 1000, rel=0.01)
