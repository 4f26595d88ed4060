"""Gradient's per-task settings, kept out of the Databricks job.

The Databricks provider forwards every DAG param to the job (``notebook_task.base_parameters``,
``python_wheel_task.named_parameters``, ``job_parameters`` of run-now ...). Gradient's own settings must
never reach the job, so :func:`adopt_settings` moves them onto the task object (``gradient_<name>``
attributes, where the apply and record steps read them) and removes every ``gradient_*`` key from the
task's params before the operator builds its payload. Settings come, strongest first, from the keyword
arguments of the hook (``functools.partial(gradient_pre_execute_hook, sla_minutes=120)``), the operator's
``gradient_*`` arguments, then (legacy) ``params["gradient_*"]``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

#: Prefix of the DAG params that configure Gradient (never forwarded to Databricks).
PARAM_PREFIX = "gradient_"
#: Settings the hooks accept as keyword arguments (attribute ``gradient_<name>`` on the task).
SETTINGS = ("app_id", "sla_minutes", "auto_apply", "conn_id")


def _set(task: Any, name: str, value: Any) -> None:
    try:
        object.__setattr__(task, name, value)
    except Exception:  # pragma: no cover - exotic operator classes
        log.debug("could not set %s on the task", name, exc_info=True)


def adopt_settings(task: Any, context: Mapping[str, Any] | None = None, **explicit: Any) -> None:
    """Put Gradient's settings on ``task`` and strip ``gradient_*`` params so the job never receives them.

    :param task: the operator about to run.
    :param context: the Airflow task context (its ``params`` are read for legacy ``gradient_*`` params).
    :param explicit: ``app_id``, ``sla_minutes``, ``auto_apply``, ``conn_id`` given to the hook.
    :raises TypeError: on an unknown setting name (a typo in ``partial(...)`` must not pass silently).
    """
    unknown = sorted(set(explicit) - set(SETTINGS))
    if unknown:
        raise TypeError(f"unknown Gradient setting(s) {unknown}; expected some of {list(SETTINGS)}")
    sources: list[Mapping[str, Any]] = []
    for params in ((context or {}).get("params"), getattr(task, "params", None)):
        if isinstance(params, Mapping):
            sources.append(params)
    for name in SETTINGS:
        attr = PARAM_PREFIX + name
        value = explicit.get(name)
        if value is None:
            value = getattr(task, attr, None)
        if value is None:
            value = next((_plain(p.get(attr)) for p in sources if _plain(p.get(attr)) is not None), None)
        if value is not None:
            _set(task, attr, value)
    strip_gradient_params(task)


def _plain(value: Any) -> Any:
    """A param's value (``Param`` objects resolve through ``.resolve()``)."""
    resolve = getattr(value, "resolve", None)
    if callable(resolve):
        try:
            return resolve(suppress_exception=True)
        except TypeError:
            return resolve()
    return value


def strip_gradient_params(task: Any) -> list[str]:
    """Remove ``gradient_*`` keys from ``task.params`` (what the Databricks operators forward); return them."""
    params = getattr(task, "params", None)
    if params is None:
        return []
    keys = [k for k in list(params.keys()) if isinstance(k, str) and k.startswith(PARAM_PREFIX)]
    if not keys:
        return []
    try:
        for key in keys:
            del params[key]
    except TypeError:  # an immutable mapping: replace it by a filtered copy
        _set(task, "params", type(params)({k: v for k, v in params.items() if k not in keys}))
    return keys
