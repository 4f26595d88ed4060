"""Turn facts collected about a Databricks run into the service's ``RunIn`` (no Airflow, no network).

The collectors (``hooks/collectors``) gather :class:`CollectedRun` values: run state, the cluster's
``clusters/get`` answer and events, cloud instances/volumes and the parsed event log. This module
classifies the outcome (success / failed / oom / cancelled), rebuilds the cluster's node timeline and
prices it with :func:`~airflow_provider_gradient.core.pricing.compute_run_cost`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_gradient.core.cluster import Cluster, ClusterError
from airflow_provider_gradient.core.pricing import (
    ClusterTimeline,
    NodeInterval,
    PriceCatalog,
    RunCost,
    VolumeInterval,
    compute_run_cost,
    ebs_volume_type,
)

Outcome = Literal["success", "failed", "oom", "cancelled"]
LogStatus = Literal["complete", "incomplete", "missing"]

#: Messages/termination codes that mean the job ran out of memory (driver or executors).
OOM_PATTERN = re.compile(
    r"out\s*of\s*memory|OutOfMemoryError|\bOOM\b|java heap space|GC overhead limit exceeded|"
    r"exit code 137|Container killed .*memory|DRIVER_OUT_OF_MEMORY|SPARK_DRIVER_OOM|memory limit exceeded",
    re.IGNORECASE,
)
_CANCELLED = {"CANCELED", "CANCELLED", "SKIPPED", "EXCLUDED"}
_WORKER_COUNT_EVENTS = {
    "RUNNING",
    "RESIZING",
    "UPSIZE_COMPLETED",
    "NODES_LOST",
    "AUTOSCALING_STATS_REPORT",
    "DID_NOT_EXPAND_DISK",
}
_START_EVENTS = ("CREATING", "STARTING", "RESTARTING")
_END_EVENTS = ("TERMINATING", "TERMINATED")


class IngestError(ValueError):
    """The collected facts cannot be turned into a run record (names what is missing)."""


@dataclass(frozen=True, slots=True)
class RunStateFacts:
    """Databricks run state (``runs/get`` ``state``)."""

    life_cycle_state: str
    result_state: str = ""
    state_message: str = ""

    @classmethod
    def from_api(cls, state: Mapping[str, Any] | None) -> RunStateFacts:
        state = state or {}
        return cls(
            str(state.get("life_cycle_state") or ""),
            str(state.get("result_state") or ""),
            str(state.get("state_message") or ""),
        )


@dataclass(frozen=True, slots=True)
class CloudInstance:
    """A VM seen in the cloud account (EC2 instance / Azure VM) tagged with the cluster id."""

    instance_id: str
    instance_type: str
    market: str  # "on_demand" | "spot"
    start_ms: int
    end_ms: int | None = None
    role: str | None = None  # "driver" | "worker" | None (unknown)
    state_reason: str | None = None  # why it ended, e.g. EC2 "Server.SpotInstanceTermination"


@dataclass(frozen=True, slots=True)
class CloudVolume:
    """A disk attached to the cluster's VMs (EBS volume / Azure managed disk)."""

    volume_id: str
    volume_type: str
    size_gb: float
    start_ms: int
    end_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """One cluster of a run: ``clusters/get``, its events and what the cloud reported."""

    cluster_id: str
    cluster: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[Mapping[str, Any], ...] = ()
    instances: tuple[CloudInstance, ...] = ()
    volumes: tuple[CloudVolume, ...] = ()
    spark_context_id: str | None = None


@dataclass(frozen=True, slots=True)
class CollectedRun:
    """Everything collected about one cluster of one Databricks run.

    :param submitted_cluster: the ``new_cluster`` that was submitted (after Gradient's merge).
    :param summary: parsed event log (``AppSummary``) or None.
    :param log_status: ``complete``, ``incomplete`` (partial/late) or ``missing``.
    """

    databricks_run_id: int
    state: RunStateFacts
    start_ms: int
    end_ms: int
    submitted_cluster: Mapping[str, Any]
    cluster: ClusterFacts | None = None
    summary: Any | None = None
    log_status: LogStatus = "missing"
    log_reason: str | None = None
    recommendation_id: Any | None = None
    task_keys: tuple[str, ...] = ()


