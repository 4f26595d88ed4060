"""Cluster views of the emulator: clusters/get, clusters/events (derived from the simulation), node types."""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any

from airflow_provider_gradient.simulator.errors import ApiError, bad_request, not_found
from airflow_provider_gradient.simulator.models import TERMINATE_S, SimResult

if TYPE_CHECKING:
    from airflow_provider_gradient.simulator.state import WorkspaceState

__all__ = ["cluster_end_s", "compose", "cluster_events", "cluster_phase", "find_cluster", "get_cluster", "node_type_list"]


def find_cluster(st: WorkspaceState, cluster_id: Any) -> dict[str, Any]:
    c = st.clusters.get(str(cluster_id))
    if c is None:
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Cluster {cluster_id} does not exist")
    return c


def cluster_phase(st: WorkspaceState, c: dict[str, Any], now: int) -> tuple[str, str]:
    """(state, state_message) of a cluster at ``now``."""
    res = st.sim(c["cluster_id"])
    rel = (now - c["created_ms"]) / 1000.0
    end = cluster_end_s(c)
    if c["internal_error"]:
        return ("TERMINATED", "Cloud provider launch failure") if rel >= 90 else ("PENDING", "Starting Spark")
    if rel < res.app_start_s:
        return "PENDING", "Starting Spark"
    if rel < end - TERMINATE_S:
        return "RUNNING", ""
    if rel < end:
        return "TERMINATING", "Job finished"
    return "TERMINATED", "Job finished"


def cluster_end_s(c: dict[str, Any]) -> float:
    return (int(c["end_ms"]) - int(c["created_ms"])) / 1000.0


def get_cluster(st: WorkspaceState, cluster_id: Any) -> dict[str, Any]:
    """clusters/get."""
    with st.lock:
        c = find_cluster(st, cluster_id)
        now = st.clock.now_ms()
        state, msg = cluster_phase(st, c, now)
        nc = c["new_cluster"]
        res = st.sim(c["cluster_id"])
        rel = (now - c["created_ms"]) / 1000.0
        workers = sum(1 for n in res.nodes if n.role == "worker" and n.start_s <= rel < n.end_s)
        out: dict[str, Any] = {k: copy.deepcopy(v) for k, v in nc.items()}
        out.update({
            "cluster_id": c["cluster_id"], "cluster_name": c["cluster_name"], "state": state, "state_message": msg,
            "spark_context_id": c["spark_context_id"], "driver_node_type_id": res.spec.driver_node_type_id,
            "start_time": c["created_ms"], "creator_user_name": "emulator@example.com", "cluster_source": "JOB",
            "default_tags": {"Vendor": "Databricks", "Creator": "emulator@example.com", "ClusterName": c["cluster_name"],
                             "ClusterId": c["cluster_id"], "JobId": str(c["job_id"]), "RunName": c["cluster_name"]},
            "custom_tags": dict(nc.get("custom_tags") or {}),
            "num_workers": workers if state == "RUNNING" else nc.get("num_workers", 0),
            "driver": {"private_ip": c["driver_ip"], "host_private_ip": c["driver_ip"], "node_id": c["cluster_id"] + "-d",
                       "start_timestamp": c["created_ms"]},
            "executors": [{"private_ip": f"10.0.0.{n.index}", "node_id": f"{c['cluster_id']}-w{n.index}",
                           "start_timestamp": c["created_ms"] + int(n.start_s * 1000)}
                          for n in res.nodes if n.role == "worker" and n.start_s <= rel < n.end_s],
            "cluster_memory_mb": 0, "cluster_cores": 0.0,
        })
        if state == "TERMINATED":
            end_ms = c["created_ms"] + int(cluster_end_s(c) * 1000)
            out["terminated_time"] = end_ms
            out["termination_reason"] = termination_reason(c, res)
        if nc.get("cluster_log_conf"):
            out["cluster_log_conf"] = copy.deepcopy(nc["cluster_log_conf"])
            out["cluster_log_status"] = {"last_attempted": now}
        return out


def cluster_events(st: WorkspaceState, req: dict[str, Any]) -> dict[str, Any]:
    """clusters/events with Databricks' pagination (``next_page`` repeats the request with a new offset)."""
    f = st.faults.faults
    with st.lock:
        c = find_cluster(st, req.get("cluster_id"))
        offset = int(req.get("offset", 0) or 0)
        limit = int(req.get("limit", 50) or 50)
        if limit < 1 or limit > 500:
            raise bad_request("limit must be between 1 and 500")
        if f.events_missing_pages and offset > 0:
            raise not_found("events page not found (injected fault)")
        now = st.clock.now_ms()
        events = [] if f.events_empty else [e for e in cluster_event_list(st, c) if e["timestamp"] <= now]
        if req.get("start_time"):
            events = [e for e in events if e["timestamp"] >= int(req["start_time"])]
        if req.get("end_time"):
            events = [e for e in events if e["timestamp"] <= int(req["end_time"])]
        if req.get("event_types"):
            events = [e for e in events if e["type"] in set(req["event_types"])]
        if str(req.get("order", "DESC")).upper() == "DESC":
            events.reverse()
        page = events[offset:offset + limit]
        out: dict[str, Any] = {"events": page, "total_count": len(events)}
        if offset + limit < len(events):
            nxt = {k: v for k, v in req.items()}
            nxt.update(offset=offset + limit, limit=limit)
            out["next_page"] = nxt
        return out


