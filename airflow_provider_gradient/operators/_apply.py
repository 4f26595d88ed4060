"""Airflow glue of the apply step, shared by the pre_execute hook, the operator and the run-now form.

It reads the task's payload (:func:`~airflow_provider_gradient.core.payload.submit_payload`), calls the
service's use case :func:`~airflow_provider_gradient.service.apply.plan_apply` (one project per cluster, the
recommendation its next run uses, merged; never generates one) and writes the result back to the
attribute the operator really submits (``new_cluster=`` / ``tasks=`` named args win over ``json``). All of it runs in a
daemon thread bounded by ``[gradient] pre_execute_timeout_seconds``; any error or timeout leaves the task
untouched (fail-open), logs a WARNING saying why and increments ``gradient.pre_execute.fail_open``.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from airflow_provider_gradient.core.payload import NAMED_FIELDS, app_id_of, payload_fields, submit_payload
from airflow_provider_gradient.core.redact import redact_text
from airflow_provider_gradient.service.apply import AppliedCluster, plan_apply
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.schemas import ProjectSettingsIn
from airflow_provider_gradient.settings import (
    GradientConfigError,
    GradientSettings,
    declared_defaults,
    get_settings,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Attribute set on the operator object once the apply step ran (the second call is then a no-op).
STATE_ATTR = "_gradient_state"
FAIL_OPEN_METRIC = "gradient.pre_execute.fail_open"
APPLIED_METRIC = "gradient.pre_execute.applied"


class PreExecuteTimeout(TimeoutError):
    """The optimiser did not answer within the pre_execute time budget."""


@dataclass
class GradientTaskState:
    """Per-task-instance Gradient state, stored on the operator object as ``_gradient_state``."""

    clusters: dict[str, AppliedCluster] = field(default_factory=dict)
    fail_open_reason: str | None = None
    elapsed_s: float = 0.0

    @property
    def applied(self) -> bool:
        return self.fail_open_reason is None


# -- configuration ---------------------------------------------------------------------------------
def pre_execute_timeout_s(settings: GradientSettings | None = None) -> float:
    """``[gradient] pre_execute_timeout_seconds`` (at least 0.05 s).

    A bad ``[gradient]`` section gives the declared default here (the apply step then fails open with the
    error naming the option).
    """
    try:
        seconds = (settings or get_settings()).pre_execute_timeout_seconds
    except GradientConfigError:
        seconds = float(declared_defaults()["pre_execute_timeout_seconds"])
    return max(0.05, seconds)


def incr(metric: str) -> None:
    """Increment an Airflow StatsD/OTel counter; never raises."""
    try:
        from airflow.sdk.observability.stats import Stats

        Stats.incr(metric)
    except Exception:  # pragma: no cover - metrics must never break a task
        log.debug("could not emit metric %s", metric, exc_info=True)


def utcnow() -> dt.datetime:
    """The current time (UTC); the one clock the apply step reads (optimisation windows)."""
    return dt.datetime.now(dt.UTC)


# -- resolving -------------------------------------------------------------------------------------
def resolve_app_id(task: Any, context: Mapping[str, Any] | None) -> str:
    """App id: ``params["gradient_app_id"]``, the task's ``gradient_app_id``, else ``<dag_id>.<task_id>``."""
    params = (context or {}).get("params") or getattr(task, "params", None) or {}
    return app_id_of(task.dag_id, task.task_id, explicit=getattr(task, "gradient_app_id", None), params=params)


def task_setting(task: Any, context: Mapping[str, Any] | None, name: str) -> Any:
    """A per-task Gradient setting: the operator attribute ``gradient_<name>``, else ``params``."""
    value = getattr(task, f"gradient_{name}", None)
    if value is not None:
        return value
    params = (context or {}).get("params") or getattr(task, "params", None) or {}
    return params.get(f"gradient_{name}") if isinstance(params, Mapping) else None


def run_bounded(fn: Callable[[], T], timeout_s: float, what: str = "the optimiser") -> T:
    """Run ``fn`` in a daemon thread; return its result or raise its error / :class:`PreExecuteTimeout`.

    A thread that overruns is abandoned (daemon), never waited for.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e
        finally:
            done.set()

    threading.Thread(target=target, name="gradient-pre-execute", daemon=True).start()
    if not done.wait(timeout_s):
        raise PreExecuteTimeout(f"{what} did not answer within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def effective_payload(task: Any) -> dict[str, Any]:
    """The submit payload as the operator will build it: ``json`` overridden by non-None named args."""
    return submit_payload(getattr(task, "json", None), {n: getattr(task, n, None) for n in NAMED_FIELDS})


def write_back(task: Any, merged: Mapping[str, Any]) -> None:
    """Write merged cluster fields to the attribute the operator submits (named arg if set, else json)."""
    write = payload_fields(getattr(task, "json", None), {n: getattr(task, n, None) for n in NAMED_FIELDS}, merged)
    for name, value in write.named.items():
        setattr(task, name, value)
    if write.json is not None:
        task.json = write.json


def project_settings(task: Any, context: Mapping[str, Any] | None) -> ProjectSettingsIn | None:
    """Settings for a project created on first use (SLA, auto-apply) from the task/params (None: none)."""
    out: dict[str, Any] = {}
    sla = task_setting(task, context, "sla_minutes")
    if sla not in (None, "", "None"):
        out["sla_minutes"] = float(sla)
    auto = task_setting(task, context, "auto_apply")
    if auto is not None:
        out["auto_apply"] = bool(auto)
    return ProjectSettingsIn(**out) if out else None


def apply_to_task(task: Any, context: Mapping[str, Any] | None, client: GradientClient) -> GradientTaskState:
    """Merge recommendations into ``task`` in place (no timeout, raises on error)."""
    settings = get_settings()
    plan = plan_apply(
        client,
        effective_payload(task),
        resolve_app_id(task, context),
        log_url_template=settings.cluster_log_url,
        settings=project_settings(task, context),
        region=settings.region,
        dag_id=task.dag_id,
        task_id=task.task_id,
        now=utcnow(),
    )
    write_back(task, plan.payload)
    return GradientTaskState(clusters=plan.clusters)


def client_for(conn_id: str | None, *, answering: bool = False) -> GradientClient:
    """The Gradient client of a ``gradient`` connection (None: the default connection).

    :param answering: only a client that is built and answers its health check within the pre_execute
        budget (twice ``[gradient] pre_execute_timeout_seconds``); else :class:`PreExecuteTimeout` or its error.
    """
    from airflow_provider_gradient.hooks.gradient import GradientHook

    def connect() -> GradientClient:
        client = (GradientHook(conn_id) if conn_id else GradientHook()).get_client()
        if answering:
            client.health()
        return client

    return run_bounded(connect, 2 * pre_execute_timeout_s(), "the optimiser") if answering else connect()


def get_client(task: Any) -> GradientClient:
    """The Gradient client of the task's ``gradient_conn_id`` (default connection otherwise)."""
    return client_for(getattr(task, "gradient_conn_id", None))


