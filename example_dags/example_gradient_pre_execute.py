"""Optimise an unmodified ``DatabricksSubmitRunOperator`` with ``pre_execute=gradient_pre_execute_hook``.

The hook applies the project's latest ready recommendation before the run is submitted (fail-open, at
most ``[gradient] pre_execute_timeout_seconds``); the Gradient listener records the run afterwards.
Gradient's settings are bound to the hook with ``functools.partial`` -- not put in ``params``, which the
Databricks provider forwards to the notebook as ``base_parameters`` (``gradient_*`` params are stripped
from what is submitted anyway). Auto-apply is set explicitly: it is off unless a task or the deployment
(``[gradient] default_auto_apply``) turns it on.

Connections (offline: see ``example_dags/README.md``):

* ``databricks_default`` -- the workspace, e.g. ``AIRFLOW_CONN_DATABRICKS_DEFAULT='databricks://:emulator-token@127.0.0.1:8999/http'``
* ``gradient_default`` -- optional; local mode against ``[gradient] store_url`` when absent.

Params: ``profile`` (the emulator workload / notebook name; the notebook receives it as a base parameter).
"""

from __future__ import annotations

import os
from functools import partial

import pendulum
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.sdk import DAG

from airflow_provider_gradient.operators.pre_execute import gradient_pre_execute_hook

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
    "example_gradient_pre_execute",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["example", "gradient"],
    params={"profile": "etl_scaling"},
):
    DatabricksSubmitRunOperator(
        task_id="nightly_etl",
        json={
            "run_name": "nightly_etl",
            "new_cluster": cluster("m5.xlarge", 4),
            "notebook_task": {"notebook_path": "/Shared/jobs/{{ params.profile }}"},
        },
        polling_period_seconds=POLL_S,
        pre_execute=partial(gradient_pre_execute_hook, sla_minutes=90, auto_apply=True),
    )
