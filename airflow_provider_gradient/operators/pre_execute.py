"""``gradient_pre_execute_hook``: optimise an unmodified ``DatabricksSubmitRunOperator``.

Usage::

    from functools import partial
    from airflow_provider_gradient.operators.pre_execute import gradient_pre_execute_hook

    DatabricksSubmitRunOperator(
        task_id="etl",
        json={...},
        pre_execute=partial(gradient_pre_execute_hook, sla_minutes=120, auto_apply=True),
    )

Before the run is submitted the hook fetches or creates the task's project(s) (app id ``app_id=`` or
``"<dag_id>.<task_id>"``; one project per cluster, ``<app id>.<key>``, for multi-cluster payloads), merges the
latest *ready* recommendation when auto-apply is on, and adds a ``cluster_log_conf`` and the ``gradient:*``
custom tags. Settings are keyword arguments of the hook (bind them with :func:`functools.partial`), so they
never reach the Databricks job; legacy ``params["gradient_*"]`` are still read but removed from the params
the operator forwards to the job. It is fail-open and bounded in time: the task always runs, on its original
cluster if the optimiser is slow or broken. The run is recorded after the task by the Gradient listener
(registered by the plugin).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from airflow_provider_gradient.operators._apply import STATE_ATTR, GradientTaskState, guarded_apply
from airflow_provider_gradient.operators._params import adopt_settings

#: Marker the listener/policy look for on a task whose pre_execute is Gradient's.
HOOK_MARKER = "_gradient_hooked"


def gradient_pre_execute_hook(
    context: Any,
    *,
    app_id: str | None = None,
    sla_minutes: float | str | None = None,
    auto_apply: bool | None = None,
    conn_id: str | None = None,
) -> None:
    """Apply the project's recommendation (see ``service.apply.choose_recommendation``) to ``context["task"]`` (never raises).

    :param context: the Airflow task context.
    :param app_id: project app id (default ``"<dag_id>.<task_id>"``).
    :param sla_minutes: runtime SLA given to a project created by this task.
    :param auto_apply: auto-apply setting given to a project created by this task (default: ``[gradient]
        default_auto_apply``, off unless the deployment turns it on).
    :param conn_id: Gradient connection (default ``gradient_default``).
    """
    run_hook(context, app_id=app_id, sla_minutes=sla_minutes, auto_apply=auto_apply, conn_id=conn_id)


def run_hook(context: Any, *, apply_fn: Callable[..., GradientTaskState] | None = None, **settings: Any) -> None:
    """The body of Gradient's pre_execute hooks: mark the task, adopt its settings, apply (never raises).

    :param context: the Airflow task context.
    :param apply_fn: how recommendations reach the task (default: its ``json`` payload; see ``guarded_apply``).
    :param settings: ``app_id``, ``sla_minutes``, ``auto_apply``, ``conn_id`` as the hooks take them.
    """
    task = context.get("task") if hasattr(context, "get") else None
    if task is None:
        return
    try:
        object.__setattr__(task, HOOK_MARKER, True)
    except Exception:  # pragma: no cover
        pass
    try:
        adopt_settings(task, context, **settings)
    except Exception:  # noqa: BLE001 - fail-open: settings problems never break the task
        logging.getLogger(__name__).warning("Gradient: could not read the task's Gradient settings", exc_info=True)
    guarded_apply(task, context, apply_fn=apply_fn)


def is_gradient_hook(fn: Any) -> bool:
    """True for :func:`gradient_pre_execute_hook`, a ``functools.partial`` of it, or a chain holding it."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn is gradient_pre_execute_hook or bool(getattr(fn, "_gradient", False))


def gradient_state(task: Any) -> GradientTaskState | None:
    """The state the hook left on ``task`` (None when it did not run)."""
    state = getattr(task, STATE_ATTR, None)
    return state if isinstance(state, GradientTaskState) else None
