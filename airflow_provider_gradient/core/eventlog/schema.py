"""msgspec schemas of the hot events: decode only the fields we aggregate, skip the rest fast."""

from __future__ import annotations

from typing import Annotated

import msgspec

#: A signed 64-bit integer (orjson turns larger ones into floats): other values fail validation and take
#: the orjson way.
I64 = Annotated[int, msgspec.Meta(ge=-(1 << 63), le=(1 << 63) - 1)]


class Reason(msgspec.Struct, gc=False):
    reason: str = msgspec.field(default="Success", name="Reason")


class TaskInfo(msgspec.Struct, gc=False):
    launch: int = msgspec.field(default=0, name="Launch Time")
    finish: int = msgspec.field(default=0, name="Finish Time")
    speculative: bool = msgspec.field(default=False, name="Speculative")


class ShuffleRead(msgspec.Struct, gc=False):
    remote: int = msgspec.field(default=0, name="Remote Bytes Read")
    local: int = msgspec.field(default=0, name="Local Bytes Read")
    records: int = msgspec.field(default=0, name="Total Records Read")


class ShuffleWrite(msgspec.Struct, gc=False):
    written: int = msgspec.field(default=0, name="Shuffle Bytes Written")
    records: int = msgspec.field(default=0, name="Shuffle Records Written")


class InputMetrics(msgspec.Struct, gc=False):
    read: int = msgspec.field(default=0, name="Bytes Read")
    records: int = msgspec.field(default=0, name="Records Read")


class OutputMetrics(msgspec.Struct, gc=False):
    written: int = msgspec.field(default=0, name="Bytes Written")
    records: int = msgspec.field(default=0, name="Records Written")


class TaskMetrics(msgspec.Struct, gc=False):
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


class TaskEnd(msgspec.Struct, gc=False):
    stage_id: int = msgspec.field(default=-1, name="Stage ID")
    stage_attempt: int = msgspec.field(default=0, name="Stage Attempt ID")
    end_reason: Reason | None = msgspec.field(default=None, name="Task End Reason")
    info: TaskInfo | None = msgspec.field(default=None, name="Task Info")
    metrics: TaskMetrics | None = msgspec.field(default=None, name="Task Metrics")


class SqlStart(msgspec.Struct, gc=False):
    execution_id: int = msgspec.field(default=-1, name="executionId")
    description: str | None = None
    time: int | None = None


class SqlEnd(msgspec.Struct, gc=False):
    execution_id: int = msgspec.field(default=-1, name="executionId")
    time: int | None = None
    error: str | None = msgspec.field(default=None, name="errorMessage")


TASK_END_DECODER = msgspec.json.Decoder(TaskEnd)
TASK_END_LIST_DECODER = msgspec.json.Decoder(list[TaskEnd])
METRICS_DECODER = msgspec.json.Decoder(TaskMetrics | None)

#: Minimum size (bytes) of the accumulables + executor metrics region for the sliced decode.
SKIP_THRESHOLD = 1500
_INFO = b',"Task Info":{'
_ACCUMULABLES = b',"Accumulables":'
_METRICS = b'"Task Metrics":'


def decode_task_end(line: bytes) -> TaskEnd:
    """Decode a TaskEnd line, skipping the (large) accumulables and executor metrics when possible.

    Spark writes "Launch Time" / "Finish Time" before "Accumulables" in Task Info and "Task Metrics"
    last; when the line has that shape only those slices are decoded, else the whole line is.

    :raises msgspec.DecodeError: the line is not a valid TaskEnd.
    """
    acc = line.find(_ACCUMULABLES)
    tm = line.rfind(_METRICS)
    # Worth it only when there is a lot to skip (SQL accumulables, executor metrics).
    if acc > 0 and tm - acc > SKIP_THRESHOLD and line.find(_INFO, 0, acc) > 0:
        try:
            head = TASK_END_DECODER.decode(line[:acc] + b"}}")
            end = line.rstrip().rfind(b"}")
            head.metrics = METRICS_DECODER.decode(line[tm + 15 : end])
            return head
        except msgspec.DecodeError:
            pass
    return TASK_END_DECODER.decode(line)


class StageInfo(msgspec.Struct, gc=False):
    """The fields of a stage event's "Stage Info" that we keep (None = absent or null)."""

    stage_id: I64 | None = msgspec.field(default=None, name="Stage ID")
    attempt: I64 | None = msgspec.field(default=None, name="Stage Attempt ID")
    name: str | None = msgspec.field(default=None, name="Stage Name")
    tasks: I64 | None = msgspec.field(default=None, name="Number of Tasks")
    parents: list[I64] | None = msgspec.field(default=None, name="Parent IDs")
    submitted: I64 | None = msgspec.field(default=None, name="Submission Time")
    completed: I64 | None = msgspec.field(default=None, name="Completion Time")
    failure: str | None = msgspec.field(default=None, name="Failure Reason")


class StageEvent(msgspec.Struct, gc=False):
    """StageSubmitted / StageCompleted: the RDD infos and accumulables are skipped, never built."""

    info: StageInfo = msgspec.field(name="Stage Info")


class JobProperties(msgspec.Struct, gc=False):
    sql_id: str | None = msgspec.field(default=None, name="spark.sql.execution.id")


class JobStart(msgspec.Struct, gc=False):
    """JobStart: the per-stage "Stage Infos" (with every RDD info) are skipped, never built."""

    job_id: I64 | None = msgspec.field(default=None, name="Job ID")
    submitted: I64 | None = msgspec.field(default=None, name="Submission Time")
    stage_ids: list[I64] | None = msgspec.field(default=None, name="Stage IDs")
    properties: JobProperties | None = msgspec.field(default=None, name="Properties")


#: Decoders of the large stage / job lines. A line they reject (other value types, a missing
#: "Stage Info", invalid JSON) is decoded whole by orjson and coerced field by field instead.
STAGE_DECODER = msgspec.json.Decoder(StageEvent)
JOB_START_DECODER = msgspec.json.Decoder(JobStart)

SQL_START_DECODER = msgspec.json.Decoder(SqlStart)
SQL_END_DECODER = msgspec.json.Decoder(SqlEnd)
