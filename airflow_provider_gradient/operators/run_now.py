"""Gradient for Databricks Jobs run with ``DatabricksRunNowOperator`` (the analogue of job auto-apply).

``gradient_run_now_pre_execute_hook`` reads the job's settings (``jobs/get``), merges the recommendation each
cluster's project applies (``service.apply.choose_recommendation``: auto-apply, co-pilot Apply, window; one project per ``job_cluster_key`` / ``task_key``) and writes back **only the
cluster fields** with ``jobs/update`` before ``run-now``. The run is recorded afterwards by the Gradient
listener. Fail-open and time-bounded like the submit-run hook; note that when the time budget runs out
after ``jobs/update`` was sent, the job keeps the applied cluster (the warning says fail-open anyway).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from airflow_provider_gradient.core.payload import coerce_json
from airflow_provider_gradient.operators import _apply
from airflow_provider_gradient.operators._apply import (
    GradientTaskState,
    project_settings,
    resolve_app_id,
)
from airflow_provider_gradient.operators.pre_execute import run_hook
from airflow_provider_gradient.service.apply import plan_apply
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.settings import get_settings


def cluster_update(settings: Mapping[str, Any], merged: Mapping[str, Any]) -> dict[str, Any]:
    """``new_settings`` for ``jobs/update`` holding only the clusters that changed.

    ``jobs/update`` merges ``tasks``/``job_clusters`` arrays by key, so only the changed entries are sent.
    """
    out: dict[str, Any] = {}
    for name, key in (("job_clusters", "job_cluster_key"), ("tasks", "task_key")):
        before = {e.get(key): e for e in settings.get(name) or []}
        changed = [e for e in merged.get(name) or [] if before.get(e.get(key)) != e and "new_cluster" in e]
        if changed:
            out[name] = copy.deepcopy(changed)
    return out


def _job_id(task: Any, hook: Any) -> int:
    payload = coerce_json(getattr(task, "json", None))
    job_id = getattr(task, "job_id", None) or payload.get("job_id")
    if job_id is None:
        name = getattr(task, "job_name", None) or payload.get("job_name")
        if not name:
            raise ValueError("run-now task has neither job_id nor job_name")
        job_id = hook.find_job_id_by_name(name)
        if job_id is None:
            raise ValueError(f"no Databricks job named {name!r}")
    return int(job_id)


def apply_to_job(task: Any, context: Mapping[str, Any] | None, client: GradientClient) -> GradientTaskState:
    """Merge recommendations into the job's clusters and ``jobs/update`` the changed ones."""
    from airflow_provider_gradient.hooks.collectors.databricks import GradientDatabricksHook

    hook = GradientDatabricksHook(
        task.databricks_conn_id or "databricks_default",
        retry_limit=task.databricks_retry_limit or 3,
        retry_delay=task.databricks_retry_delay or 1,
    )
    job_id = _job_id(task, hook)
    job = hook.get_job_settings(job_id)
    payload: dict[str, Any] = {k: job[k] for k in ("tasks", "job_clusters") if k in job}
    settings = get_settings()
    plan = plan_apply(
        client,
        payload,
        resolve_app_id(task, context),
        log_url_template=settings.cluster_log_url,
        settings=project_settings(task, context),
        region=settings.region,
        dag_id=task.dag_id,
        task_id=task.task_id,
        now=_apply.utcnow(),  # through the module: the apply step's one clock (windows), the submit path's too
    )
    update = cluster_update(payload, plan.payload)
    if update:
        hook.update_job(str(job_id), update)
    return GradientTaskState(clusters=plan.clusters)


def gradient_run_now_pre_execute_hook(
    context: Any,
    *,
    app_id: str | None = None,
    sla_minutes: float | str | None = None,
    auto_apply: bool | None = None,
    conn_id: str | None = None,
) -> None:
    """pre_execute for ``DatabricksRunNowOperator``: apply recommendations to the job (never raises).

    Settings as for :func:`~airflow_provider_gradient.operators.pre_execute.gradient_pre_execute_hook`
    (bind them with ``functools.partial``; they never reach the job's parameters).
    """
    run_hook(context, apply_fn=apply_to_job, app_id=app_id, sla_minutes=sla_minutes, auto_apply=auto_apply,
             conn_id=conn_id)
