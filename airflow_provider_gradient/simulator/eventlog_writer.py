"""Write a simulated run as a Databricks Spark event log (real event types and fields, hourly rollover parts).

Layout under the cluster's log destination (as Databricks delivers it)::

    <dest>/<cluster_id>/eventlog/<cluster_id>_<driver_ip with _>/<spark_context_id>/eventlog
    <dest>/<cluster_id>/eventlog/<cluster_id>_<driver_ip with _>/<spark_context_id>/eventlog-YYYY-MM-DD--HH-00.gz

Every part starts with ``DBCEventLoggingListenerMetadata`` (its ``Rollover Number``); completed hours are
gzipped parts, the last hour stays in the plain ``eventlog`` file.
"""

from __future__ import annotations

import datetime as dt
import gzip
import heapq
import json
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_gradient.simulator.models import GB, SimResult, StageSim

__all__ = ["ClusterFacts", "build_events", "event_log_dir", "render_parts"]

SPARK_VERSION = "3.5.0"
REDACTED = "*********(redacted)"
#: Spark's default ``spark.redaction.regex``.
_REDACT = re.compile(r"(?i)secret|password|token|access[.]key")


@dataclass(frozen=True, slots=True)
class ClusterFacts:
    """Databricks-side facts of the cluster that ran the simulation.

    :param origin_ms: epoch ms of the cluster-create request (time 0 of the SimResult).
    :param cut_s: end the log here (seconds since create) for cancelled runs; None = full run.
    :param partial: drop the tail (no ApplicationEnd), as when delivery is cut short.
    """

    cluster_id: str
    cluster_name: str
    spark_context_id: int
    driver_ip: str
    origin_ms: int
    spark_version: str = "15.4.x-scala2.12"
    region: str = "us-east-1"
    cloud: str = "AWS"
    log_destination: str = ""
    job_id: str = ""
    run_id: str = ""
    custom_tags: Mapping[str, str] = field(default_factory=dict)
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    cut_s: float | None = None
    partial: bool = False


def event_log_dir(dest: str, facts: ClusterFacts) -> str:
    """Directory (under ``dest``) that holds the ``eventlog`` parts."""
    ip = facts.driver_ip.replace(".", "_")
    return f"{dest.rstrip('/')}/{facts.cluster_id}/eventlog/{facts.cluster_id}_{ip}/{facts.spark_context_id}"


def _worker_ip(facts: ClusterFacts, node_index: int) -> str:
    a, b, c, _ = facts.driver_ip.split(".")
    return f"{a}.{b}.{(int(c) + 1 + node_index // 250) % 256}.{node_index % 250 + 2}"