def cluster_event_list(st: WorkspaceState, c: dict[str, Any]) -> list[dict[str, Any]]:
    res = st.sim(c["cluster_id"])
    t0 = c["created_ms"]
    cid = c["cluster_id"]

    def ev(t_s: float, kind: str, details: dict[str, Any]) -> dict[str, Any]:
        return {"cluster_id": cid, "timestamp": t0 + int(t_s * 1000), "type": kind, "details": details}

    target = res.spec.min_workers
    out = [ev(0, "CREATING", {"user": "emulator@example.com"})]
    if c["internal_error"]:
        reason = {"code": "CLOUD_PROVIDER_LAUNCH_FAILURE", "type": "CLOUD_FAILURE", "parameters": {}}
        return out + [ev(80, "TERMINATING", {"reason": reason}), ev(90, "TERMINATED", {"reason": reason})]
    out.append(ev(res.startup_s * 0.5, "STARTING", {}))
    out.append(ev(res.startup_s - 5, "DRIVER_HEALTHY", {}))
    out.append(ev(res.startup_s, "RUNNING", {"current_num_workers": target, "target_num_workers": target}))
    end_s = cluster_end_s(c)
    changes: list[tuple[float, int, str]] = []
    for n in res.nodes:
        if n.role != "worker":
            continue
        if res.startup_s < n.start_s < end_s:
            changes.append((n.start_s, 1, "AUTOSCALE" if res.spec.is_autoscale else "REPLACE_BAD_NODES"))
        if n.removed_reason and n.end_s < end_s - TERMINATE_S:
            changes.append((n.end_s, -1, n.removed_reason))
    grouped: dict[tuple[int, str], int] = {}
    for t_s, delta, cause in changes:  # nodes added/removed at the same moment form one event
        k = (int(round(t_s * 1000)), cause)
        grouped[k] = grouped.get(k, 0) + delta
    current = target
    for (t_ms, cause), delta in sorted(grouped.items()):
        t_s = t_ms / 1000.0
        if delta > 0:
            out.append(ev(t_s, "RESIZING", {"current_num_workers": current, "target_num_workers": current + delta,
                                            "cause": cause}))
            current += delta
            out.append(ev(t_s + 1, "UPSIZE_COMPLETED", {"current_num_workers": current,
                                                       "target_num_workers": current}))
        elif cause == "spot_interruption":
            # as Databricks reports it: the lost nodes and a termination reason naming the spot reclaim
            out.append(ev(t_s, "NODES_LOST", {
                "current_num_workers": current + delta, "target_num_workers": current,
                "reason": {"code": "SPOT_INSTANCE_TERMINATION", "type": "CLOUD_FAILURE", "parameters": {
                    "databricks_error_message": f"{-delta} spot instance(s) reclaimed by AWS "
                                                "(Server.SpotInstanceTermination)"}}}))
            current += delta
        else:
            out.append(ev(t_s, "RESIZING", {"current_num_workers": current, "target_num_workers": current + delta,
                                            "cause": "AUTOSCALE"}))
            current += delta
    reason = termination_reason(c, res)
    out.append(ev(end_s - TERMINATE_S, "TERMINATING", {"reason": reason}))
    out.append(ev(end_s, "TERMINATED", {"reason": reason}))
    out.sort(key=lambda e: e["timestamp"])
    return out


def termination_reason(c: dict[str, Any], res: SimResult) -> dict[str, Any]:
    if c["internal_error"]:
        return {"code": "CLOUD_PROVIDER_LAUNCH_FAILURE", "type": "CLOUD_FAILURE", "parameters": {}}
    return {"code": "JOB_FINISHED", "type": "SUCCESS", "parameters": {}}


def node_type_list(cloud: str) -> list[dict[str, Any]]:
    """clusters/list-node-types entries from the price catalog."""
    from airflow_provider_gradient.core.pricing import load_catalog

    out = []
    for nt in load_catalog().node_types(cloud):
        out.append({"node_type_id": nt.name, "instance_type_id": nt.name, "num_cores": float(nt.vcpus),
                    "memory_mb": int(nt.memory_gb * 1024), "category": nt.family, "description": nt.name,
                    "is_deprecated": False, "photon_worker_capable": True, "photon_driver_capable": True,
                    "node_info": {"available_core_quota": 1000, "total_core_quota": 1000}})
    return out


def compose(parts: list[tuple[SimResult, float]]) -> SimResult:
    """One Spark application for tasks that ran one after another on a shared job cluster.

    :param parts: each task's simulation and when its work started (seconds since cluster create).
    """
    first = parts[0][0]
    stages: list[Any] = []
    sid = jid = 0
    app_end = first.app_start_s
    failed: SimResult | None = None
    for res, offset in parts:
        shift = offset - res.app_start_s
        for st in res.stages:
            stages.append(dataclasses.replace(st, stage_id=sid + st.stage_id, job_id=jid + st.job_id,
                                              start_s=st.start_s + shift, end_s=st.end_s + shift))
        sid += len(res.stages)
        jid += res.num_jobs
        app_end = max(app_end, offset + res.runtime_s)
        if failed is None and not res.succeeded:
            failed = res
    old_term = first.app_end_s + TERMINATE_S
    nodes = tuple(dataclasses.replace(n, end_s=app_end + TERMINATE_S) if n.end_s >= old_term - 1e-6 else n
                  for n in first.nodes)
    execs = tuple(dataclasses.replace(e, end_s=app_end) if e.end_s >= first.app_end_s - 1e-6 else e
                  for e in first.executors)
    return dataclasses.replace(
        first, runtime_s=app_end - first.app_start_s, stages=tuple(stages), num_jobs=jid, nodes=nodes,
        executors=execs, succeeded=failed is None, failure_kind=None if failed is None else failed.failure_kind,
        failure_message=None if failed is None else failed.failure_message,
        input_bytes=sum(r.input_bytes for r, _ in parts), spot_interruptions=sum(r.spot_interruptions for r, _ in parts),
    )
