"""A multi-task run: a shared job cluster plus a task with its own cluster -> one project per cluster.

Projects: ``example_gradient_multi_task.pipeline.shared`` (the ``shared`` job cluster, used by
``extract`` and ``transform``) and ``example_gradient_multi_task.pipeline.report`` (the ``report`` task's
own cluster). Connections as in ``gradient_operator.py``.
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


with DAG(
    "example_gradient_multi_task",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["example", "gradient"],
):
    GradientDatabricksOperator(
        task_id="pipeline",
        json={
            "run_name": "pipeline",
            "job_clusters": [{"job_cluster_key": "shared", "new_cluster": cluster("m5.xlarge", 4)}],
            "tasks": [
                {"task_key": "extract", "job_cluster_key": "shared",
                 "notebook_task": {"notebook_path": "/Shared/jobs/etl_scaling"}},
                {"task_key": "transform", "job_cluster_key": "shared", "depends_on": [{"task_key": "extract"}],
                 "notebook_task": {"notebook_path": "/Shared/jobs/shuffle_join"}},
                {"task_key": "report", "depends_on": [{"task_key": "transform"}],
                 "new_cluster": cluster("m5.xlarge", 2),
                 "notebook_task": {"notebook_path": "/Shared/jobs/small_startup"}},
            ],
        },
        gradient_auto_apply=True,
        gradient_log_tries=6,
        gradient_log_backoff_s=0.5,
        polling_period_seconds=POLL_S,
    )