def _environment(res: SimResult, facts: ClusterFacts) -> dict[str, Any]:
    spec = res.spec
    tags = "spark.databricks.clusterUsageTags."
    availability = "SPOT_WITH_FALLBACK" if spec.spot else "ON_DEMAND"
    if spec.cloud == "azure":
        availability += "_AZURE"
    all_tags = [{"key": "Vendor", "value": "Databricks"}, {"key": "ClusterId", "value": facts.cluster_id},
                {"key": "ClusterName", "value": facts.cluster_name}, {"key": "JobId", "value": facts.job_id},
                {"key": "RunName", "value": facts.cluster_name}]
    all_tags += [{"key": k, "value": v} for k, v in facts.custom_tags.items()]
    from airflow_provider_gradient.simulator.nodes import node_facts

    heap_mb = int(node_facts(spec.cloud, spec.node_type_id).executor_heap_gb * 1024)
    props = {
        "spark.app.name": "Databricks Shell",
        "spark.master": f"spark://{facts.driver_ip}:7077",
        "spark.driver.host": facts.driver_ip,
        "spark.executor.memory": f"{heap_mb}m",
        "spark.databricks.photon.enabled": str(spec.photon).lower(),
        "spark.databricks.job.id": facts.job_id,
        "spark.databricks.job.runId": facts.run_id,
        "eventLog.rolloverIntervalSeconds": "3600",
        "spark.hadoop.fs.s3a.secret.key": REDACTED,
        tags + "cloudProvider": facts.cloud,
        tags + "clusterId": facts.cluster_id,
        tags + "clusterName": facts.cluster_name,
        tags + "clusterNodeType": spec.node_type_id,
        tags + "driverNodeType": spec.driver_node_type_id,
        tags + "clusterWorkers": str(spec.min_workers),
        tags + "clusterTargetWorkers": str(spec.min_workers),
        tags + "clusterMinWorkers": str(spec.min_workers),
        tags + "clusterMaxWorkers": str(spec.max_workers),
        tags + "clusterScalingType": "autoscaling" if spec.is_autoscale else "fixed_size",
        tags + "clusterAvailability": availability,
        tags + "clusterFirstOnDemand": str(spec.first_on_demand),
        tags + "clusterEbsVolumeCount": str(spec.ebs_volume_count),
        tags + "clusterEbsVolumeSize": str(spec.ebs_volume_size_gb),
        tags + "clusterEbsVolumeType": "GENERAL_PURPOSE_SSD",
        tags + "sparkVersion": facts.spark_version,
        tags + "region": facts.region,
        tags + "dataPlaneRegion": facts.region,
        tags + "clusterLogDeliveryEnabled": "true",
        tags + "clusterLogDestination": facts.log_destination,
        tags + "clusterCreator": "JobLauncher",
        tags + "clusterSku": "STANDARD_SKU",
        tags + "clusterAllTags": json.dumps(all_tags, separators=(",", ":")),
        tags + "runtimeEngine": "PHOTON" if spec.photon else "STANDARD",
        tags + "driverContainerPrivateIp": facts.driver_ip,
        tags + "clusterState": "Pending",
    }
    for key, value in facts.spark_conf.items():  # the user's spark_conf, redacted like Spark does
        props[str(key)] = REDACTED if _REDACT.search(str(key)) else str(value)
    return {
        "Event": "SparkListenerEnvironmentUpdate",
        "JVM Information": {"Java Home": "/usr/lib/jvm/zulu17-ca-amd64", "Java Version": "17.0.10 (Azul Systems, Inc.)",
                            "Scala Version": "version 2.12.15"},
        "Spark Properties": props,
        "Hadoop Properties": {"fs.s3a.connection.maximum": "200"},
        "System Properties": {"java.io.tmpdir": "/local_disk0/tmp"},
        "Classpath Entries": {"/databricks/jars/spark--core_2.12_deploy.jar": "System Classpath"},
    }


def _stage_info(stage: StageSim, res: SimResult, submitted_ms: int, completed_ms: int | None) -> dict[str, Any]:
    parents = [s.stage_id for s in res.stages if s.job_id == stage.job_id and s.stage_id < stage.stage_id]
    info: dict[str, Any] = {
        "Stage ID": stage.stage_id, "Stage Attempt ID": 0, "Stage Name": stage.name,
        "Number of Tasks": stage.num_tasks + (1 if not stage.succeeded else 0),
        "RDD Info": [], "Parent IDs": parents[-1:], "Details": stage.name, "Submission Time": submitted_ms,
        "Accumulables": [], "Resource Profile Id": 0,
    }
    if completed_ms is not None:
        info["Completion Time"] = completed_ms
        if not stage.succeeded:
            info["Failure Reason"] = res.failure_message or "stage failed"
    return info


def _split(total: int, n: int, weights: list[float]) -> list[int]:
    """Split an integer ``total`` into ``n`` parts proportional to ``weights`` (exact sum)."""
    if n <= 0:
        return []
    s = sum(weights) or 1.0
    parts = [int(total * w / s) for w in weights]
    parts[-1] += total - sum(parts)
    return parts