def is_deferral_resume(context: Mapping[str, Any] | None) -> bool:
    """True when the task instance is resuming after a deferral (nothing will be submitted again)."""
    ti = (context or {}).get("ti")
    server_ctx = getattr(ti, "_ti_context_from_server", None)
    return bool(getattr(server_ctx, "next_method", None))


def guarded_apply(
    task: Any,
    context: Mapping[str, Any] | None,
    *,
    client_factory: Callable[[Any], GradientClient] = get_client,
    apply_fn: Callable[[Any, Mapping[str, Any] | None, GradientClient], GradientTaskState] | None = None,
    logger: Any = None,
) -> GradientTaskState:
    """Apply once per task object, bounded in time, fail-open; never raises.

    :param apply_fn: the apply step (default :func:`apply_to_task`), called as
        ``apply_fn(snapshot_of_task, context, client)`` inside the time budget.

    The result is stored on ``task._gradient_state``; a second call returns it unchanged.
    """
    logger = logger or getattr(task, "log", log)
    existing = getattr(task, STATE_ATTR, None)
    if isinstance(existing, GradientTaskState):
        return existing
    started = time.monotonic()
    timeout = pre_execute_timeout_s()
    if is_deferral_resume(context):
        state = GradientTaskState(fail_open_reason=None)
        _set_state(task, state)
        return state
    # work on a detached copy of the attributes so an overrunning thread can never touch the task
    snapshot = _Snapshot(task)
    try:

        def work() -> GradientTaskState:
            client = client_factory(task)
            return (apply_fn or apply_to_task)(snapshot, context, client)

        state = run_bounded(work, timeout)
        snapshot.copy_to(task)
        incr(APPLIED_METRIC)
        for c in state.clusters.values():
            logger.info(
                "Gradient: project %s (app id %s) -> %s",
                c.project_id,
                c.app_id,
                c.note
                or (f"recommendation {c.recommendation_id} applied" if c.recommendation_id else "no recommendation applied"),
            )
    except Exception as e:  # noqa: BLE001 - fail-open by design
        reason = str(e) if isinstance(e, PreExecuteTimeout) else f"{type(e).__name__}: {e}"
        logger.warning(
            "Gradient: running on the original cluster (fail-open after %.2f s): %s",
            time.monotonic() - started,
            _scrub(reason),
        )
        incr(FAIL_OPEN_METRIC)
        state = GradientTaskState(fail_open_reason=_scrub(reason))
    state.elapsed_s = time.monotonic() - started
    _set_state(task, state)
    return state


def _set_state(task: Any, state: GradientTaskState) -> None:
    try:
        object.__setattr__(task, STATE_ATTR, state)
    except Exception:  # pragma: no cover - exotic operator classes
        log.debug("could not mark task", exc_info=True)


def _scrub(text: str, limit: int = 500) -> str:
    """An error message for the task log: secrets redacted (the one rule, ``core/redact.py``), then shortened."""
    text = redact_text(text)
    return text if len(text) <= limit else text[:limit] + "..."


class _Snapshot:
    """Detached copy of the attributes the apply step reads/writes (``json``, ``new_cluster``, ``tasks``)."""

    def __init__(self, task: Any) -> None:
        self.dag_id = task.dag_id
        self.task_id = task.task_id
        self.params = copy.deepcopy(dict(getattr(task, "params", None) or {}))
        self.json = copy.deepcopy(getattr(task, "json", None))
        self.new_cluster = copy.deepcopy(getattr(task, "new_cluster", None))
        self.tasks = copy.deepcopy(getattr(task, "tasks", None))
        for name in ("gradient_app_id", "gradient_sla_minutes", "gradient_auto_apply", "gradient_conn_id",
                     "job_id", "job_name", "databricks_conn_id", "databricks_retry_limit", "databricks_retry_delay"):
            setattr(self, name, copy.deepcopy(getattr(task, name, None)))

    def copy_to(self, task: Any) -> None:
        for name in ("json", "new_cluster", "tasks"):
            if hasattr(task, name):
                setattr(task, name, getattr(self, name))
