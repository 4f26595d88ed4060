"""A Databricks Job run with ``DatabricksRunNowOperator``: Gradient updates the job's cluster first.

``gradient_run_now_pre_execute_hook`` merges the latest ready recommendation into the job's clusters and
sends only those cluster fields with ``jobs/update`` before ``run-now``; the Gradient listener records
the run. ``create_job`` makes the job once (``DatabricksCreateJobsOperator`` resets it if it exists).

Connections as in ``gradient_operator.py``.
"""

from __future__ import annotations

import os
from functools import partial

import pendulum
from airflow.providers.databricks.operators.databricks import (
    DatabricksCreateJobsOperator,
    DatabricksRunNowOperator,
)
from airflow.sdk import DAG

from airflow_provider_gradient.operators.run_now import gradient_run_now_pre_execute_hook

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
    "example_gradient_run_now",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["example", "gradient"],
):
    create = DatabricksCreateJobsOperator(
        task_id="create_job",
        json={
            "name": "gradient-run-now-example",
            "job_clusters": [{"job_cluster_key": "main", "new_cluster": cluster("m5.xlarge", 4)}],
            "tasks": [{"task_key": "etl", "job_cluster_key": "main",
                       "notebook_task": {"notebook_path": "/Shared/jobs/etl_scaling"}}],
        },
    )
    run = DatabricksRunNowOperator(
        task_id="run_job",
        job_id="{{ ti.xcom_pull(task_ids='create_job') }}",
        polling_period_seconds=POLL_S,
        pre_execute=partial(gradient_run_now_pre_execute_hook, auto_apply=True),
    )
    create >> run
