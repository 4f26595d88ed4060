"""``GradientDatabricksOperator``: apply the recommendation, run, record (also failed/OOM runs), recommend.

Connections (offline: see ``example_dags/README.md``):

* ``databricks_default`` -- the workspace (``AIRFLOW_CONN_DATABRICKS_DEFAULT``).
* ``gradient_default`` -- optional; local mode against ``[gradient] store_url`` when absent.

Params: ``profile`` (the emulator workload / notebook name), ``gradient_sla_minutes`` (SLA of a new project;
``gradient_*`` params are Gradient's and are never forwarded to the Databricks job).
Auto-apply is set explicitly: it is off unless a task or the deployment (``[gradient] default_auto_apply``)
turns it on.
XComs: ``gradient_project_id``, ``gradient_recommendation_id``, ``gradient_run_cost_usd``.
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
    "example_gradient_operator",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["example", "gradient"],
    params={"profile": "etl_scaling", "gradient_sla_minutes": 90},
):
    GradientDatabricksOperator(
        task_id="nightly_etl",
        new_cluster=cluster("m5.xlarge", 4),
        notebook_task={"notebook_path": "/Shared/jobs/{{ params.profile }}"},
        gradient_sla_minutes="{{ params.gradient_sla_minutes }}",
        gradient_auto_apply=True,
        collect="inline",
        gradient_log_tries=6,
        gradient_log_backoff_s=0.5,
        polling_period_seconds=POLL_S,
    )