def classify_outcome(
    state: RunStateFacts, cluster: ClusterFacts | None = None, summary: Any = None
) -> Outcome:
    """Classify a terminal run: ``oom`` (state message, termination reason or event log), ``cancelled``,
    ``success`` or ``failed``."""
    texts = [state.state_message]
    if cluster is not None:
        reason = cluster.cluster.get("termination_reason") or {}
        if isinstance(reason, Mapping):
            texts.append(str(reason.get("code") or ""))
            texts.extend(str(v) for v in (reason.get("parameters") or {}).values())
        texts.append(str(cluster.cluster.get("state_message") or ""))
    oom = any(OOM_PATTERN.search(t) for t in texts if t) or bool(getattr(summary, "oom_detected", False))
    if state.result_state == "SUCCESS" and not oom:
        return "success"
    if oom and state.result_state != "SUCCESS":
        return "oom"
    if state.result_state.upper() in _CANCELLED or state.life_cycle_state.upper() in _CANCELLED:
        return "cancelled"
    return "success" if state.result_state == "SUCCESS" else "failed"


def _cluster(spec: Mapping[str, Any]) -> Cluster:
    """The spec as a :class:`~airflow_provider_gradient.core.cluster.Cluster` (IngestError naming a bad field)."""
    try:
        return Cluster.from_databricks(spec, strict=False)
    except ClusterError as exc:
        raise IngestError(str(exc)) from exc


def _submitted(run: CollectedRun) -> Cluster:
    """The submitted cluster, read leniently (an unreadable one counts as fixed-size on-demand: only hints
    depend on it; pricing reports the bad field)."""
    try:
        return Cluster.from_databricks(run.submitted_cluster, strict=False)
    except ClusterError:
        return Cluster()


def _market(cluster: Cluster) -> tuple[str, int]:
    """(worker market, number of on-demand nodes counting the driver) of a cluster."""
    if cluster.spot:
        return "spot", cluster.first_on_demand
    return "on_demand", 1 << 30


def _event_ms(event: Mapping[str, Any]) -> int:
    return int(event.get("timestamp") or 0)


def _worker_count(event: Mapping[str, Any]) -> int | None:
    details = event.get("details") or {}
    for key in ("current_num_workers", "num_workers"):
        if isinstance(details, Mapping) and details.get(key) is not None:
            return int(details[key])
    return None


def timeline_from_events(
    cluster: Mapping[str, Any], events: Sequence[Mapping[str, Any]], start_ms: int, end_ms: int
) -> ClusterTimeline:
    """Rebuild driver/worker intervals from ``clusters/events`` (resizes, lost nodes) and the spec.

    Without events the spec's size (``num_workers`` or ``autoscale.min_workers``) is assumed for the run.

    :raises IngestError: no node type, or a bad field of the spec (named).
    """
    c = _cluster(cluster)
    node_type, driver_type = c.node_type_id, c.driver_type
    if not node_type:
        raise IngestError("cluster has no node_type_id: cannot price it")
    market, first_on_demand = _market(c)
    evs = sorted((e for e in events if _event_ms(e) > 0), key=_event_ms)
    c_start = next((_event_ms(e) for e in evs if e.get("type") in _START_EVENTS), None)
    c_end = next((_event_ms(e) for e in evs if e.get("type") in _END_EVENTS), None)
    t0 = min(c_start, start_ms) if c_start else start_ms
    t1 = max(c_end, t0) if c_end else max(end_ms, t0)
    driver_market = "on_demand" if first_on_demand >= 1 else market
    nodes = [NodeInterval(driver_type, "driver", driver_market, t0, t1)]
    steps = [
        (_event_ms(e), n)
        for e in evs
        if e.get("type") in _WORKER_COUNT_EVENTS and (n := _worker_count(e)) is not None
    ]
    if not steps:
        size = c.num_workers if c.num_workers is not None else c.min_workers
        steps = [(t0, size)]
    active: list[int] = []  # start times of live workers (stack: last added is first removed)
    worker_index: list[int] = []
    for ts, count in steps:
        ts = min(max(ts, t0), t1)
        while len(active) < count:
            active.append(ts)
            worker_index.append(len(worker_index))
        while len(active) > count:
            s = active.pop()
            idx = worker_index.pop()
            nodes.append(
                NodeInterval(node_type, "worker", _worker_market(idx, market, first_on_demand), s, ts)
            )
    for s, idx in zip(active, worker_index, strict=True):
        nodes.append(NodeInterval(node_type, "worker", _worker_market(idx, market, first_on_demand), s, t1))
    return ClusterTimeline(nodes=tuple(nodes))


