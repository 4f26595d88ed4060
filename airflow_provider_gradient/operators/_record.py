"""Record step shared by the operator, the listener and the sensor: collect a finished run and store it.

Project and recommendation ids are read back from the ``gradient:*`` custom tags of the clusters that
were really submitted (``runs/get`` echoes them), so recording also works in a fresh process (after a
deferral, in the listener, in a separate sensor task) without any state carried over.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airflow_provider_gradient.core.payload import run_payload
from airflow_provider_gradient.hooks.collectors.run import CollectOptions, collect_run
from airflow_provider_gradient.operators._apply import (
    STATE_ATTR,
    GradientTaskState,
    effective_payload,
    get_client,
    incr,
    pre_execute_timeout_s,
    resolve_app_id,
    run_bounded,
)
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.record import RecordResult, project_ids, record_collected
from airflow_provider_gradient.settings import get_settings

log = logging.getLogger(__name__)
RECORD_FAILED_METRIC = "gradient.record.failed"
XCOM_PROJECT_ID = "gradient_project_id"
XCOM_RECOMMENDATION_ID = "gradient_recommendation_id"
XCOM_RUN_COST = "gradient_run_cost_usd"



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

def record_task_run(
    task: Any,
    context: Mapping[str, Any] | None,
    run_id: int,
    *,
    payload: Mapping[str, Any] | None = None,
    client: GradientClient | None = None,
    opts: CollectOptions | None = None,
) -> list[RecordResult]:
    """Collect Databricks run ``run_id`` of ``task`` and record one run per cluster/project.

    :param payload: the payload as submitted; default: the task's payload overlaid with ``runs/get``.
    """
    from airflow_provider_gradient.hooks.collectors.databricks import GradientDatabricksHook

    hook = GradientDatabricksHook(
        getattr(task, "databricks_conn_id", "databricks_default"),
        retry_limit=getattr(task, "databricks_retry_limit", 3),
        retry_delay=getattr(task, "databricks_retry_delay", 1),
    )
    settings = get_settings()
    opts = opts or collect_options(task, context)
    client = client or get_client(task)
    if payload is None:
        payload = run_payload(effective_payload(task), hook.get_run(run_id))
    projects, recommendations = project_ids(
        client, payload, resolve_app_id(task, context), dag_id=task.dag_id, task_id=task.task_id
    )
    collected = collect_run(hook, run_id, payload, recommendation_ids=recommendations, opts=opts)
    return record_collected(
        client,
        collected,
        projects,
        cloud=settings.cloud,
        region=settings.region,
        plan=settings.plan_type,
        price_catalog=settings.price_catalog,
        extra=run_context(task, context),
    )


def run_context(task: Any, context: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Airflow side of a recorded run: DAG, task, DAG run, try number and logical date."""
    ti = (context or {}).get("ti")
    extra = {
        "dag_id": getattr(task, "dag_id", None),
        "task_id": getattr(task, "task_id", None),
        "airflow_run_id": (context or {}).get("run_id") or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "logical_ms": logical_ms(context, ti),
    }
    return {k: v for k, v in extra.items() if v is not None}


def collect_options(task: Any, context: Mapping[str, Any] | None) -> CollectOptions:
    """Collection knobs from the task (``gradient_aws_conn_id``, ``gradient_log_tries``) and config."""
    settings = get_settings()
    timeout = settings.log_collection_timeout_seconds
    tries = getattr(task, "gradient_log_tries", None)
    backoff = getattr(task, "gradient_log_backoff_s", None)
    if tries is None:
        # spread the configured timeout over doubling delays: 1+2+4+...
        tries, total = 1, 0.0
        while total < timeout and tries < 12:
            total += min(60.0, 2.0 ** (tries - 1))
            tries += 1
    from airflow_provider_gradient.hooks.collectors.cloud import connection_exists

    cloud = settings.cloud
    # the task's connection, else [gradient] aws_conn_id / azure_conn_id (default aws_default / azure_default),
    # used when that connection is defined; AWS credentials also read S3 log deliveries
    aws = getattr(task, "gradient_aws_conn_id", None) or settings.aws_conn_id
    azure = getattr(task, "gradient_azure_conn_id", None) or settings.azure_conn_id
    return CollectOptions(
        log_tries=int(tries),
        log_backoff_s=float(backoff if backoff is not None else 1.0),
        aws_conn_id=aws if connection_exists(aws) else None,
        azure_conn_id=azure if cloud == "azure" and connection_exists(azure) else None,
        region=settings.region,
        cloud=cloud,
    )