def _task_metrics(run_ms: int, stage: StageSim, n: int, i: int, n_workers: int, parts: dict[str, list[int]]) -> dict[str, Any]:
    remote_share = 1.0 - 1.0 / max(1, n_workers)
    sr = parts["shuffle_read"][i]
    remote = int(sr * remote_share)
    return {
        "Executor Deserialize Time": 12, "Executor Deserialize CPU Time": 9_000_000,
        "Executor Run Time": run_ms, "Executor CPU Time": int(run_ms * stage.cpu_fraction * 1_000_000),
        "Peak Execution Memory": stage.peak_execution_memory_bytes, "Result Size": 2_100,
        "JVM GC Time": int(run_ms * stage.gc_fraction), "Result Serialization Time": 0,
        "Memory Bytes Spilled": parts["mem_spill"][i], "Disk Bytes Spilled": parts["disk_spill"][i],
        "Shuffle Read Metrics": {
            "Remote Blocks Fetched": 8 if remote else 0, "Local Blocks Fetched": 1 if sr else 0,
            "Fetch Wait Time": int(run_ms * 0.02) if sr else 0, "Remote Bytes Read": remote,
            "Remote Bytes Read To Disk": 0, "Local Bytes Read": sr - remote,
            "Total Records Read": sr // 100,
        },
        "Shuffle Write Metrics": {"Shuffle Bytes Written": parts["shuffle_write"][i],
                                  "Shuffle Write Time": int(run_ms * 0.01 * 1_000_000) if parts["shuffle_write"][i] else 0,
                                  "Shuffle Records Written": parts["shuffle_write"][i] // 100},
        "Input Metrics": {"Bytes Read": parts["input"][i], "Records Read": parts["input"][i] // 120},
        "Output Metrics": {"Bytes Written": 0, "Records Written": 0},
        "Updated Blocks": [],
    }


def build_events(res: SimResult, facts: ClusterFacts, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield the event-log events of ``res`` in time order (without DBCEventLoggingListenerMetadata)."""
    rnd = random.Random(f"eventlog/{facts.cluster_id}/{seed}")
    o = facts.origin_ms
    cut = facts.cut_s

    def ms(t: float) -> int:
        return o + int(round(t * 1000))

    app_start, app_end = res.app_start_s, res.app_end_s
    if cut is not None:
        app_end = min(app_end, max(app_start, cut))
    app_id = "app-" + dt.datetime.fromtimestamp(ms(app_start) / 1000, dt.UTC).strftime("%Y%m%d%H%M%S") + "-0000"
    yield {"Event": "SparkListenerLogStart", "Spark Version": SPARK_VERSION}
    yield {"Event": "SparkListenerResourceProfileAdded", "Resource Profile Id": 0,
           "Executor Resource Requests": {"cores": {"Resource Name": "cores", "Amount": res.executors[0].cores if res.executors else 1,
                                                    "Discovery Script": "", "Vendor": ""}},
           "Task Resource Requests": {"cpus": {"Resource Name": "cpus", "Amount": 1.0}}}
    yield {"Event": "SparkListenerBlockManagerAdded", "Block Manager ID": {"Executor ID": "driver", "Host": facts.driver_ip,
           "Port": 40001}, "Maximum Memory": 4_000_000_000, "Timestamp": ms(app_start)}
    yield _environment(res, facts)
    yield {"Event": "SparkListenerApplicationStart", "App Name": "Databricks Shell", "App ID": app_id,
           "Timestamp": ms(app_start), "User": "root"}

    timed: list[tuple[int, int, dict[str, Any]]] = []  # (ms, seq, event)
    seq = 0

    def add(t_ms: int, event: dict[str, Any]) -> None:
        nonlocal seq
        if cut is not None and t_ms > ms(app_end):
            return
        seq += 1
        timed.append((t_ms, seq, event))

    for ex in res.executors:
        host = facts.driver_ip if ex.executor_id == "driver" else _worker_ip(facts, ex.node_index)
        add(ms(ex.start_s), {"Event": "SparkListenerExecutorAdded", "Timestamp": ms(ex.start_s), "Executor ID": ex.executor_id,
                             "Executor Info": {"Host": host, "Total Cores": ex.cores, "Log Urls": {}, "Attributes": {},
                                               "Resources": {}, "Resource Profile Id": 0}})
        if ex.removed_reason:
            reason = ("worker lost: spot instance termination" if ex.removed_reason == "spot_interruption"
                      else "Executor decommission: worker decommissioned because of autoscaling")
            add(ms(ex.end_s), {"Event": "SparkListenerExecutorRemoved", "Timestamp": ms(ex.end_s),
                               "Executor ID": ex.executor_id, "Removed Reason": reason})
    jobs: dict[int, list[StageSim]] = {}
    for st in res.stages:
        jobs.setdefault(st.job_id, []).append(st)
    task_id = 0
    n_workers = max(1, res.spec.max_workers)
    for job_id, stages in jobs.items():
        j_start = ms(stages[0].start_s)
        add(j_start, {"Event": "SparkListenerJobStart", "Job ID": job_id, "Submission Time": j_start,
                      "Stage Infos": [_stage_info(s, res, ms(s.start_s), None) for s in stages],
                      "Stage IDs": [s.stage_id for s in stages],
                      "Properties": {"spark.databricks.job.id": facts.job_id, "spark.databricks.job.runId": facts.run_id}})
        for st in stages:
            add(ms(st.start_s), {"Event": "SparkListenerStageSubmitted", "Stage Info": _stage_info(st, res, ms(st.start_s), None),
                                 "Properties": {}})
            task_id = _stage_tasks(res, facts, st, task_id, n_workers, rnd, add, ms)
            add(ms(st.end_s), {"Event": "SparkListenerStageCompleted",
                               "Stage Info": _stage_info(st, res, ms(st.start_s), ms(st.end_s))})
        ok = all(s.succeeded for s in stages)
        result: dict[str, Any] = {"Result": "JobSucceeded"} if ok else {
            "Result": "JobFailed", "Exception": {"Message": res.failure_message or "Job aborted"}}
        add(ms(stages[-1].end_s), {"Event": "SparkListenerJobEnd", "Job ID": job_id,
                                   "Completion Time": ms(stages[-1].end_s), "Job Result": result})
    timed.sort(key=lambda x: (x[0], x[1]))
    for _, _, ev in timed:
        yield ev
    if not facts.partial:
        yield {"Event": "SparkListenerApplicationEnd", "Timestamp": ms(app_end)}


def _stage_tasks(res: SimResult, facts: ClusterFacts, st: StageSim, task_id: int, n_workers: int, rnd: random.Random,
                 add: Any, ms: Any) -> int:
    """Emit TaskEnd events of one stage: successful tasks list-scheduled on the executors' cores."""
    alive = [e for e in res.executors if e.start_s < st.end_s and e.end_s > st.start_s] or list(res.executors[:1])
    ends = {e.executor_id: e.end_s for e in alive}
    slots = [(max(st.start_s, e.start_s), e.executor_id, e.node_index) for e in alive for _ in range(e.cores)]
    heapq.heapify(slots)
    capacity = sum(e.cores * (min(e.end_s, st.end_s) - max(e.start_s, st.start_s)) for e in alive)
    n = st.num_tasks
    weights = [rnd.lognormvariate(0.0, 0.25) for _ in range(n)]
    run_ms = _split(st.executor_run_ms, n + st.failed_tasks, weights + [1.0] * st.failed_tasks)
    parts = {
        "input": _split(st.input_bytes, n, weights), "shuffle_read": _split(st.shuffle_read_bytes, n, weights),
        "shuffle_write": _split(st.shuffle_write_bytes, n, weights),
        "mem_spill": _split(st.memory_spilled_bytes, n, weights), "disk_spill": _split(st.disk_spilled_bytes, n, weights),
    }
    work_s = sum(run_ms) / 1000.0
    stretch = min(1.0, 0.97 * capacity / work_s) if work_s > 0 else 1.0
    for i in range(n + st.failed_tasks):
        failed = i >= n
        start, exec_id, node = heapq.heappop(slots) if slots else (st.start_s, "driver", 0)
        while slots and start >= ends.get(exec_id, st.end_s):
            start, exec_id, node = heapq.heappop(slots)
        dur = run_ms[i] / 1000.0 * stretch
        end = min(start + dur, st.end_s)
        run_ms[i] = max(0, int(round((end - start) * 1000)))
        host = facts.driver_ip if exec_id == "driver" else _worker_ip(facts, node)
        info = {"Task ID": task_id, "Index": i if not failed else 0, "Attempt": 0 if not failed else i - n,
                "Launch Time": ms(start), "Executor ID": exec_id, "Host": host, "Locality": "PROCESS_LOCAL",
                "Speculative": False, "Getting Result Time": 0, "Finish Time": ms(end), "Failed": failed,
                "Killed": False, "Accumulables": []}
        if not failed:
            reason: dict[str, Any] = {"Reason": "Success"}
            metrics = _task_metrics(run_ms[i], st, n, i, n_workers, parts)
        else:
            zero = {k: [0] * (n + st.failed_tasks) for k in parts}
            metrics = _task_metrics(run_ms[i], st, n, i, n_workers, zero)
            if st.failure_reason == "oom":
                reason = {"Reason": "ExceptionFailure", "Class Name": "java.lang.OutOfMemoryError",
                          "Description": "Java heap space", "Stack Trace": [
                              {"Declaring Class": "org.apache.spark.unsafe.memory.HeapMemoryAllocator",
                               "Method Name": "allocate", "File Name": "HeapMemoryAllocator.java", "Line Number": 118}],
                          "Full Stack Trace": "java.lang.OutOfMemoryError: Java heap space", "Accumulator Updates": []}
            else:
                reason = {"Reason": "ExecutorLostFailure", "Executor ID": exec_id, "Exit Caused By App": False,
                          "Loss Reason": "worker lost: spot instance termination"}
        add(ms(end), {"Event": "SparkListenerTaskEnd", "Stage ID": st.stage_id, "Stage Attempt ID": 0,
                      "Task Type": "ResultTask" if st.shuffle_write_bytes == 0 else "ShuffleMapTask",
                      "Task End Reason": reason, "Task Info": info, "Task Executor Metrics": {
                          "JVMHeapMemory": int(st.peak_execution_memory_bytes * 2), "OnHeapExecutionMemory":
                          st.peak_execution_memory_bytes, "MinorGCCount": 3, "MinorGCTime": metrics["JVM GC Time"],
                          "MajorGCCount": 0, "MajorGCTime": 0}, "Task Metrics": metrics})
        heapq.heappush(slots, (end, exec_id, node))
        task_id += 1
    return task_id


def _hour_name(hour: int) -> str:
    return dt.datetime.fromtimestamp(hour * 3600, dt.UTC).strftime("%Y-%m-%d--%H-00")


def render_parts(res: SimResult, facts: ClusterFacts, *, seed: int = 0) -> list[tuple[str, bytes]]:
    """The event log as ``(file name, content)`` parts: gzipped completed hours, then plain ``eventlog``."""
    import orjson

    hours: dict[int, list[bytes]] = {}
    order: list[int] = []
    current = facts.origin_ms // 3_600_000
    for ev in build_events(res, facts, seed=seed):
        ts = ev.get("Timestamp") or ev.get("Submission Time") or ev.get("Completion Time")
        if ts is None and "Task Info" in ev:
            ts = ev["Task Info"]["Finish Time"]
        if ts is None and "Stage Info" in ev:
            ts = ev["Stage Info"].get("Completion Time") or ev["Stage Info"].get("Submission Time")
        if ts is not None:
            current = max(current, int(ts) // 3_600_000)
        if current not in hours:
            hours[current] = []
            order.append(current)
        hours[current].append(orjson.dumps(ev))
    parts: list[tuple[str, bytes]] = []
    for i, hour in enumerate(order):
        meta = {"Event": "DBCEventLoggingListenerMetadata", "Spark Version": SPARK_VERSION,
                "Timestamp": facts.origin_ms if i == 0 else hour * 3_600_000,
                "Rollover Number": i, "SparkContext Id": facts.spark_context_id}
        body = b"\n".join([orjson.dumps(meta), *hours[hour]]) + b"\n"
        if i == len(order) - 1:
            parts.append(("eventlog", body))
        else:
            parts.append((f"eventlog-{_hour_name(hour)}.gz", gzip.compress(body, compresslevel=1, mtime=0)))
    return parts


def total_input_gb(res: SimResult) -> float:
    """Input GB read by the run's stages (for reports)."""
    return sum(s.input_bytes for s in res.stages) / GB
