"""Shared bits of the example DAGs (kept tiny: each DAG file stays readable on its own).

Offline against the emulator (``gradient simulator serve --port 8999 --time-scale 600``)::

    export AIRFLOW_CONN_DATABRICKS_DEFAULT='databricks://:emulator-token@127.0.0.1:8999/http'
    export AIRFLOW__GRADIENT__STORE_URL='sqlite:////tmp/gradient.db'   # local mode (default connection)
    export GRADIENT_EXAMPLE_POLL_S=1                                    # poll the fast emulator often

The emulator picks the simulated workload from the notebook's file name (``/Shared/jobs/etl_scaling`` ->
profile ``etl_scaling``); against a real workspace point ``notebook_path`` at your notebook.
"""

from __future__ import annotations

import os

import pendulum

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
