"""Turning the aggregator's state into the :class:`AppSummary` value object."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from airflow_provider_gradient.core.eventlog.accumulators import SqlAccumulator, StageAccumulator, opt_int
from airflow_provider_gradient.core.eventlog.environment import (
    cluster_facts,
    detect_platform,
    kept_properties,
)
from airflow_provider_gradient.core.eventlog.errors import NoApplicationEventsError
from airflow_provider_gradient.core.eventlog.sketch import quantiles
from airflow_provider_gradient.core.eventlog.summary import (
    QUANTILE_LEVELS,
    AppSummary,
    SqlExecution,
    StageSummary,
)

if TYPE_CHECKING:
    from airflow_provider_gradient.core.eventlog.aggregate import Aggregator

_MAX_SQL_JOB_IDS = 1000


def build_summary(agg: Aggregator, *, hints: dict[str, str], source_format: str, parts: int) -> AppSummary:
    """Build the summary.

    :raises NoApplicationEventsError: nothing that describes an application was seen.
    """
    if agg.start_ms is None and not agg.stages and not agg.jobs and agg.app_id is None:
        raise NoApplicationEventsError(
            "no application events in the log (no application start, job, stage or task)"
        )
    for st in agg.stages.values():
        agg.seen(st.first_launch)
        agg.seen(st.last_finish)
    window_start = agg.start_ms if agg.start_ms is not None else agg.first_ts
    window_end = agg.end_ms if agg.end_ms is not None else agg.last_ts
    agg.advance_executors(window_end)
    span = (window_end - window_start) if window_start is not None and window_end is not None else 0
    exec_avg = agg.exec_area / span if span > 0 else float(agg.exec_max)
    cores_avg = agg.cores_area / span if span > 0 else float(agg.cores_max)
    details = tuple(
        _stage_summary(agg, st) for st in sorted(agg.stages.values(), key=lambda s: (s.stage_id, s.attempt))
    )
    tot = _totals(details)
    sql = _sql_summaries(agg, details)
    duration = None
    if window_start is not None and window_end is not None and window_end >= window_start:
        duration = (window_end - window_start) / 1000.0
    exec_cores = agg.exec_cores.most_common(1)[0][0] if agg.exec_cores else None
    if exec_cores is None:
        exec_cores = opt_int(agg.props.get("spark.executor.cores"))
    mem = agg.props.get("spark.executor.memory")
    return AppSummary(
        app_id=agg.app_id or agg.props.get("spark.app.id"),
        app_name=agg.app_name or agg.props.get("spark.app.name"),
        app_attempt_id=agg.attempt_id,
        spark_version=agg.spark_version,
        platform=detect_platform(agg.props, agg.system, agg.app_id, agg.dbc_header),
        master=agg.props.get("spark.master"),
        cluster=cluster_facts(agg.props),
        start_ms=agg.start_ms,
        end_ms=agg.end_ms,
        first_event_ms=agg.first_ts,
        last_event_ms=agg.last_ts,
        duration_s=duration,
        complete=agg.end_ms is not None,
        jobs=len(agg.jobs),
        failed_jobs=sum(1 for j in agg.jobs.values() if j.failed),
        stages=len(agg.stage_ids),
        stage_attempts=len(agg.stages),
        failed_stages=sum(1 for s in agg.stages.values() if s.failure is not None),
        tasks=tot["tasks"],
        failed_tasks=tot["failed"],
        killed_tasks=agg.killed,
        speculative_tasks=agg.speculative,
        failure_reasons=dict(agg.failure_reasons.most_common()),
        failure_exceptions=dict(agg.failure_exceptions.most_common()),
        executor_lost_failures=agg.executor_lost,
        oom_detected=agg.oom,
        oom_messages=tuple(agg.oom_messages),
        executors_added=agg.exec_added,
        executors_removed=agg.exec_removed,
        executors_max=agg.exec_max,
        executors_avg=round(exec_avg, 3),
        executor_cores=exec_cores,
        cores_max=agg.cores_max,
        cores_avg=round(cores_avg, 3),
        executor_memory_mb=_memory_mb(mem),
        executor_removed_reasons=dict(agg.removed_reasons),
        executor_timeline=tuple(agg.timeline),
        task_time_ms=tot["dur"],
        executor_run_time_ms=tot["run"],
        cpu_time_ms=tot["cpu"],
        gc_time_ms=tot["gc"],
        input_bytes=tot["in_b"],
        input_records=tot["in_r"],
        output_bytes=tot["out_b"],
        output_records=tot["out_r"],
        shuffle_read_bytes=tot["sr_b"],
        shuffle_read_records=tot["sr_r"],
        shuffle_write_bytes=tot["sw_b"],
        shuffle_write_records=tot["sw_r"],
        memory_spilled_bytes=tot["mem"],
        disk_spilled_bytes=tot["disk"],
        peak_execution_memory_max_bytes=tot["peak"],
        stage_active_ms=_active_ms(details),
        stage_details=details,
        sql_executions=sql,
        spark_properties=kept_properties(agg.props),
        plan_type=hints.get("plan_type"),
        compute_type=hints.get("compute_type"),
        source_format=source_format,
        parts=parts,
    )


def _stage_summary(agg: Aggregator, st: StageAccumulator) -> StageSummary:
    lo = st.dur_min or 0
    q = quantiles(st.buckets, QUANTILE_LEVELS, lo, st.dur_max)
    status = "failed" if st.failure is not None else ("complete" if st.completed is not None else "running")
    return StageSummary(
        stage_id=st.stage_id,
        attempt=st.attempt,
        name=st.name,
        job_id=agg.stage_to_job.get(st.stage_id),
        parent_ids=st.parents,
        declared_tasks=st.declared,
        num_tasks=st.tasks,
        failed_tasks=st.failed,
        status=status,
        submission_ms=st.submitted,
        completion_ms=st.completed,
        first_launch_ms=st.first_launch,
        last_finish_ms=st.last_finish,
        task_duration_ms_sum=st.dur_sum,
        task_duration_ms_max=st.dur_max,
        task_duration_ms_p50=q[10],
        task_duration_ms_p90=q[18],
        duration_quantiles_ms=q,
        executor_run_time_ms=st.run_time,
        cpu_time_ms=round(st.cpu_ns / 1e6, 3),
        gc_time_ms=st.gc,
        input_bytes=st.in_bytes,
        input_records=st.in_records,
        output_bytes=st.out_bytes,
        output_records=st.out_records,
        shuffle_read_bytes=st.sr_bytes,
        shuffle_read_records=st.sr_records,
        shuffle_write_bytes=st.sw_bytes,
        shuffle_write_records=st.sw_records,
        memory_spilled_bytes=st.mem_spill,
        disk_spilled_bytes=st.disk_spill,
        peak_execution_memory_max_bytes=st.peak,
    )


def _sql_summaries(agg: Aggregator, details: tuple[StageSummary, ...]) -> tuple[SqlExecution, ...]:
    job_time: dict[int, int] = {}
    for s in details:
        if s.job_id is not None:
            job_time[s.job_id] = job_time.get(s.job_id, 0) + s.task_duration_ms_sum
    jobs_of: dict[int, list[int]] = {}
    for job in agg.jobs.values():
        if job.sql_id is not None:
            jobs_of.setdefault(job.sql_id, []).append(job.job_id)
            if job.sql_id not in agg.sql:
                agg.sql[job.sql_id] = SqlAccumulator(job.sql_id)
    out = []
    for sid in sorted(agg.sql):
        sql = agg.sql[sid]
        ids = sorted(jobs_of.get(sid, []))
        dur = (sql.end - sql.start) / 1000.0 if sql.start is not None and sql.end is not None else None
        out.append(
            SqlExecution(
                execution_id=sid,
                description=sql.description,
                start_ms=sql.start,
                end_ms=sql.end,
                duration_s=dur,
                job_ids=tuple(ids[:_MAX_SQL_JOB_IDS]),
                task_time_ms=sum(job_time.get(j, 0) for j in ids),
                error=sql.error,
            )
        )
    return tuple(out)


def _totals(details: tuple[StageSummary, ...]) -> dict[str, Any]:
    t: dict[str, Any] = dict.fromkeys(
        (
            "tasks",
            "failed",
            "dur",
            "run",
            "gc",
            "in_b",
            "in_r",
            "out_b",
            "out_r",
            "sr_b",
            "sr_r",
            "sw_b",
            "sw_r",
            "mem",
            "disk",
            "peak",
        ),
        0,
    )
    cpu = 0.0
    for s in details:
        t["tasks"] += s.num_tasks
        t["failed"] += s.failed_tasks
        t["dur"] += s.task_duration_ms_sum
        t["run"] += s.executor_run_time_ms
        t["gc"] += s.gc_time_ms
        t["in_b"] += s.input_bytes
        t["in_r"] += s.input_records
        t["out_b"] += s.output_bytes
        t["out_r"] += s.output_records
        t["sr_b"] += s.shuffle_read_bytes
        t["sr_r"] += s.shuffle_read_records
        t["sw_b"] += s.shuffle_write_bytes
        t["sw_r"] += s.shuffle_write_records
        t["mem"] += s.memory_spilled_bytes
        t["disk"] += s.disk_spilled_bytes
        t["peak"] = max(t["peak"], s.peak_execution_memory_max_bytes)
        cpu += s.cpu_time_ms
    t["cpu"] = round(cpu, 3)
    return t


def _active_ms(details: tuple[StageSummary, ...]) -> int:
    """Total time during which at least one stage was running (union of stage intervals)."""
    intervals = []
    for s in details:
        start = s.submission_ms if s.submission_ms is not None else s.first_launch_ms
        end = s.completion_ms if s.completion_ms is not None else s.last_finish_ms
        if start is not None and end is not None and end > start:
            intervals.append((start, end))
    intervals.sort()
    total = 0
    cur_s: int | None = None
    cur_e = 0
    for a, b in intervals:
        if cur_s is None or a > cur_e:
            if cur_s is not None:
                total += cur_e - cur_s
            cur_s, cur_e = a, b
        else:
            cur_e = max(cur_e, b)
    if cur_s is not None:
        total += cur_e - cur_s
    return total


def _memory_mb(value: str | None) -> int | None:
    if not value:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)b?\s*", value.lower())
    if not m:
        return None
    scale = {"": 1 / (1 << 20), "k": 1 / 1024, "m": 1, "g": 1024, "t": 1 << 20, "p": 1 << 30}[m.group(2)]
    if m.group(2) == "":
        scale = 1.0  # Spark reads a bare number as MiB for executor memory
    return int(float(m.group(1)) * scale)