def safe_record(
    task: Any, context: Mapping[str, Any] | None, run_id: int | None, *, timeout_s: float | None = None, **kwargs: Any
) -> list[RecordResult]:
    """:func:`record_task_run` that never raises (errors are logged as WARNINGs and counted).

    A run that could not be recorded is queued durably (:mod:`~airflow_provider_gradient.operators._pending`)
    and recorded later; after a successful record, the DAG's queued runs are recorded too.
    """
    logger = getattr(task, "log", log)
    if not run_id:
        logger.warning("Gradient: no Databricks run id, nothing to record")
        return []
    state = getattr(task, STATE_ATTR, None)
    if isinstance(state, GradientTaskState) and state.fail_open_reason and kwargs.get("client") is None:
        # the optimiser failed before the run: record only if it answers again within the budget
        try:
            client = run_bounded(lambda: get_client(task), pre_execute_timeout_s(), "the optimiser")
            run_bounded(client.health, pre_execute_timeout_s(), "the optimiser")
            kwargs["client"] = client
        except Exception as e:  # noqa: BLE001
            reason = f"optimiser still unavailable ({type(e).__name__}: {e})"
            logger.warning("Gradient: %s; Databricks run %s not recorded", reason, run_id)
            incr(RECORD_FAILED_METRIC)
            _queue(task, context, int(run_id), reason, logger)
            return []
    try:
        client = kwargs.pop("client", None) or get_client(task)

        def work() -> list[RecordResult]:
            return record_task_run(task, context, int(run_id), client=client, **kwargs)

        results = run_bounded(work, timeout_s, "recording the run") if timeout_s else work()
    except Exception as e:  # noqa: BLE001 - never break the user's task
        logger.warning("Gradient: could not record Databricks run %s: %s: %s", run_id, type(e).__name__, e)
        incr(RECORD_FAILED_METRIC)
        _queue(task, context, int(run_id), f"{type(e).__name__}: {e}", logger)
        return []
    errors = []
    for r in results:
        if r.error:
            logger.warning("Gradient: run %s of project %s not recorded: %s", run_id, r.project_id, r.error)
            incr(RECORD_FAILED_METRIC)
            errors.append(str(r.error))
        else:
            run = r.run
            logger.info(
                "Gradient: recorded Databricks run %s in project %s (outcome %s, cost $%.4f, log %s)",
                run_id, r.project_id, getattr(run, "outcome", "?"), r.cost_usd or 0.0, getattr(run, "log_status", "?"),
            )
    from airflow_provider_gradient.operators._alerts import after_record

    after_record(results, context, logger)
    if errors:
        _queue(task, context, int(run_id), "; ".join(errors), logger)
    else:
        _record_queued(task, client, int(run_id), logger)
    return results


def _queue(task: Any, context: Mapping[str, Any] | None, run_id: int, reason: str, logger: Any) -> None:
    """Remember a run that could not be recorded (never raises)."""
    from airflow_provider_gradient.operators._pending import entry_for_task, remember

    try:
        path = remember(entry_for_task(task, context, run_id, reason))
        logger.warning("Gradient: Databricks run %s queued for recording later (%s); `gradient runs sync` "
                       "records it now", run_id, path)
    except Exception as e:  # noqa: BLE001
        logger.warning("Gradient: could not queue Databricks run %s for later: %s: %s", run_id, type(e).__name__, e)


def _record_queued(task: Any, client: GradientClient, run_id: int, logger: Any) -> None:
    """The run is stored: drop it from the queue and record the DAG's other queued runs (never raises)."""
    from airflow_provider_gradient.operators._pending import forget, sync_pending

    try:
        forget(run_id)
        dag_id = getattr(task, "dag_id", None)
        for done in sync_pending(client, select=lambda p: p.dag_id == dag_id and p.databricks_run_id != run_id):
            if done.recorded:
                logger.info("Gradient: recorded queued Databricks run %s", done.pending.databricks_run_id)
            else:
                logger.warning("Gradient: queued Databricks run %s still not recorded: %s",
                               done.pending.databricks_run_id, done.error)
    except Exception as e:  # noqa: BLE001
        logger.warning("Gradient: could not record the queued runs: %s: %s", type(e).__name__, e)
