"""Cluster policy for no-code onboarding: attach Gradient to existing ``DatabricksSubmitRunOperator`` tasks.

Registered through the ``airflow.policy`` entry point. ``[gradient] onboard`` selects the DAGs:
``none`` (default), ``tagged`` (DAGs tagged ``gradient``) or ``all``. Selected tasks get
:func:`gradient_pre_execute_hook` as pre_execute (chained after one the author set), and the Gradient
listener records their runs. Projects created this way get ``[gradient] default_auto_apply`` (off unless
the deployment turns it on): recommendations are shown and applied only after someone clicks *Apply*
(co-pilot mode), so onboarding never silently changes production clusters. The policy never raises: a problem is logged and the task left unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.policies import hookimpl

log = logging.getLogger(__name__)
ONBOARD_TAG = "gradient"


def onboard_mode() -> str:
    """``[gradient] onboard``: none / tagged / all (a bad ``[gradient]`` section is logged and means none)."""
    from airflow_provider_gradient.settings import GradientConfigError, get_settings

    try:
        return get_settings().onboard
    except GradientConfigError as exc:
        log.error("Gradient: no-code onboarding off: %s", exc)
        return "none"


def _chain(first: Any) -> Any:
    from airflow_provider_gradient.operators.pre_execute import gradient_pre_execute_hook

    def hook(context: Any) -> None:
        first(context)
        gradient_pre_execute_hook(context)

    hook._gradient = True  # type: ignore[attr-defined]
    return hook


def onboard_task(task: Any, mode: str | None = None) -> bool:
    """Attach Gradient to ``task`` if the onboarding mode selects it; return whether it did."""
    from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator

    from airflow_provider_gradient.operators.gradient import GradientDatabricksOperator
    from airflow_provider_gradient.operators.pre_execute import gradient_pre_execute_hook, is_gradient_hook

    mode = mode or onboard_mode()
    if mode == "none" or not isinstance(task, DatabricksSubmitRunOperator):
        return False
    if isinstance(task, GradientDatabricksOperator):
        return False
    dag = getattr(task, "dag", None)
    if mode == "tagged" and ONBOARD_TAG not in set(getattr(dag, "tags", None) or ()):
        return False
    existing = getattr(task, "_pre_execute_hook", None)
    if existing is not None and is_gradient_hook(existing):
        return True
    task._pre_execute_hook = gradient_pre_execute_hook if existing is None else _chain(existing)
    return True


@hookimpl
def task_policy(task: Any) -> None:
    """Airflow cluster policy: onboard Databricks submit tasks selected by ``[gradient] onboard``."""
    try:
        if onboard_task(task):
            log.debug("Gradient: onboarded %s.%s", getattr(task, "dag_id", "?"), task.task_id)
    except Exception:  # noqa: BLE001 - a policy error would block the whole DAG file
        log.warning("Gradient policy: could not onboard task %s", getattr(task, "task_id", "?"), exc_info=True)
