"""Deliver a finished cluster's event log to its ``cluster_log_conf`` destination (DBFS dir, UC volume, S3)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from airflow_provider_gradient.simulator.eventlog_writer import ClusterFacts, event_log_dir, render_parts
from airflow_provider_gradient.simulator.models import SimResult

__all__ = ["cluster_facts", "deliver_event_log", "log_destination"]


def log_destination(new_cluster: dict[str, Any]) -> str | None:
    """The configured log destination URI (``dbfs:/...``, ``s3://...``, ``/Volumes/...``) or None."""
    conf = new_cluster.get("cluster_log_conf") or {}
    for kind in ("dbfs", "s3", "volumes"):
        dest = (conf.get(kind) or {}).get("destination")
        if dest:
            return str(dest)
    return None


def cluster_facts(state: Any, c: dict[str, Any], res: SimResult, *, partial: bool = False) -> ClusterFacts:
    """Facts the writer needs, from the emulator's cluster record."""
    return ClusterFacts(
        cluster_id=c["cluster_id"], cluster_name=c["cluster_name"], spark_context_id=int(c["spark_context_id"]),
        driver_ip=c["driver_ip"], origin_ms=int(c["created_ms"]),
        spark_version=str(c["new_cluster"].get("spark_version", "15.4.x-scala2.12")), region=state.config.region,
        cloud=state.config.cloud.upper(), log_destination=log_destination(c["new_cluster"]) or "",
        job_id=str(c["job_id"]), run_id=str(c["task_run_id"]),
        custom_tags={str(k): str(v) for k, v in (c["new_cluster"].get("custom_tags") or {}).items()},
        spark_conf={str(k): str(v) for k, v in (c["new_cluster"].get("spark_conf") or {}).items()},
        cut_s=_cut_s(c, res, partial), partial=partial,
    )


def _cut_s(c: dict[str, Any], res: SimResult, partial: bool) -> float | None:
    """Where the log ends early: a cancelled cluster stops at the cancel, a partial delivery at 70 %."""
    if c.get("cancelled_ms") is not None:
        return (int(c["cancelled_ms"]) - int(c["created_ms"])) / 1000.0
    return (res.app_start_s + 0.7 * res.runtime_s) if partial else None


def local_path(state: Any, uri: str) -> Path:
    """Map ``dbfs:/x`` / ``/Volumes/x`` to the emulator's local directories (refusing ``..``)."""
    if uri.startswith("dbfs:"):
        rel, root = uri[len("dbfs:"):], state.dbfs_root
    elif uri.startswith("/Volumes/"):
        rel, root = uri[len("/Volumes/"):], state.volumes_root
    else:
        rel, root = uri, state.dbfs_root
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"path escapes the root: {uri}")
    return Path(root, *parts)


def deliver_event_log(state: Any, c: dict[str, Any], res: SimResult, *, partial: bool = False) -> list[str]:
    """Write the event log parts; returns the URIs written."""
    dest = log_destination(c["new_cluster"])
    if dest is None:
        return []
    facts = cluster_facts(state, c, res, partial=partial)
    parts = render_parts(res, facts, seed=int(c["members"][0]["seed"]))
    if partial and len(parts) > 1:
        parts = parts[:-1]  # the last rollover part never arrived
    base = event_log_dir(dest, facts)
    written = []
    if dest.startswith("s3://") or dest.startswith("s3a://"):
        if state.aws is None:
            return []
        bucket, _, prefix = base.split("://", 1)[1].partition("/")
        for name, body in parts:
            state.aws.put_object(bucket, f"{prefix}/{name}", body)
            written.append(f"s3://{bucket}/{prefix}/{name}")
        return written
    folder = local_path(state, base)
    folder.mkdir(parents=True, exist_ok=True)
    mtime = (facts.origin_ms / 1000.0) + res.total_s + 15.0  # simulated delivery time
    for name, body in parts:
        tmp = folder / (name + ".tmp")
        tmp.write_bytes(body)
        os.utime(tmp, (mtime, mtime))
        tmp.replace(folder / name)
        written.append(f"{base}/{name}")
    return written
