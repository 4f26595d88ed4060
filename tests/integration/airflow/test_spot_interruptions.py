"""Issue 15, item 3, end to end: a run that lost its spot workers is recorded as a spot failure (not a
memory failure) from what the emulator reports as Databricks and AWS do -- NODES_LOST events with
SPOT_INSTANCE_TERMINATION, EC2 state reason Server.SpotInstanceTermination (moto), executors removed as
"worker lost" and ExecutorLostFailure tasks in the event log -- and the next recommendation moves the
workers to on-demand instead of "more memory"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.slow

APP_ID = "it_spot.batch"
#: A shuffle-heavy job on a spot market that reclaims workers every few minutes: three losses in one
#: stage abort it (the emulator's model; the simulation decides when nodes go, not the test).
PROFILE = {
    "name": "it_spot_prone",
    "description": "test: spot workers reclaimed every few minutes",
    "input_gb": 60, "serial_s": 60, "work_core_s_per_gb": 400, "log_coeff_s": 5, "per_core_s": 0.1,
    "partition_mb": 128, "shuffle_gb_per_gb": 1.0, "shuffle_conn_s": 1.0, "task_memory_gb": 0.5,
    "photon_speedup": 1.3, "spot_hazard_per_hour": 6.0, "spot_loss_s": 60, "spot_replace_s": 120,
    "spot_fail_losses": 3,
    "baseline": {"node_type_id": "r5.xlarge", "num_workers": 8, "spark_version": "15.4.x-scala2.12"},
    "stages": [
        {"name": "scan", "work_share": 0.3, "tasks": 0, "reads_input": True, "shuffle_write_share": 1.0,
         "shuffle_read_share": 0, "job": 0},
        {"name": "join", "work_share": 0.7, "tasks": 400, "reads_input": False, "shuffle_write_share": 0,
         "shuffle_read_share": 1.0, "job": 0},
    ],
}
def test_spot_loss_is_recorded_as_spot_and_not_answered_with_memory(
    dag_files: Any, one_task_dag: Any, emulator: Any, submits: Any, gradient_store: Any, tmp_path: Path
) -> None:
    from airflow_provider_gradient.cli import app as cli

    if not emulator.aws_endpoint:
        pytest.skip("emulator without moto")
    profile = Path(dag_files.home["root"]) / "it_spot_prone.json"
    profile.write_text(json.dumps(PROFILE))
    dag = one_task_dag("it_spot", {
        "node_type_id": "r5.xlarge", "num_workers": 8,
        "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1},
        "custom_tags": {"emulator_profile": str(profile)}}, task_id="batch", notebook="batch",
        gradient_sla_minutes=60, gradient_auto_apply=True)
    svc = gradient_store
    before = len(submits())
    dag.test()  # the Databricks run fails: the task fails, the run is recorded all the same

    (run,) = svc.list_runs(APP_ID)
    assert run.outcome == "failed"
    metrics = run.metrics or {}
    assert metrics.get("failure_kind") == "spot" and metrics.get("spot_interruptions", 0) >= 3, metrics
    msg = run.failure_message or ""
    assert msg.startswith("Spot interruption:"), msg
    # every signal a real run gives was read: cluster events, EC2 state reasons, the event log
    assert "SPOT_INSTANCE_TERMINATION" in msg and "Server.SpotInstanceTermination" in msg
    assert "worker lost" in msg and "ExecutorLostFailure" in msg
    assert "memory" not in msg.lower()

    # the optimiser was told: no "more memory", and the next cluster keeps the shape on on-demand workers
    rec = svc.latest_recommendation(APP_ID)
    assert rec is not None and "more memory" not in rec.reason, rec.reason
    assert "spot" in rec.reason
    assert rec.cluster["aws_attributes"]["availability"] == "ON_DEMAND"

    # the CLI shows it as the pages do (the stored failure message)
    out = CliRunner().invoke(cli, ["runs", "list", APP_ID, "--json", "--store-url", str(svc.url)])
    assert out.exit_code == 0, out.output
    listed = json.loads(out.stdout[out.stdout.index("[\n  {"):])
    assert listed[0]["failure_message"] == msg

    # the next run (auto-apply) submits on-demand workers and succeeds
    dag.test()
    submitted = submits()[before:]
    assert len(submitted) == 2
    assert submitted[1]["new_cluster"]["aws_attributes"]["availability"] == "ON_DEMAND"
    latest = max(svc.list_runs(APP_ID), key=lambda r: r.databricks_run_id)
    assert latest.outcome == "success" and not (latest.metrics or {}).get("spot_interruptions")
