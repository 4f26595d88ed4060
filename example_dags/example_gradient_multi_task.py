"""A multi-task run: a shared job cluster plus a task with its own cluster -> one project per cluster.

Projects: ``example_gradient_multi_task.pipeline.shared`` (the ``shared`` job cluster, used by
``extract`` and ``transform``) and ``example_gradient_multi_task.pipeline.report`` (the ``report`` task's
own cluster). Connections as in ``gradient_operator.py``.
"""

from __future__ import annotations

from _common import POLL_S, START, cluster
from airflow.sdk import DAG

from airflow_provider_gradient.operators.gradient import GradientDatabricksOperator

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
        gradient_log_tries=6,
        gradient_log_backoff_s=0.5,
        polling_period_seconds=POLL_S,
    )
