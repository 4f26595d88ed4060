"""``gradient_pre_execute_hook``: optimise an unmodified ``DatabricksSubmitRunOperator``.

Usage::

    from airflow_provider_gradient.operators.pre_execute import gradient_pre_execute_hook

    DatabricksSubmitRunOperator(task_id="etl", json={...}, pre_execute=gradient_pre_execute_hook)

Before the run is submitted the hook fetches or creates the task's project(s) (app id
``params["gradient_app_id"]`` or ``"<dag_id>.<task_id>"``; one project per cluster, ``<app id>.<key>``,
for multi-cluster payloads), merges the latest *ready* recommendation when auto-apply is on, and adds a
``cluster_log_conf`` and the ``gradient:*`` custom tags. It is fail-open and bounded in time: the task
always runs, on its original cluster if the optimiser is slow or broken. The run is recorded after the
task by the Gradient listener (registered by the plugin).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_gradient.operators._apply import STATE_ATTR, GradientTaskState, guarded_apply

#: Marker the listener/policy look for on a task whose pre_execute is Gradient's.
HOOK_MARKER = "_gradient_hooked"


def gradient_pre_execute_hook(context: Any) -> None:
    """Apply the project's latest ready recommendation to ``context["task"]`` (never raises).

    :param context: the Airflow task context.
    """
    task = context.get("task") if hasattr(context, "get") else None
    if task is None:
        return
    try:
        object.__setattr__(task, HOOK_MARKER, True)
    except Exception:  # pragma: no cover
        pass
    guarded_apply(task, context)


def gradient_state(task: Any) -> GradientTaskState | None:
    """The state the hook left on ``task`` (None when it did not run)."""
    state = getattr(task, STATE_ATTR, None)
    return state if isinstance(state, GradientTaskState) else None
