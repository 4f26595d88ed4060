"""Mutable accumulators of the aggregation (one per stage attempt, job, SQL execution) and coercions."""

from __future__ import annotations

from typing import Any


def maybe_int(value: Any) -> int | None:
    """``value`` as an int (bools, integral strings, finite floats below 1e18 are coerced), else None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 1e18:
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def as_int(value: Any, default: int = 0) -> int:
    """``value`` as an int (see :func:`maybe_int`), ``default`` when it is not one."""
    found = maybe_int(value)
    return default if found is None else found


def opt_int(value: Any) -> int | None:
    """None for an absent (None) or structured value, else ``value`` as an int (0 when not one)."""
    return None if value is None or isinstance(value, dict | list) else as_int(value, 0)


class StageAccumulator:
    """Accumulator of one stage attempt."""

    __slots__ = (
        "stage_id", "attempt", "name", "parents", "declared", "submitted", "completed", "failure",
        "tasks", "failed", "dur_sum", "dur_max", "dur_min", "buckets", "run_time", "cpu_ns", "gc",
        "in_bytes", "in_records", "out_bytes", "out_records", "sr_bytes", "sr_records", "sw_bytes",
        "sw_records", "mem_spill", "disk_spill", "peak", "first_launch", "last_finish",
    )  # fmt: skip

    def __init__(self, stage_id: int, attempt: int) -> None:
        self.stage_id = stage_id
        self.attempt = attempt
        self.name = ""
        self.parents: tuple[int, ...] = ()
        self.declared = 0
        self.submitted: int | None = None
        self.completed: int | None = None
        self.failure: str | None = None
        self.tasks = self.failed = 0
        self.dur_sum = self.dur_max = 0
        self.dur_min: int | None = None
        self.buckets: dict[int, int] = {}
        self.run_time = self.cpu_ns = self.gc = 0
        self.in_bytes = self.in_records = self.out_bytes = self.out_records = 0
        self.sr_bytes = self.sr_records = self.sw_bytes = self.sw_records = 0
        self.mem_spill = self.disk_spill = self.peak = 0
        self.first_launch: int | None = None
        self.last_finish: int | None = None


class JobAccumulator:
    """Accumulator of one job."""

    __slots__ = ("job_id", "sql_id", "submitted", "completed", "failed", "stage_ids")

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.sql_id: int | None = None
        self.submitted: int | None = None
        self.completed: int | None = None
        self.failed = False
        self.stage_ids: tuple[int, ...] = ()


class SqlAccumulator:
    """Accumulator of one Spark SQL execution."""

    __slots__ = ("execution_id", "description", "start", "end", "error")

    def __init__(self, execution_id: int) -> None:
        self.execution_id = execution_id
        self.description = ""
        self.start: int | None = None
        self.end: int | None = None
        self.error: str | None = None
