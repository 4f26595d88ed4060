"""Collect everything about one Databricks run (one :class:`CollectedRun` per cluster).

:func:`collect_run` reads ``runs/get`` -> cluster ids per task; ``clusters/get`` + every page of
``clusters/events``; optionally the cloud's instances/volumes; the event log from the cluster's log
destination. Completeness of the event log is decided by the final ``eventlog`` part being present and
written at or after the run's end; until then it retries with exponential backoff up to ``log_tries``
and then records the run as ``log_incomplete`` (never fails the task). :func:`collect_and_record` is the
whole record step of a run: collect, then the service's use case
:func:`~airflow_provider_gradient.service.record.record_collected` (one ``record_and_recommend`` per cluster).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_gradient.core.payload import (
    find_clusters,
    get_cluster,
    log_destination,
    run_payload,
    tagged_ids,
)
from airflow_provider_gradient.hooks.collectors.databricks import (
    GradientDatabricksHook,
    backoff_delays,
    cluster_ids_of_run,
    eventlog_files,
    sleep,
)
from airflow_provider_gradient.hooks.collectors.storage import LogStore, store_for
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.collected import ClusterFacts, CollectedRun, RunStateFacts
from airflow_provider_gradient.service.record import RecordResult, record_clusters
from airflow_provider_gradient.settings import GradientSettings

if TYPE_CHECKING:
    from airflow_provider_gradient.core.eventlog import AppSummary

log = logging.getLogger(__name__)


@dataclass
class CollectOptions:
    """Knobs of one collection.

    :param log_tries: how many times to look for a complete event log (backoff between tries).
    :param log_backoff_s: first backoff delay (doubles, capped at 60 s).
    :param aws_conn_id: collect EC2/EBS facts with this AWS connection (None: skip, events only).
    :param azure_conn_id: collect Azure VM/disk facts with this Azure connection (cloud ``azure``).
    :param cloud: the workspace's cloud (``aws`` / ``azure``): which collector runs.
    :param cloud_collector: a ready cloud collector (tests), used instead of ``aws_conn_id``.
    :param store_clients: ready storage clients (``{"s3": client}``) for tests.
    """

    log_tries: int = 4
    log_backoff_s: float = 1.0
    aws_conn_id: str | None = None
    region: str | None = None
    azure_conn_id: str | None = None
    cloud: str = "aws"
    cloud_collector: Any = None
    store_clients: Mapping[str, Any] = field(default_factory=dict)
    sleep: Callable[[float], None] = sleep


def _safe(what: str, fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - partial facts are better than none
        log.warning("Gradient: could not read %s: %s: %s", what, type(e).__name__, e)
        return default


def _parse(folder: Path) -> tuple[AppSummary | None, str | None]:
    """Parse a downloaded event log folder: (AppSummary or None, error message or None)."""
    try:
        from airflow_provider_gradient.core.eventlog import parse_event_log

        return parse_event_log(folder), None
    except Exception as e:  # noqa: BLE001 - a bad log must not lose the run
        return None, f"event log unreadable: {type(e).__name__}: {e}"


def fetch_event_log(
    store: LogStore,
    dest: str,
    cluster_id: str,
    spark_context_id: str | None,
    end_ms: int | None,
    workdir: Path,
    opts: CollectOptions,
) -> tuple[AppSummary | None, str, str | None]:
    """Download and parse the event log of a run, retrying with backoff until it is complete.

    Complete means: the final (live) ``eventlog`` part is there and the log holds the application end
    event. A live part written after the run's end that still lacks it is final but ``incomplete``.

    :return: (parsed ``AppSummary`` or None, log status ``complete``/``incomplete``/``missing``, reason).
    """
    root = f"{dest.rstrip('/')}/{cluster_id}/eventlog"
    delays = list(backoff_delays(max(0, opts.log_tries - 1), base_s=opts.log_backoff_s))
    reason: str | None = "no event log found"
    summary: AppSummary | None = None
    found = False
    for attempt in range(len(delays) + 1):
        try:
            parts = eventlog_files(store.list_recursive(root), spark_context_id)
        except Exception as e:  # noqa: BLE001
            parts, reason = [], f"listing {root} failed: {type(e).__name__}: {e}"
        if parts:
            found = True
            live = [p for p in parts if Path(str(p["path"])).name == "eventlog"]
            folder = workdir / f"{cluster_id}-{attempt}"
            folder.mkdir(parents=True, exist_ok=True)
            try:
                for part in parts:
                    with open(folder / Path(str(part["path"])).name, "wb") as fh:
                        store.read_to(str(part["path"]), fh)
                summary, parse_error = _parse(folder)
            except Exception as e:  # noqa: BLE001
                summary, parse_error = None, f"download failed: {type(e).__name__}: {e}"
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            fresh = bool(live) and end_ms is not None and int(live[0].get("modification_time") or 0) >= int(end_ms)
            app_ended = summary is not None and summary.complete
            if live and summary is not None and app_ended:
                return summary, "complete", None
            if live and summary is not None and fresh:
                # written after the run ended and still no application end: it will not get better (driver
                # lost, delivery cut short), so stop waiting, but never call a partial log complete
                return summary, "incomplete", "event log ends without the application end (truncated delivery or driver lost)"
            if parse_error:
                reason = parse_error
            elif not live:
                reason = "final eventlog part not delivered"
            else:
                reason = "event log has no application end yet"
        if attempt < len(delays):
            opts.sleep(delays[attempt])
    if not found:
        return None, "missing", f"{reason} under {root} after {opts.log_tries} tries"
    return summary, "incomplete", f"{reason} after {opts.log_tries} tries"


def collect_run(
    hook: GradientDatabricksHook,
    run_id: int,
    payload: Mapping[str, Any],
    *,
    recommendation_ids: Mapping[str, Any] | None = None,
    opts: CollectOptions | None = None,
    run: Mapping[str, Any] | None = None,
) -> dict[str, CollectedRun]:
    """Collect one :class:`CollectedRun` per cluster slot of ``payload`` (keyed by slot id).

    :param payload: the submit payload as it was submitted (clusters after Gradient's merge).
    :param recommendation_ids: recommendation applied per slot id (default: from Gradient's tags).
    :param run: the run's ``runs/get`` answer when the caller has it already.
    """
    opts = opts or CollectOptions()
    run = run if run is not None else hook.get_run(run_id)
    if recommendation_ids is None:
        recommendation_ids = {t.slot.slot_id: t.recommendation_id for t in tagged_ids(payload)}
    slots = {s.slot_id: s for s in find_clusters(payload)}
    ids = cluster_ids_of_run(run, single="new_cluster" in slots)
    out: dict[str, CollectedRun] = {}
    workdir = Path(tempfile.mkdtemp(prefix="gradient-collect-"))
    try:
        for slot_id, slot in slots.items():
            submitted = get_cluster(payload, slot)
            info = ids.get(slot_id)
            state = RunStateFacts.from_api((info or {}).get("state") or run.get("state"))
            start_ms = int((info or {}).get("start_ms") or run.get("start_time") or 0)
            end_ms = int((info or {}).get("end_ms") or run.get("end_time") or start_ms)
            facts: ClusterFacts | None = None
            summary: AppSummary | None = None
            status: str = "missing"
            reason: str | None = "no cluster instance in runs/get"
            if info:
                cid = str(info["cluster_id"])
                cluster: dict[str, Any] = _safe(f"clusters/get {cid}", partial(hook.get_cluster, cid), {})
                ctx = info.get("spark_context_id") or cluster.get("spark_context_id")
                dest = log_destination(cluster) or log_destination(submitted)
                if dest:
                    try:
                        store = store_for(dest, hook, aws_conn_id=opts.aws_conn_id, region=opts.region,
                                          clients=opts.store_clients)
                        summary, status, reason = fetch_event_log(
                            store, dest, cid, str(ctx) if ctx else None, end_ms, workdir, opts
                        )
                    except Exception as e:  # noqa: BLE001
                        status, reason = "missing", f"event log fetch failed: {type(e).__name__}: {e}"
                else:
                    reason = "cluster has no cluster_log_conf"
                # after waiting for the log: the cluster has terminated by now, so its events, termination
                # reason and the cloud's instance end times / state reasons are final
                facts = _cluster_facts(hook, cid, info, opts)
            out[slot_id] = CollectedRun(
                databricks_run_id=int(run_id),
                state=state,
                start_ms=start_ms,
                end_ms=max(end_ms, start_ms),
                submitted_cluster=submitted,
                cluster=facts,
                summary=summary,
                log_status=status,  # type: ignore[arg-type]
                log_reason=reason,
                recommendation_id=(recommendation_ids or {}).get(slot_id),
                task_keys=tuple((info or {}).get("task_keys") or ()),
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def _cluster_facts(hook: GradientDatabricksHook, cid: str, info: Mapping[str, Any], opts: CollectOptions) -> ClusterFacts:
    """``clusters/get``, all cluster events and (optionally) the cloud's instances/volumes of one cluster."""
    cluster: dict[str, Any] = _safe(f"clusters/get {cid}", partial(hook.get_cluster, cid), {})
    events: tuple[Any, ...] = _safe(f"clusters/events {cid}", partial(_all_events, hook, cid), ())
    instances: tuple[Any, ...] = ()
    volumes: tuple[Any, ...] = ()
    cloud = opts.cloud_collector
    if cloud is None and (opts.aws_conn_id or opts.azure_conn_id):
        from airflow_provider_gradient.hooks.collectors.cloud import cloud_collector

        cloud = _safe(f"{opts.cloud} client", partial(cloud_collector, opts.cloud, aws_conn_id=opts.aws_conn_id,
                                                     azure_conn_id=opts.azure_conn_id, region=opts.region), None)
    if cloud is not None:
        driver_id = (cluster.get("driver") or {}).get("instance_id")
        instances, volumes = _safe(
            f"cloud instances of {cid}", partial(cloud.collect, cid, driver_instance_id=driver_id), ((), ())
        )
    ctx = info.get("spark_context_id") or cluster.get("spark_context_id")
    return ClusterFacts(cid, cluster, events, instances, volumes, str(ctx) if ctx else None)


def _all_events(hook: GradientDatabricksHook, cid: str) -> tuple[Any, ...]:
    return tuple(hook.iter_cluster_events(cid))


def options_for(
    settings: GradientSettings,
    *,
    log_tries: int | None = None,
    log_backoff_s: float | None = None,
    aws_conn_id: str | None = None,
    azure_conn_id: str | None = None,
) -> CollectOptions:
    """Collection knobs: the task's (arguments), else ``[gradient]``'s (log timeout, AWS / Azure connections).

    :param log_tries: tries to find a complete event log (None: spread ``log_collection_timeout_seconds``
        over doubling delays 1 + 2 + 4 ... s).
    :param aws_conn_id: the task's AWS connection, else ``[gradient] aws_conn_id``; used when it is defined
        (its credentials also read S3 log deliveries). Same for ``azure_conn_id`` (cloud ``azure``).
    """
    from airflow_provider_gradient.hooks.collectors.cloud import connection_exists

    tries = log_tries
    if tries is None:
        tries, total = 1, 0.0
        while total < settings.log_collection_timeout_seconds and tries < 12:
            total += min(60.0, 2.0 ** (tries - 1))
            tries += 1
    aws = aws_conn_id or settings.aws_conn_id
    azure = azure_conn_id or settings.azure_conn_id
    return CollectOptions(
        log_tries=int(tries),
        log_backoff_s=float(log_backoff_s if log_backoff_s is not None else 1.0),
        aws_conn_id=aws if connection_exists(aws) else None,
        azure_conn_id=azure if settings.cloud == "azure" and connection_exists(azure) else None,
        region=settings.region,
        cloud=settings.cloud,
    )


def collect_and_record(
    hook: GradientDatabricksHook,
    client: GradientClient,
    run_id: int,
    payload: Mapping[str, Any],
    *,
    base_app_id: str,
    settings: GradientSettings,
    opts: CollectOptions | None = None,
    log_tries: int | None = None,
    log_backoff_s: float | None = None,
    aws_conn_id: str | None = None,
    azure_conn_id: str | None = None,
    as_submitted: bool = False,
    dag_id: str | None = None,
    task_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[RecordResult]:
    """The record step of one Databricks run: ``runs/get``, everything about each cluster (:func:`collect_run`),
    then the service's :func:`~airflow_provider_gradient.service.record.record_clusters` (the project of each
    cluster from Gradient's tags, one ``client.record_and_recommend`` per cluster).

    :param payload: the task's submit payload; the clusters ``runs/get`` echoes replace its own (for a run-now
        job, whose clusters live in the job, the payload is rebuilt from ``runs/get``).
    :param opts: collection knobs; default :func:`options_for` the task's ``log_tries``, ``log_backoff_s``,
        ``aws_conn_id``, ``azure_conn_id`` and ``settings``.
    :param as_submitted: ``payload`` already is what was submitted (a sensor rebuilt it from ``runs/get``).
    :param extra: the Airflow side of the run (DAG, task, DAG run, try number, logical date).
    """
    opts = opts or options_for(settings, log_tries=log_tries, log_backoff_s=log_backoff_s,
                               aws_conn_id=aws_conn_id, azure_conn_id=azure_conn_id)
    run = hook.get_run(run_id)
    submitted = payload if as_submitted else run_payload(payload, run)
    tags = tagged_ids(submitted)
    recommendations = {t.slot.slot_id: t.recommendation_id for t in tags}
    collected = collect_run(hook, run_id, submitted, recommendation_ids=recommendations, opts=opts, run=run)
    return record_clusters(
        client,
        collected,
        tags,
        base_app_id=base_app_id,
        dag_id=dag_id,
        task_id=task_id,
        settings=settings,
        extra=extra,
        workspace_region=workspace_region(hook),
    )


def workspace_region(hook: GradientDatabricksHook) -> str | None:
    """The region the Databricks connection names (extra ``region``, as Discover reads it), else None."""
    try:
        extra = hook.databricks_conn.extra_dejson
    except Exception as e:  # noqa: BLE001 - no extra: the region comes from elsewhere
        log.debug("Gradient: no extra on the Databricks connection: %s", e)
        return None
    region = extra.get("region") if isinstance(extra, Mapping) else None
    return str(region).strip().lower() or None if region else None


def eventlog_status(hook: GradientDatabricksHook, run_id: int) -> tuple[bool, str]:
    """Whether every cluster of a finished run has delivered its final event log part (``runs/get`` +
    ``clusters/get`` + a listing of the log destination). Destinations outside Databricks (S3/ABFS) count as
    ready, and the record step still checks the log holds the application end (retrying itself).

    :return: (ready, reason when not ready).
    """
    run = hook.get_run(run_id)
    state = RunStateFacts.from_api(run.get("state"))
    if state.life_cycle_state not in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR"):
        return False, f"run {run_id} is {state.life_cycle_state or 'unknown'}"
    for task in list(run.get("tasks") or []) or [run]:
        inst = task.get("cluster_instance") or {}
        cid = inst.get("cluster_id")
        if not cid:
            continue
        cluster = hook.get_cluster(str(cid))
        dest = log_destination(cluster)
        if not dest or not dest.startswith(("dbfs:", "/Volumes/")):
            continue
        files = hook.list_recursive(f"{dest.rstrip('/')}/{cid}/eventlog")
        parts = eventlog_files(files, inst.get("spark_context_id") or cluster.get("spark_context_id"))
        live = [p for p in parts if Path(str(p["path"])).name == "eventlog"]
        if not live:
            return False, f"cluster {cid}: final eventlog part not delivered"
    return True, ""
