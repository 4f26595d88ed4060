"""Value objects of a parsed event log: :class:`AppSummary`, :class:`StageSummary` and friends.

All are frozen; ``to_dict()`` gives JSON-safe, snake_case dicts (tuples become lists).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Levels of :attr:`StageSummary.duration_quantiles_ms` (0 = min, 1 = max), fixed for every stage.
QUANTILE_LEVELS: tuple[float, ...] = tuple(i / 20 for i in range(21))


def _tuples(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class DatabricksClusterFacts:
    """Cluster facts from Databricks' ``spark.databricks.clusterUsageTags.*`` properties (None = absent)."""

    cluster_id: str | None = None
    cluster_name: str | None = None
    cloud: str | None = None
    region: str | None = None
    zone: str | None = None
    node_type: str | None = None
    driver_node_type: str | None = None
    workers: int | None = None
    target_workers: int | None = None
    min_workers: int | None = None
    max_workers: int | None = None
    scaling_type: str | None = None
    availability: str | None = None
    first_on_demand: int | None = None
    spot_bid_price_percent: int | None = None
    runtime_engine: str | None = None
    photon: bool = False
    databricks_runtime: str | None = None
    ebs_volume_type: str | None = None
    ebs_volume_count: int | None = None
    ebs_volume_size_gb: int | None = None
    sku: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        result: dict[str, Any] = _jsonable(self)
        return result


@dataclass(frozen=True, slots=True)
class StageSummary:
    """One stage attempt, with what a task-level replay needs.

    ``num_tasks`` counts the task attempts that ended in this stage attempt (TaskEnd events);
    ``declared_tasks`` is Spark's "Number of Tasks" (partitions). ``duration_quantiles_ms`` holds the
    task durations (finish - launch) at :data:`QUANTILE_LEVELS`, from a bounded log-bucket sketch
    (about 1.5 % relative error; exact min and max).
    """

    stage_id: int
    attempt: int
    name: str
    job_id: int | None
    parent_ids: tuple[int, ...]
    declared_tasks: int
    num_tasks: int
    failed_tasks: int
    status: str
    submission_ms: int | None
    completion_ms: int | None
    first_launch_ms: int | None
    last_finish_ms: int | None
    task_duration_ms_sum: int
    task_duration_ms_max: int
    task_duration_ms_p50: float
    task_duration_ms_p90: float
    duration_quantiles_ms: tuple[float, ...]
    executor_run_time_ms: int
    cpu_time_ms: float
    gc_time_ms: int
    input_bytes: int
    input_records: int
    output_bytes: int
    output_records: int
    shuffle_read_bytes: int
    shuffle_read_records: int
    shuffle_write_bytes: int
    shuffle_write_records: int
    memory_spilled_bytes: int
    disk_spilled_bytes: int
    peak_execution_memory_max_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        result: dict[str, Any] = _jsonable(self)
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageSummary:
        """The stage of a :meth:`to_dict` dict (lists back to tuples; unknown keys ignored).

        :param data: a dict as stored with a run's metrics.
        :raises TypeError: a field is missing.
        """
        kwargs = {f.name: _tuples(data[f.name]) for f in dataclasses.fields(cls) if f.name in data}
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class SqlExecution:
    """One Spark SQL execution, with its jobs (by the ``spark.sql.execution.id`` job property)."""

    execution_id: int
    description: str
    start_ms: int | None
    end_ms: int | None
    duration_s: float | None
    job_ids: tuple[int, ...]
    task_time_ms: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        result: dict[str, Any] = _jsonable(self)
        return result


@dataclass(frozen=True, slots=True)
class AppSummary:
    """Everything the optimiser needs from one Spark application's event log.

    ``tasks`` = TaskEnd events (task attempts); ``jobs`` / ``stages`` = distinct ids;
    ``task_time_ms`` = sum of (finish - launch) over task attempts; ``cpu_time_ms`` from Executor CPU
    Time; ``start_ms`` / ``end_ms`` = ApplicationStart / ApplicationEnd (None when absent);
    ``duration_s`` = end - start, or last event - start for an incomplete log.
    ``executors_*`` come from ExecutorAdded / ExecutorRemoved (time-weighted over the app window).
    """

    app_id: str | None
    app_name: str | None
    app_attempt_id: str | None
    spark_version: str | None
    platform: str
    master: str | None
    cluster: DatabricksClusterFacts | None
    start_ms: int | None
    end_ms: int | None
    first_event_ms: int | None
    last_event_ms: int | None
    duration_s: float | None
    complete: bool
    jobs: int
    failed_jobs: int
    stages: int
    stage_attempts: int
    failed_stages: int
    tasks: int
    failed_tasks: int
    killed_tasks: int
    speculative_tasks: int
    failure_reasons: dict[str, int]
    failure_exceptions: dict[str, int]
    executor_lost_failures: int
    oom_detected: bool
    oom_messages: tuple[str, ...]
    executors_added: int
    executors_removed: int
    executors_max: int
    executors_avg: float
    executor_cores: int | None
    cores_max: int
    cores_avg: float
    executor_memory_mb: int | None
    executor_removed_reasons: dict[str, int]
    executor_timeline: tuple[tuple[int, int], ...]
    task_time_ms: int
    executor_run_time_ms: int
    cpu_time_ms: float
    gc_time_ms: int
    input_bytes: int
    input_records: int
    output_bytes: int
    output_records: int
    shuffle_read_bytes: int
    shuffle_read_records: int
    shuffle_write_bytes: int
    shuffle_write_records: int
    memory_spilled_bytes: int
    disk_spilled_bytes: int
    peak_execution_memory_max_bytes: int
    stage_active_ms: int
    stage_details: tuple[StageSummary, ...]
    sql_executions: tuple[SqlExecution, ...]
    spark_properties: dict[str, str] = field(default_factory=dict)
    plan_type: str | None = None
    compute_type: str | None = None
    source_format: str = "file"
    parts: int = 1

    @property
    def sql_execution_count(self) -> int:
        """Number of SQL executions seen."""
        return len(self.sql_executions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict with snake_case keys (the ``gradient eventlog summarize --json`` output)."""
        result: dict[str, Any] = _jsonable(self)
        result["sql_execution_count"] = self.sql_execution_count
        result["executor_timeline"] = [list(p) for p in self.executor_timeline]
        return result
