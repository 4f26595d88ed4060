"""Airflow listener recording the Databricks runs of onboarded tasks (no-code onboarding).

A task is onboarded when its pre_execute is :func:`gradient_pre_execute_hook` (added by hand or by the
cluster policy in :mod:`airflow_provider_gradient.policies`). When such a task succeeds *or fails*, the
listener collects and records its run. ``GradientDatabricksOperator`` records its runs itself and is
skipped. Nothing here ever raises into Airflow.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

log = logging.getLogger(__name__)


def _should_record(task: Any) -> bool:
    from airflow_provider_gradient.operators.gradient import GradientDatabricksOperator
    from airflow_provider_gradient.operators.pre_execute import HOOK_MARKER
    from airflow_provider_gradient.operators.steps import STATE_ATTR

    if task is None or isinstance(task, GradientDatabricksOperator):
        return False
    if getattr(task, "_gradient_recorded", False):
        return False
    return bool(getattr(task, HOOK_MARKER, False) or getattr(task, STATE_ATTR, None) is not None)


def _run_id_from_xcom(task_instance: Any, task: Any) -> Any:
    """The Databricks run id the operator pushed (after a deferral the operator object has none)."""
    try:
        return task_instance.xcom_pull(task_ids=task.task_id, key="run_id")
    except Exception:  # noqa: BLE001
        return None


def _record(task_instance: Any) -> None:
    try:
        task = getattr(task_instance, "task", None)
        if task is None or not _should_record(task):
            return
        run_id = getattr(task, "run_id", None) or _run_id_from_xcom(task_instance, task)
        task._gradient_recorded = True
        from airflow_provider_gradient.operators.steps import safe_record

        context = {
            "ti": task_instance,
            "run_id": getattr(task_instance, "run_id", None),
            "params": getattr(task, "params", None) or {},
        }
        safe_record(task, context, run_id)
    except Exception:  # noqa: BLE001 - a listener must never break the task
        log.warning("Gradient listener: recording failed", exc_info=True)


@hookimpl
def on_task_instance_success(previous_state: Any, task_instance: Any) -> None:
    """Record the run of an onboarded Databricks task that succeeded."""
    _record(task_instance)


@hookimpl
def on_task_instance_failed(previous_state: Any, task_instance: Any, error: Any) -> None:
    """Record the run of an onboarded Databricks task that failed (OOM runs matter most)."""
    _record(task_instance)
