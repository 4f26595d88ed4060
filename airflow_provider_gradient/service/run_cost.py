"""The node timeline of a collected run and its price (no Airflow, no network).

The timeline comes from the cloud's own instance/volume lifetimes when the collectors found them, else from the
cluster's ``clusters/events`` and spec; it is priced with
:func:`~airflow_provider_gradient.core.pricing.compute_run_cost`. Also: the time-weighted worker count of an
autoscaled run (:func:`worker_stats`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_gradient.core.cluster import Cluster, ClusterError, cloud_of_node_type
from airflow_provider_gradient.core.pricing import (
    ClusterTimeline,
    ComputeUse,
    NodeInterval,
    PriceCatalog,
    RunCost,
    VolumeInterval,
    compute_run_cost,
    compute_use,
    ebs_volume_type,
    reported_region,
)
from airflow_provider_gradient.service.collected import ClusterFacts, CollectedRun, IngestError

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


def _cluster(spec: Mapping[str, Any]) -> Cluster:
    """The spec as a :class:`~airflow_provider_gradient.core.cluster.Cluster` (IngestError naming a bad field)."""
    try:
        return Cluster.from_databricks(spec, strict=False)
    except ClusterError as exc:
        raise IngestError(str(exc)) from exc


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


def run_compute(run: CollectedRun) -> ComputeUse:
    """The compute type the run was billed as (:func:`~airflow_provider_gradient.core.pricing.compute_use` of its
    cluster report and submitted ``new_cluster``)."""
    return compute_use(run.cluster.cluster if run.cluster is not None else None, run.submitted_cluster)


_ATTRIBUTE_CLOUDS = (("azure_attributes", "azure"), ("gcp_attributes", "gcp"), ("aws_attributes", "aws"))


def run_cloud(run: CollectedRun, configured: str) -> str:
    """The cloud the run's cluster ran in: its attributes block (``clusters/get`` reports ``aws_attributes`` /
    ``azure_attributes`` / ``gcp_attributes``), else an Azure/GCP node type name (``Standard_…``, ``n2-…``), else
    ``configured`` (``[gradient] cloud``).

    :param configured: the ``[gradient] cloud`` of the worker.
    """
    spec = run_spec(run)
    for block, cloud in _ATTRIBUTE_CLOUDS:
        if isinstance(spec.get(block), Mapping):
            return cloud
    named = cloud_of_node_type(str(spec.get("node_type_id") or ""))
    return named if named != "aws" else configured


def run_region(run: CollectedRun) -> tuple[str | None, str]:
    """The region the run's cluster reported (its zone, its instances', else its event log's), and where it was
    read."""
    eventlog = run.summary.cluster.region if run.summary is not None and run.summary.cluster is not None else None
    zones = tuple(i.zone for i in run.cluster.instances) if run.cluster is not None else ()
    return reported_region(run_spec(run), eventlog, zones)


def price_run(
    run: CollectedRun,
    catalog: PriceCatalog,
    *,
    cloud: str,
    region: str,
    plan: str = "Premium",
    compute: ComputeUse | None = None,
) -> RunCost:
    """Price a collected run at the $/DBU of the compute it was billed as (:func:`run_compute`: jobs, Jobs Light,
    all-purpose ...; an unknown one at the jobs rate) and Photon (``runtime_engine`` or a ``-photon-`` Spark
    version, see :attr:`~airflow_provider_gradient.core.cluster.Cluster.photon`).

    :param compute: the compute type (None: :func:`run_compute`).
    """
    timeline, from_cloud = build_timeline(run)
    use = compute if compute is not None else run_compute(run)
    return compute_run_cost(
        timeline,
        catalog,
        cloud=cloud,
        region=region,
        plan=plan,
        compute_type=use.priced_as,
        photon=use.photon or _cluster(run_spec(run)).photon,
        startup_overhead_s=0.0 if from_cloud else None,
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