def _worker_market(index: int, market: str, first_on_demand: int) -> str:
    # first_on_demand counts the driver: workers 0..first_on_demand-2 are on-demand too
    return "on_demand" if market == "on_demand" or index < first_on_demand - 1 else "spot"


def timeline_from_cloud(cluster: ClusterFacts, start_ms: int, end_ms: int) -> ClusterTimeline:
    """Intervals from the cloud's own instance/volume lifetimes (open ends close at ``end_ms``)."""
    driver_id = str((cluster.cluster.get("driver") or {}).get("instance_id") or "")
    nodes = []
    for i, inst in enumerate(sorted(cluster.instances, key=lambda x: (x.start_ms, x.instance_id))):
        role = inst.role or (
            "driver" if inst.instance_id == driver_id or (not driver_id and i == 0) else "worker"
        )
        s = inst.start_ms
        e = max(s, inst.end_ms if inst.end_ms is not None else end_ms)
        nodes.append(NodeInterval(inst.instance_type, role, inst.market, s, e))
    vols = []
    for v in cluster.volumes:
        e = max(v.start_ms, v.end_ms if v.end_ms is not None else end_ms)
        vols.append(VolumeInterval(v.volume_type, float(v.size_gb), v.start_ms, e))
    return ClusterTimeline(nodes=tuple(nodes), volumes=tuple(vols))


def spec_volumes(cluster: Mapping[str, Any], nodes: Sequence[NodeInterval]) -> tuple[VolumeInterval, ...]:
    """EBS volumes the spec attaches to every node (``aws_attributes.ebs_volume_count`` x ``ebs_volume_size``
    GB), each living as long as its node. Used when the cloud does not list them (no AWS connection, or the
    volumes were deleted with their instances)."""
    try:
        c = Cluster.from_databricks(cluster, strict=False)
    except ClusterError:
        return ()
    count, size = c.ebs_volume_count, float(c.ebs_volume_size_gb)
    if count <= 0 or size <= 0:
        return ()
    vtype = ebs_volume_type(c.ebs_volume_type)
    return tuple(VolumeInterval(vtype, size, n.start_ms, n.end_ms) for n in nodes for _ in range(count))


def run_spec(run: CollectedRun) -> dict[str, Any]:
    """The run's cluster spec: what was submitted, overlaid by what ``clusters/get`` reported."""
    spec = dict(run.submitted_cluster)
    if run.cluster is not None:
        spec = {**spec, **{k: v for k, v in run.cluster.cluster.items() if v is not None}}
    return spec


def build_timeline(run: CollectedRun) -> tuple[ClusterTimeline, bool]:
    """The run's timeline and whether it came from the cloud (exact launch times).

    Volumes: the cloud's (EBS found by ``ClusterId`` tag / block-device mapping), else the spec's EBS
    volumes on every node.
    """
    spec = run_spec(run)
    if run.cluster is not None and run.cluster.instances:
        timeline, from_cloud = timeline_from_cloud(run.cluster, run.start_ms, run.end_ms), True
    else:
        events: Sequence[Mapping[str, Any]] = run.cluster.events if run.cluster is not None else ()
        timeline, from_cloud = timeline_from_events(spec, events, run.start_ms, run.end_ms), False
    if not timeline.volumes:
        volumes = spec_volumes(spec, timeline.nodes)
        if volumes:
            timeline = ClusterTimeline(nodes=timeline.nodes, volumes=volumes)
    return timeline, from_cloud


def price_run(
    run: CollectedRun, catalog: PriceCatalog, *, cloud: str, region: str, plan: str = "Premium"
) -> RunCost:
    """Price a collected run (Photon by ``runtime_engine`` or a ``-photon-`` Spark version, see
    :attr:`~airflow_provider_gradient.core.cluster.Cluster.photon`)."""
    timeline, from_cloud = build_timeline(run)
    photon = _cluster(run_spec(run)).photon
    return compute_run_cost(
        timeline,
        catalog,
        cloud=cloud,
        region=region,
        plan=plan,
        photon=photon,
        startup_overhead_s=0.0 if from_cloud else None,
    )


