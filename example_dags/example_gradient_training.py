"""Training DAG: run one job N times back to back to finish the learning phase quickly.

The analogue of Gradient's auto-training notebook: each run applies the previous run's recommendation
(auto-apply is forced on for the project), is recorded, and the next recommendation is generated, so
after ``[gradient] learning_runs`` runs the project is optimising. ``TRAINING_RUNS`` runs are chained;
trigger with ``{"profile": "memory_agg"}`` to train another workload. A failed (e.g. OOM) training run does
not stop the training: it is recorded and the optimiser steers away from that configuration.

Connections as in ``gradient_operator.py``.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_gradient.operators.gradient import GradientDatabricksOperator

START = pendulum.datetime(2024, 1, 1, tz="UTC")
#: Seconds between runs/get polls (30 s suits a real workspace; the emulator runs 600x faster).
POLL_S = int(os.environ.get("GRADIENT_EXAMPLE_POLL_S", "30"))


def cluster(node_type: str = "m5.xlarge", workers: int = 4) -> dict[str, object]:
    """A plain Databricks job cluster (what a DAG author writes today)."""
    return {
        "spark_version": "15.4.x-scala2.12",
        "node_type_id": node_type,
        "num_workers": workers,
        "custom_tags": {"team": "data-eng"},
    }


TRAINING_RUNS = 5

with DAG(
    "example_gradient_training",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["example", "gradient"],
    params={"profile": "etl_scaling"},
):
    previous = None
    for i in range(TRAINING_RUNS):
        run = GradientDatabricksOperator(
            task_id=f"train_{i + 1:02d}",
            gradient_app_id="training.{{ params.profile }}",
            new_cluster=cluster("m5.xlarge", 4),
            notebook_task={"notebook_path": "/Shared/jobs/{{ params.profile }}"},
            gradient_auto_apply=True,
            gradient_log_tries=6,
            gradient_log_backoff_s=0.5,
            polling_period_seconds=POLL_S,
            trigger_rule="all_done",
        )
        if previous is not None:
            previous >> run
        previous = run
