"""msgspec schemas of the hot events: decode only the fields we aggregate, skip the rest fast."""

from __future__ import annotations

import msgspec


class Reason(msgspec.Struct):
    reason: str = msgspec.field(default="Success", name="Reason")


class TaskInfo(msgspec.Struct):
    launch: int = msgspec.field(default=0, name="Launch Time")
    finish: int = msgspec.field(default=0, name="Finish Time")
    speculative: bool = msgspec.field(default=False, name="Speculative")


class ShuffleRead(msgspec.Struct):
    remote: int = msgspec.field(default=0, name="Remote Bytes Read")
    local: int = msgspec.field(default=0, name="Local Bytes Read")
    records: int = msgspec.field(default=0, name="Total Records Read")


class ShuffleWrite(msgspec.Struct):
    written: int = msgspec.field(default=0, name="Shuffle Bytes Written")
    records: int = msgspec.field(default=0, name="Shuffle Records Written")


class InputMetrics(msgspec.Struct):
    read: int = msgspec.field(default=0, name="Bytes Read")
    records: int = msgspec.field(default=0, name="Records Read")


class OutputMetrics(msgspec.Struct):
    written: int = msgspec.field(default=0, name="Bytes Written")
    records: int = msgspec.field(default=0, name="Records Written")


class TaskMetrics(msgspec.Struct):
    run_time: int = msgspec.field(default=0, name="Executor Run Time")
    cpu_time: int = msgspec.field(default=0, name="Executor CPU Time")
    gc_time: int = msgspec.field(default=0, name="JVM GC Time")
    memory_spilled: int = msgspec.field(default=0, name="Memory Bytes Spilled")
    disk_spilled: int = msgspec.field(default=0, name="Disk Bytes Spilled")
    peak_memory: int | None = msgspec.field(default=None, name="Peak Execution Memory")
    shuffle_read: ShuffleRead | None = msgspec.field(default=None, name="Shuffle Read Metrics")
    shuffle_write: ShuffleWrite | None = msgspec.field(default=None, name="Shuffle Write Metrics")
    input: InputMetrics | None = msgspec.field(default=None, name="Input Metrics")
    output: OutputMetrics | None = msgspec.field(default=None, name="Output Metrics")


class TaskEnd(msgspec.Struct):
    stage_id: int = msgspec.field(default=-1, name="Stage ID")
    stage_attempt: int = msgspec.field(default=0, name="Stage Attempt ID")
    end_reason: Reason | None = msgspec.field(default=None, name="Task End Reason")
    info: TaskInfo | None = msgspec.field(default=None, name="Task Info")
    metrics: TaskMetrics | None = msgspec.field(default=None, name="Task Metrics")


class SqlStart(msgspec.Struct):
    execution_id: int = msgspec.field(default=-1, name="executionId")
    description: str | None = None
    time: int | None = None


class SqlEnd(msgspec.Struct):
    execution_id: int = msgspec.field(default=-1, name="executionId")
    time: int | None = None
    error: str | None = msgspec.field(default=None, name="errorMessage")


TASK_END_DECODER = msgspec.json.Decoder(TaskEnd)
SQL_START_DECODER = msgspec.json.Decoder(SqlStart)
SQL_END_DECODER = msgspec.json.Decoder(SqlEnd)