def summary_dict(summary: Any) -> dict[str, Any] | None:
    """JSON-safe dict of an ``AppSummary`` (its ``to_dict``), or None."""
    if summary is None:
        return None
    to_dict = getattr(summary, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else dict(summary)


def runtime_s(run: CollectedRun) -> float:
    """Wall-clock runtime of the run in seconds."""
    return max(0.0, (run.end_ms - run.start_ms) / 1000.0)


def to_run_in(
    run: CollectedRun,
    catalog: PriceCatalog,
    *,
    cloud: str,
    region: str,
    plan: str = "Premium",
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """Build the service's ``RunIn`` for a collected run (outcome, cost, metrics, log status).

    :param extra: more ``RunIn`` fields (``dag_id``, ``task_id``, ``airflow_run_id``, ``try_number``).
    :raises IngestError: when the run cannot be priced (message says why).
    """
    from airflow_provider_gradient.core.pricing import PricingError
    from airflow_provider_gradient.service.schemas import RunIn

    outcome = classify_outcome(run.state, run.cluster, run.summary)
    try:
        cost = price_run(run, catalog, cloud=cloud, region=region, plan=plan)
    except PricingError as e:
        raise IngestError(f"run {run.databricks_run_id}: cannot price the cluster: {e}") from e
    return RunIn(**{**run_in_fields(run, outcome, cost), **dict(extra or {})})


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
    messages = tuple(getattr(run.summary, "oom_messages", None) or ())
    if not messages and isinstance(run.summary, Mapping):
        messages = tuple(run.summary.get("oom_messages") or ())
    if messages:
        return "the Spark event log", _clip(str(messages[0]))
    return None


def _clip(line: str, limit: int = 300) -> str:
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def run_spot_evidence(run: CollectedRun) -> Any:
    """Spot workers the run lost (:func:`~airflow_provider_gradient.service.spot.spot_evidence`)."""
    from airflow_provider_gradient.service.spot import spot_evidence

    cluster = run.cluster
    return spot_evidence(
        events=cluster.events if cluster is not None else (),
        instances=cluster.instances if cluster is not None else (),
        summary=run.summary,
        texts=(run.state.state_message,),
        spot_cluster=_submitted(run).spot,
    )


def worker_stats(timeline: ClusterTimeline, start_ms: int, end_ms: int) -> dict[str, float] | None:
    """Time-weighted worker count of a cluster while the run had workers (``cluster_workers_avg``/``_min``/
    ``_max``), from its node timeline (cluster events or cloud instances): from the first worker's arrival (the
    cluster's start-up is not part of it) to the end of the run. None without workers or duration.

    :param timeline: the run's nodes.
    :param start_ms: run start.
    :param end_ms: run end.
    """
    spans = [(max(n.start_ms, start_ms), min(n.end_ms, end_ms)) for n in timeline.nodes if n.role == "worker"]
    spans = [(s, e) for s, e in spans if e > s]
    if not spans:
        return None
    t0 = min(s for s, _ in spans)
    deltas: dict[int, int] = {}
    for s, e in spans:
        deltas[s] = deltas.get(s, 0) + 1
        deltas[e] = deltas.get(e, 0) - 1
    count, t, area = 0, t0, 0.0
    lo: int | None = None
    hi = 0
    for ts in sorted(deltas):
        if ts > t:
            area += count * (ts - t)
            lo = count if lo is None else min(lo, count)
            hi = max(hi, count)
        count += deltas[ts]
        t = ts
    return {
        "cluster_workers_avg": round(area / max(t - t0, 1), 3),
        "cluster_workers_min": float(lo or 0),
        "cluster_workers_max": float(hi),
    }


def run_in_fields(run: CollectedRun, outcome: Outcome, cost: RunCost) -> dict[str, Any]:
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
        "cost": {k: v for k, v in cost.to_dict().items() if k != "dbus"},
        "recommendation_id": int(rec_id) if rec_id not in (None, "", "none") else None,
        "log_status": run.log_status,
        "log_reason": run.log_reason,
    }
