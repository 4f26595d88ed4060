"""Airflow glue of the record step, shared by the operator, the listener and the sensor.

The task is read once (:func:`run_to_record` -> :class:`RunToRecord`); the record step itself is
:func:`~airflow_provider_gradient.hooks.collectors.run.collect_and_record` (collect the run, then one
``record_and_recommend`` per cluster). Project and recommendation ids are read back from the ``gradient:*``
custom tags of the clusters that were really submitted (``runs/get`` echoes them), so recording also works
in a fresh process (after a deferral, in the listener, in a separate sensor task, from the queue of runs
not recorded yet) without any state carried over. :func:`safe_record` never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_gradient.core.payload import NAMED_FIELDS, app_id_of, submit_payload
from airflow_provider_gradient.hooks.collectors.run import CollectOptions, collect_and_record, options_for
from airflow_provider_gradient.operators._apply import (
    STATE_ATTR,
    GradientTaskState,
    client_for,
    incr,
)
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.record import RecordResult
from airflow_provider_gradient.settings import get_settings

log = logging.getLogger(__name__)
RECORD_FAILED_METRIC = "gradient.record.failed"
XCOM_PROJECT_ID = "gradient_project_id"
XCOM_RECOMMENDATION_ID = "gradient_recommendation_id"
XCOM_RUN_COST = "gradient_run_cost_usd"


@dataclass(frozen=True)
class RunToRecord:
    """One Databricks run of an Airflow task, as the record step needs it (read once from the task).

    :param payload: the task's submit payload ({} for a run-now job: rebuilt from ``runs/get``).
    :param airflow: the Airflow side of the run stored with it (``dag_id``, ``task_id``, ``airflow_run_id``,
        ``try_number``, ``map_index``, ``logical_ms``).
    :param log_tries: tries to find a complete event log (None: spread ``log_collection_timeout_seconds``).
    :param aws_conn_id: the task's AWS connection (None: ``[gradient] aws_conn_id``); same for Azure.
    """

    databricks_run_id: int
    app_id: str
    dag_id: str | None = None
    task_id: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    databricks_conn_id: str = "databricks_default"
    databricks_retry_limit: int = 3
    databricks_retry_delay: float = 1.0
    gradient_conn_id: str | None = None
    airflow: Mapping[str, Any] = field(default_factory=dict)
    log_tries: int | None = None
    log_backoff_s: float | None = None
    aws_conn_id: str | None = None
    azure_conn_id: str | None = None


def logical_ms(context: Any, ti: Any) -> int | None:
    """Epoch ms of the DAG run's logical date (its ``run_after`` when it has none), or None.

    ROI projects a year of runs from these dates (the DAG's schedule), not from the Databricks clock.
    """
    dag_run = None
    candidates: list[Any] = []
    if hasattr(context, "get"):
        candidates.append(context.get("logical_date"))
        dag_run = context.get("dag_run")
    if dag_run is None:
        server = getattr(ti, "_ti_context_from_server", None)
        dag_run = getattr(server, "dag_run", None) or getattr(ti, "dag_run", None)
    candidates += [getattr(dag_run, "logical_date", None), getattr(dag_run, "run_after", None)]
    for value in candidates:
        ts = getattr(value, "timestamp", None)
        if callable(ts):
            try:
                return int(ts() * 1000)
            except (TypeError, ValueError, OverflowError):
                continue
    return None


def _map_index(ti: Any) -> int | None:
    """The task instance's map index (-1: not mapped), None when it has none."""
    value = getattr(ti, "map_index", None)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def run_to_record(task: Any, context: Mapping[str, Any] | None, run_id: int) -> RunToRecord:
    """Read what the record step needs from the task and its context (the only place that reads them)."""
    ti = (context or {}).get("ti")
    airflow = {
        "dag_id": getattr(task, "dag_id", None),
        "task_id": getattr(task, "task_id", None),
        "airflow_run_id": (context or {}).get("run_id") or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "map_index": _map_index(ti),
        "logical_ms": logical_ms(context, ti),
    }
    params = (context or {}).get("params") or getattr(task, "params", None) or {}
    app_id = app_id_of(task.dag_id, task.task_id, explicit=getattr(task, "gradient_app_id", None), params=params)
    try:
        payload = submit_payload(getattr(task, "json", None), {n: getattr(task, n, None) for n in NAMED_FIELDS})
    except (TypeError, ValueError):  # a malformed json: the clusters come from runs/get
        payload = {}
    return RunToRecord(
        databricks_run_id=int(run_id),
        app_id=app_id,
        dag_id=getattr(task, "dag_id", None),
        task_id=getattr(task, "task_id", None),
        payload=payload,
        databricks_conn_id=getattr(task, "databricks_conn_id", None) or "databricks_default",
        databricks_retry_limit=getattr(task, "databricks_retry_limit", 3),
        databricks_retry_delay=getattr(task, "databricks_retry_delay", 1),
        gradient_conn_id=getattr(task, "gradient_conn_id", None),
        airflow={k: v for k, v in airflow.items() if v is not None},
        log_tries=getattr(task, "gradient_log_tries", None),
        log_backoff_s=getattr(task, "gradient_log_backoff_s", None),
        aws_conn_id=getattr(task, "gradient_aws_conn_id", None),
        azure_conn_id=getattr(task, "gradient_azure_conn_id", None),
    )


def collect_options(task: Any, context: Mapping[str, Any] | None) -> CollectOptions:
    """Collection knobs of ``task`` (``gradient_aws_conn_id``, ``gradient_log_tries``) and the config."""
    target = run_to_record(task, context, 0)
    return options_for(get_settings(), log_tries=target.log_tries, log_backoff_s=target.log_backoff_s,
                       aws_conn_id=target.aws_conn_id, azure_conn_id=target.azure_conn_id)


def record_run(
    target: RunToRecord,
    client: GradientClient,
    *,
    payload: Mapping[str, Any] | None = None,
    opts: CollectOptions | None = None,
) -> list[RecordResult]:
    """Collect the Databricks run of ``target`` and record one run per cluster/project (raises on error).

    :param payload: the payload as submitted; default: the task's payload overlaid with ``runs/get``.
    """
    from airflow_provider_gradient.hooks.collectors.databricks import GradientDatabricksHook

    hook = GradientDatabricksHook(
        target.databricks_conn_id,
        retry_limit=target.databricks_retry_limit,
        retry_delay=target.databricks_retry_delay,
    )
    return collect_and_record(
        hook,
        client,
        target.databricks_run_id,
        payload if payload is not None else target.payload,
        as_submitted=payload is not None,
        base_app_id=target.app_id,
        settings=get_settings(),
        opts=opts,
        log_tries=target.log_tries,
        log_backoff_s=target.log_backoff_s,
        aws_conn_id=target.aws_conn_id,
        azure_conn_id=target.azure_conn_id,
        dag_id=target.dag_id,
        task_id=target.task_id,
        extra=target.airflow,
    )


def safe_record(
    task: Any,
    context: Mapping[str, Any] | None,
    run_id: int | None,
    *,
    client: GradientClient | None = None,
    payload: Mapping[str, Any] | None = None,
    opts: CollectOptions | None = None,
) -> list[RecordResult]:
    """Record the Databricks run ``run_id`` of ``task``; never raises (errors are logged as WARNINGs and
    counted).

    A run that could not be recorded is queued durably (:mod:`~airflow_provider_gradient.operators._pending`)
    and recorded later; after a successful record, the DAG's queued runs are recorded too.

    :param client: the Gradient client (default: the task's ``gradient_conn_id``).
    :param payload: the payload as submitted (default: the task's, overlaid with ``runs/get``).
    """
    logger = getattr(task, "log", log)
    if not run_id:
        logger.warning("Gradient: no Databricks run id, nothing to record")
        return []
    try:
        target = run_to_record(task, context, int(run_id))
    except Exception as e:  # noqa: BLE001 - never break the user's task
        logger.warning("Gradient: could not read the task of Databricks run %s: %s: %s", run_id, type(e).__name__, e)
        incr(RECORD_FAILED_METRIC)
        return []
    state = getattr(task, STATE_ATTR, None)
    failed_before = isinstance(state, GradientTaskState) and bool(state.fail_open_reason)
    results: list[RecordResult] = []
    failure: str | None = None
    try:
        # the optimiser failed before the run: record only if it answers again within the budget
        client = client or client_for(target.gradient_conn_id, answering=failed_before)
    except Exception as e:  # noqa: BLE001
        failure = f"optimiser still unavailable ({type(e).__name__}: {e})"
        logger.warning("Gradient: %s; Databricks run %s not recorded", failure, run_id)
        incr(RECORD_FAILED_METRIC)
    else:
        try:
            results = record_run(target, client, payload=payload, opts=opts)
            failure = "; ".join(str(r.error) for r in results if r.error) or None
        except Exception as e:  # noqa: BLE001 - never break the user's task
            failure = f"{type(e).__name__}: {e}"
            logger.warning("Gradient: could not record Databricks run %s: %s", run_id, failure)
            incr(RECORD_FAILED_METRIC)
    for r in results:
        if r.error:
            logger.warning("Gradient: run %s of project %s not recorded: %s", run_id, r.project_id, r.error)
            incr(RECORD_FAILED_METRIC)
        elif r.run is not None:
            logger.info(
                "Gradient: recorded Databricks run %s in project %s (outcome %s, cost $%.4f, log %s)",
                run_id, r.project_id, r.run.outcome, r.cost_usd or 0.0, r.run.log_status,
            )
    from airflow_provider_gradient.operators._alerts import after_record
    from airflow_provider_gradient.operators._pending import settle

    after_record(results, context, logger)
    settle(target, client, failure, logger)
    return results
