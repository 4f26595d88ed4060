"""Optimise an unmodified ``DatabricksSubmitRunOperator`` with ``pre_execute=gradient_pre_execute_hook``.

The hook applies the project's latest ready recommendation before the run is submitted (fail-open, at
most ``[gradient] pre_execute_timeout_seconds``); the Gradient listener records the run afterwards.

Connections (see ``example_dags/_common.py`` for the emulator set-up):

* ``databricks_default`` -- the workspace, e.g. ``AIRFLOW_CONN_DATABRICKS_DEFAULT='databricks://:emulator-token@127.0.0.1:8999/http'``
* ``gradient_default`` -- optional; local mode against ``[gradient] store_url`` when absent.

Params: ``profile`` (the emulator workload / notebook name), ``gradient_app_id`` (project app id).
"""

from __future__ import annotations

from _common import POLL_S, START, cluster
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.sdk import DAG

from airflow_provider_gradient.operators.pre_execute import gradient_pre_execute_hook

with DAG(
    "example_gradient_pre_execute",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["example", "gradient"],
    params={"profile": "etl_scaling", "gradient_auto_apply": True},
):
    DatabricksSubmitRunOperator(
        task_id="nightly_etl",
        json={
            "run_name": "nightly_etl",
            "new_cluster": cluster("m5.xlarge", 4),
            "notebook_task": {"notebook_path": "/Shared/jobs/{{ params.profile }}"},
        },
        polling_period_seconds=POLL_S,
        pre_execute=gradient_pre_execute_hook,
    )
