"""A task instance's runs over the store (its task-instance tab): each cluster's project, its run for one DAG
run and try, and the recommendation that run used.

Functions over a :class:`~airflow_provider_gradient.service.store_tx.Store`; ``GradientService`` exposes
:func:`find_task_run` as its method.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from airflow_provider_gradient.core.payload import cluster_keys
from airflow_provider_gradient.service.convert import run_out
from airflow_provider_gradient.service.projects import to_project
from airflow_provider_gradient.service.recommendations import recs_out
from airflow_provider_gradient.service.store_tx import Store
from airflow_provider_gradient.service.summaries import ClusterRun, TaskRun
from airflow_provider_gradient.store.models import ProjectRow
from airflow_provider_gradient.store.repository import ProjectRepo, RecommendationRepo, RunRepo


def find_task_run(
    db: Store,
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int | None = None,
    map_index: int | None = None,
    cluster_key: str | None = None,
) -> TaskRun:
    """A task instance's projects, each with its run for the DAG run ``run_id`` (see
    ``GradientService.find_task_run``).

    :param cluster_key: only the project of this ``task_key`` / ``job_cluster_key`` (None: every cluster)
    """
    if not dag_id or not task_id:
        return TaskRun()
    with db.read() as s:
        prows = ProjectRepo(s).for_task(dag_id, task_id)
        keys = cluster_keys([p.app_id for p in prows], f"{dag_id}.{task_id}")
        found = [
            _cluster_run(s, prow, key, run_id, try_number, map_index)
            for prow, key in zip(prows, keys, strict=True)
            if cluster_key is None or key == cluster_key
        ]
        return TaskRun.of(found)


def _cluster_run(
    s: Session, prow: ProjectRow, key: str | None, run_id: str, try_number: int | None, map_index: int | None
) -> ClusterRun:
    project = to_project(s, prow)
    row = RunRepo(s).for_task_instance(prow.id, run_id, map_index, try_number) if run_id else None
    if row is None:
        return ClusterRun(project, key)
    rec_row = RecommendationRepo(s).get(row.recommendation_id) if row.recommendation_id else None
    recs = recs_out(s, [rec_row]) if rec_row is not None and rec_row.project_id == prow.id else []
    return ClusterRun(project, key, run_out(row), recs[0] if recs else None)
