"""Turn a :class:`~airflow_provider_gradient.service.collected.CollectedRun` into the service's ``RunIn`` (no Airflow,
no network): classify the outcome (success / failed / oom / cancelled), find the OOM and spot evidence, price it
(:mod:`~airflow_provider_gradient.service.run_cost`) and map the metrics.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from airflow_provider_gradient.core.cluster import Cluster, ClusterError
from airflow_provider_gradient.core.pricing import PriceCatalog, RunCost
from airflow_provider_gradient.service.collected import ClusterFacts, CollectedRun, IngestError, RunStateFacts
from airflow_provider_gradient.service.errors import GradientValidationError
from airflow_provider_gradient.service.run_cost import (
    build_timeline,
    price_run,
    run_cloud,
    run_compute,
    run_region,
    worker_stats,
)
from airflow_provider_gradient.service.spot import SpotEvidence, spot_evidence

if TYPE_CHECKING:
    from airflow_provider_gradient.core.eventlog import AppSummary
    from airflow_provider_gradient.service.schemas import RunIn, RunPricing

Outcome = Literal["success", "failed", "oom", "cancelled", "timeout"]

#: Messages/termination codes that mean the job ran out of memory (driver or executors).
OOM_PATTERN = re.compile(
    r"out\s*of\s*memory|OutOfMemoryError|\bOOM\b|java heap space|GC overhead limit exceeded|"
    r"exit code 137|Container killed .*memory|DRIVER_OUT_OF_MEMORY|SPARK_DRIVER_OOM|memory limit exceeded",
    re.IGNORECASE,
)
_CANCELLED = {"CANCELED", "CANCELLED", "SKIPPED", "EXCLUDED"}
#: ``result_state`` of a run Databricks stopped at its ``timeout_seconds`` (the task's or the job's)
_TIMEDOUT = {"TIMEDOUT", "TIMED_OUT"}


def classify_outcome(
    state: RunStateFacts, cluster: ClusterFacts | None = None, summary: AppSummary | None = None
) -> Outcome:
    """Classify a terminal run: ``oom`` (state message, termination reason or event log), ``cancelled``,
    ``timeout`` (Databricks stopped it at its ``timeout_seconds``: result state ``TIMEDOUT``), ``success`` or
    ``failed``."""
    texts = [state.state_message]
    if cluster is not None:
        reason = cluster.cluster.get("termination_reason") or {}
        if isinstance(reason, Mapping):
            texts.append(str(reason.get("code") or ""))
            texts.extend(str(v) for v in (reason.get("parameters") or {}).values())
        texts.append(str(cluster.cluster.get("state_message") or ""))
    oom = any(OOM_PATTERN.search(t) for t in texts if t) or (summary is not None and summary.oom_detected)
    if state.result_state == "SUCCESS" and not oom:
        return "success"
    if oom and state.result_state != "SUCCESS":
        return "oom"
    if state.result_state.upper() in _CANCELLED or state.life_cycle_state.upper() in _CANCELLED:
        return "cancelled"
    if state.result_state.upper() in _TIMEDOUT:
        return "timeout"
    return "success" if state.result_state == "SUCCESS" else "failed"


def _submitted(run: CollectedRun) -> Cluster:
    """The submitted cluster, read leniently (an unreadable one counts as fixed-size on-demand: only hints
    depend on it; pricing reports the bad field)."""
    try:
        return Cluster.from_databricks(run.submitted_cluster, strict=False)
    except ClusterError:
        return Cluster()


def summary_dict(summary: AppSummary | None) -> dict[str, Any] | None:
    """JSON-safe dict of an ``AppSummary`` (its ``to_dict``), or None."""
    return None if summary is None else summary.to_dict()


def runtime_s(run: CollectedRun) -> float:
    """Wall-clock runtime of the run in seconds."""
    return max(0.0, (run.end_ms - run.start_ms) / 1000.0)


def price_collected(
    run: CollectedRun,
    catalog: PriceCatalog,
    *,
    cloud: str,
    region: str | None,
    plan: str = "Premium",
    region_source: str | None = None,
) -> tuple[RunCost | None, RunPricing]:
    """Price a run by what it really used, and say what the price was computed from.

    Cloud: the cluster's own (:func:`~airflow_provider_gradient.service.run_cost.run_cloud`), else ``cloud``.
    Region: the one its cluster reported (zone, event log), else ``region`` (the project's or ``[gradient]``'s);
    none known -> not priced (never another region's prices). Compute type: what Databricks reported
    (:func:`~airflow_provider_gradient.service.run_cost.run_compute`); a type the catalog has no $/DBU for, or a
    region it has no prices for -> not priced, and the record says why.

    :param region: the region to use when the cluster reports none (None: unknown).
    :param region_source: where ``region`` comes from (default ``[gradient] region``).
    :raises IngestError: the cluster cannot be priced for another reason (e.g. a node type the catalog lacks).
    """
    from airflow_provider_gradient.core.pricing import PricingError, UnknownPlanError, UnknownRegionError
    from airflow_provider_gradient.service.schemas import SETTINGS_REGION, RunPricing

    configured_cloud, cloud = cloud, run_cloud(run, cloud)
    reported, where = run_region(run)
    used = reported or region
    use = run_compute(run)
    facts: dict[str, Any] = {
        "cloud": cloud,
        "region": used,
        "region_source": where if reported else ((region_source or SETTINGS_REGION) if region else None),
        "plan_type": plan,
        "compute_type": use.compute_type,
        "compute_known": use.known,
        "compute_source": use.source[:200],
        "photon": use.photon,
    }
    notes = [] if use.known else [f"compute type unknown ({use.source}): DBUs priced at the jobs compute rate"]
    if cloud != configured_cloud:
        notes.append(f"cloud {cloud} (the cluster's; [gradient] cloud is {configured_cloud})")
    if used is None:
        notes.insert(0, "not priced: the workspace region is not known (the cluster reported no zone, instance zone "
                        "or event-log region; set it with `gradient projects update APP_ID --region R`, the "
                        "Databricks connection's region extra or [gradient] region)")
        return None, RunPricing(**facts, priced=False, note="; ".join(notes)[:500])
    try:
        cost = price_run(run, catalog, cloud=cloud, region=used, plan=plan, compute=use)
    except (UnknownPlanError, UnknownRegionError) as e:
        notes.insert(0, f"not priced: {e} (add it to [gradient] price_catalog, see docs/pricing.md)")
        return None, RunPricing(**facts, priced=False, note="; ".join(notes)[:500])
    except PricingError as e:
        raise IngestError(f"run {run.databricks_run_id}: cannot price the cluster: {e}") from e
    return cost, RunPricing(**facts, priced=True, note="; ".join(notes)[:500] or None)


def to_run_in(
    run: CollectedRun,
    catalog: PriceCatalog,
    *,
    cloud: str,
    region: str | None,
    plan: str = "Premium",
    extra: Mapping[str, Any] | None = None,
    region_source: str | None = None,
) -> RunIn:
    """Build the service's ``RunIn`` for a collected run (outcome, cost and what it was computed from, metrics,
    log status).

    :param region: the region when the run's cluster reports none (:func:`price_collected`), from
        ``region_source``.
    :param extra: more ``RunIn`` fields (``dag_id``, ``task_id``, ``airflow_run_id``, ``try_number``).
    :raises IngestError: when the run cannot be priced (message says why).
    :raises GradientValidationError: a collected value is not a valid ``RunIn`` one; the message names the field,
        never its value (pydantic's own quotes it, and a run's cluster or Airflow side can carry secrets).
    """
    from airflow_provider_gradient.service.schemas import RunIn

    outcome = classify_outcome(run.state, run.cluster, run.summary)
    try:
        cost, pricing = price_collected(run, catalog, cloud=cloud, region=region, plan=plan,
                                        region_source=region_source)
        fields = run_in_fields(run, outcome, cost)
        return RunIn(**{**fields, "pricing": pricing, **dict(extra or {})})
    except ValidationError as exc:  # its message would quote the run's values (secrets): fields only
        raise GradientValidationError.from_pydantic(exc, ("run",)) from None


def oom_evidence(run: CollectedRun) -> tuple[str, str] | None:
    """(where, line) of the first out-of-memory evidence of a run, or None.

    Looked for, in order: the run's state message, the cluster's termination reason and state message,
    the Spark event log (task failures, executor losses, failed jobs/stages).
    """
    candidates: list[tuple[str, str]] = [("the Databricks run state", run.state.state_message)]
    if run.cluster is not None:
        reason = run.cluster.cluster.get("termination_reason") or {}
        if isinstance(reason, Mapping):
            params = reason.get("parameters") or {}
            detail = " ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, Mapping) else ""
            candidates.append(("the cluster termination reason", f"{reason.get('code') or ''} {detail}".strip()))
        candidates.append(("the cluster state message", str(run.cluster.cluster.get("state_message") or "")))
    for where, text in candidates:
        for line in (text or "").splitlines():
            if OOM_PATTERN.search(line):
                return where, _clip(line)
    messages = run.summary.oom_messages if run.summary is not None else ()
    if messages:
        return "the Spark event log", _clip(str(messages[0]))
    return None


def _clip(line: str, limit: int = 300) -> str:
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def run_spot_evidence(run: CollectedRun) -> SpotEvidence:
    """Spot workers the run lost (:func:`~airflow_provider_gradient.service.spot.spot_evidence`)."""
    cluster = run.cluster
    return spot_evidence(
        events=cluster.events if cluster is not None else (),
        instances=cluster.instances if cluster is not None else (),
        summary=run.summary,
        texts=(run.state.state_message,),
        spot_cluster=_submitted(run).spot,
    )


def run_in_fields(run: CollectedRun, outcome: Outcome, cost: RunCost | None) -> dict[str, Any]:
    """The ``RunIn`` field values (split out so the mapping is testable on its own).

    An autoscaled run's metrics also get its time-weighted worker count from the node timeline
    (:func:`worker_stats`): the optimiser models it at that average.
    """
    summary = summary_dict(run.summary)
    if _submitted(run).is_autoscale:
        try:
            stats = worker_stats(build_timeline(run)[0], int(run.start_ms), int(run.end_ms))
        except ValueError:  # IngestError / PricingError: no timeline, no stats
            stats = None
        if stats:
            summary = {**(summary or {}), **stats}
    input_bytes = summary.get("input_bytes") if summary else None
    message = run.state.state_message
    if run.cluster is not None and outcome != "success":
        reason = run.cluster.cluster.get("termination_reason") or {}
        if isinstance(reason, Mapping) and reason.get("code") and reason.get("code") != "JOB_FINISHED":
            message = f"{message} (cluster: {reason.get('code')})".strip()
    if outcome == "oom":
        evidence = oom_evidence(run)
        if evidence is not None and evidence[1] not in message:
            message = f"Out of memory: {evidence[1]} (found in {evidence[0]})" + (f". Databricks: {message}" if message else "")
    spot = run_spot_evidence(run)
    if spot.interruptions:
        summary = {**(summary or {}), "spot_interruptions": spot.interruptions}
        if outcome == "failed":
            summary["failure_kind"] = "spot"
            message = f"Spot interruption: {spot.describe()}" + (f". Databricks: {message}" if message else "")
    rec_id = run.recommendation_id
    return {
        "databricks_run_id": int(run.databricks_run_id),
        "outcome": outcome,
        "task_key": ",".join(run.task_keys)[:250] or None,
        "cluster_id": run.cluster.cluster_id if run.cluster is not None else None,
        "cluster_config": dict(run.submitted_cluster),
        "start_ms": int(run.start_ms),
        "end_ms": max(int(run.end_ms), int(run.start_ms)),
        "failure_message": (message[:2000] or None) if outcome != "success" else None,
        "input_bytes": int(input_bytes) if input_bytes is not None else None,
        "metrics": summary,
        "cost": {k: v for k, v in cost.to_dict().items() if k != "dbus"} if cost is not None else None,
        "recommendation_id": int(rec_id) if rec_id not in (None, "", "none") else None,
        "log_status": run.log_status,
        "log_reason": run.log_reason,
    }
