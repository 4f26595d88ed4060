"""Streaming aggregation of decoded listener events into an :class:`AppSummary` (bounded memory).

Tasks are never kept: each TaskEnd is folded into its stage attempt's accumulator (sums, max and a
bounded duration sketch, see tasks.py). Memory grows with the number of stages / jobs / SQL
executions, never with the number of tasks.
"""

from __future__ import annotations

from collections import Counter

import msgspec

from airflow_provider_gradient.core.eventlog import schema
from airflow_provider_gradient.core.eventlog.accumulators import (
    JobAccumulator,
    SqlAccumulator,
    StageAccumulator,
    as_int,
    maybe_int,
    opt_int,
)
from airflow_provider_gradient.core.eventlog.build import build_summary
from airflow_provider_gradient.core.eventlog.environment import as_str_map
from airflow_provider_gradient.core.eventlog.errors import MalformedEventError, MixedSparkContextError
from airflow_provider_gradient.core.eventlog.summary import AppSummary
from airflow_provider_gradient.core.eventlog.tasks import MAX_REASON_KEYS, TaskFolder

_MAX_TIMELINE = 256


def _utf8(line: bytes) -> bool:
    """Whether a non-ASCII line is valid UTF-8. The msgspec decoders take only such lines: orjson rejects
    invalid UTF-8 anywhere in a line, msgspec only in the values it keeps (same errors either way)."""
    try:
        line.decode()
    except UnicodeDecodeError:
        return False
    return True


class Aggregator(TaskFolder):
    """Folds events into running totals; :meth:`finish` builds the :class:`AppSummary`."""

    def __init__(self) -> None:
        self.app_id: str | None = None
        self.app_name: str | None = None
        self.attempt_id: str | None = None
        self.spark_version: str | None = None
        self.dbc_header = False
        self.start_ms: int | None = None
        self.end_ms: int | None = None
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.props: dict[str, str] = {}
        self.system: dict[str, str] = {}
        self.stages: dict[tuple[int, int], StageAccumulator] = {}
        self.stage_ids: set[int] = set()
        self.stage_to_job: dict[int, int] = {}
        self.jobs: dict[int, JobAccumulator] = {}
        self.sql: dict[int, SqlAccumulator] = {}
        self.failure_reasons: Counter[str] = Counter()
        self.failure_exceptions: Counter[str] = Counter()
        self.executor_lost = 0
        self.killed = 0
        self.speculative = 0
        self.oom = False
        self.oom_messages: list[str] = []
        self.removed_reasons: Counter[str] = Counter()
        # executors over time
        self.executors: dict[str, int] = {}  # live executor id -> cores
        self.exec_added = 0
        self.exec_removed = 0
        self.exec_max = 0
        self.cores_max = 0
        self.exec_cores: Counter[int] = Counter()
        self.exec_area = 0.0
        self.cores_area = 0.0
        self.exec_last_ts: int | None = None
        self.timeline: list[tuple[int, int]] = []
        self.events = 0
        self.handlers = {
            b"SparkListenerTaskEnd": self._task_end_slow,
            b"SparkListenerStageSubmitted": self._stage_info,
            b"SparkListenerStageCompleted": self._stage_completed,
            b"SparkListenerJobStart": self._job_start,
            b"SparkListenerJobEnd": self._job_end,
            b"SparkListenerApplicationStart": self._app_start,
            b"SparkListenerApplicationEnd": self._app_end,
            b"SparkListenerEnvironmentUpdate": self._environment,
            b"SparkListenerLogStart": self._log_start,
            b"DBCEventLoggingListenerMetadata": self._dbc_metadata,
            b"SparkListenerExecutorAdded": self._executor_added,
            b"SparkListenerExecutorRemoved": self._executor_removed,
            b"org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart": self._sql_start,
            b"org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd": self._sql_end,
        }

    # -- helpers ---------------------------------------------------------------------------------

    def seen(self, ts: int | None) -> None:
        """Widen the log's first/last timestamp to ``ts`` (ignored when absent or not positive)."""
        if ts is None or ts <= 0:
            return
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts

    # -- dispatch --------------------------------------------------------------------------------

    def handle(self, name: bytes, line: bytes, where: str) -> None:
        """Fold one event line whose ``"Event"`` value is ``name`` (unknown names are ignored)."""
        handler = self.handlers.get(name)
        if handler is None:
            return
        self.events += 1
        try:
            handler(line, where)
        except MalformedEventError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
            raise MalformedEventError(f"{where}: malformed {name.decode(errors='replace')} ({exc})") from None

    # -- tasks (hot path) ------------------------------------------------------------------------

    def _stage_fields(self, line: bytes, where: str) -> schema.StageInfo:
        """The kept fields of a stage event; the RDD infos and accumulables are skipped, not built."""
        if line.isascii() or _utf8(line):
            try:
                return schema.STAGE_DECODER.decode(line).info
            except msgspec.DecodeError:
                pass  # other value types, no Stage Info, not JSON: the orjson way below decides
        info = self._load(line, where).get("Stage Info")
        if not isinstance(info, dict):
            raise MalformedEventError(f"{where}: stage event without Stage Info")
        name = info.get("Stage Name")
        parents = info.get("Parent IDs")
        failure = info.get("Failure Reason")
        return schema.StageInfo(
            stage_id=maybe_int(info.get("Stage ID")),
            attempt=maybe_int(info.get("Stage Attempt ID")),
            name=name if isinstance(name, str) else None,
            tasks=maybe_int(info.get("Number of Tasks")),
            parents=[as_int(p) for p in parents[:10000]] if isinstance(parents, list) else None,
            submitted=opt_int(info.get("Submission Time")),
            completed=opt_int(info.get("Completion Time")),
            failure=failure if isinstance(failure, str) else None,
        )

    def _stage_info(self, line: bytes, where: str) -> tuple[StageAccumulator, schema.StageInfo]:
        info = self._stage_fields(line, where)
        st = self._stage(
            -1 if info.stage_id is None else info.stage_id, 0 if info.attempt is None else info.attempt
        )
        if info.name is not None:
            st.name = info.name[:200]
        if info.tasks is not None:
            st.declared = info.tasks
        if info.parents is not None:
            st.parents = tuple(info.parents[:10000])
        if info.submitted is not None:
            st.submitted = info.submitted
            self.seen(info.submitted)
        return st, info

    def _stage_completed(self, line: bytes, where: str) -> None:
        st, info = self._stage_info(line, where)
        if info.completed is not None:
            st.completed = info.completed
            self.seen(info.completed)
        if info.failure:
            st.failure = info.failure[:500]
            self._note_oom(info.failure[:20000])

    def _job_fields(self, line: bytes, where: str) -> schema.JobStart:
        """The kept fields of a JobStart; its Stage Infos (every stage's RDD infos) are skipped, not built."""
        if line.isascii() or _utf8(line):
            try:
                return schema.JOB_START_DECODER.decode(line)
            except msgspec.DecodeError:
                pass  # other value types or not JSON: the orjson way below decides
        ev = self._load(line, where)
        ids = ev.get("Stage IDs")
        props = ev.get("Properties")
        sql = props.get("spark.sql.execution.id") if isinstance(props, dict) else None
        return schema.JobStart(
            job_id=maybe_int(ev.get("Job ID")),
            submitted=opt_int(ev.get("Submission Time")),
            stage_ids=[as_int(s) for s in ids[:100000]] if isinstance(ids, list) else None,
            properties=schema.JobProperties(None if sql is None else str(sql)),
        )

    def _job_start(self, line: bytes, where: str) -> None:
        ev = self._job_fields(line, where)
        job_id = -1 if ev.job_id is None else ev.job_id
        job = self.jobs.get(job_id) or JobAccumulator(job_id)
        self.jobs[job_id] = job
        job.submitted = ev.submitted
        self.seen(job.submitted)
        if ev.stage_ids is not None:
            job.stage_ids = tuple(ev.stage_ids[:100000])
            for s in job.stage_ids:
                self.stage_to_job.setdefault(s, job_id)
        sql = ev.properties.sql_id if ev.properties is not None else None
        if sql is not None and sql.isascii() and sql.strip().lstrip("-").isdigit():
            job.sql_id = int(sql.strip())

    def _job_end(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        job_id = as_int(ev.get("Job ID"), -1)
        job = self.jobs.get(job_id) or JobAccumulator(job_id)
        self.jobs[job_id] = job
        job.completed = opt_int(ev.get("Completion Time"))
        self.seen(job.completed)
        result = ev.get("Job Result")
        if isinstance(result, dict) and result.get("Result") not in (None, "JobSucceeded"):
            job.failed = True
            exc = result.get("Exception")
            if isinstance(exc, dict):
                self._note_oom(str(exc.get("Message", ""))[:20000])

    # -- application -----------------------------------------------------------------------------

    def _app_start(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        app_id = ev.get("App ID")
        if isinstance(app_id, str) and app_id:
            if self.app_id is not None and self.app_id != app_id:
                raise MixedSparkContextError(
                    f"{where}: events of two applications ({self.app_id} and {app_id})"
                )
            self.app_id = app_id
        if isinstance(ev.get("App Name"), str):
            self.app_name = ev["App Name"]
        attempt = ev.get("App Attempt ID")
        if attempt is not None:
            self.attempt_id = str(attempt)
        ts = opt_int(ev.get("Timestamp"))
        if ts is not None and self.start_ms is None:
            self.start_ms = ts
        self.seen(ts)

    def _app_end(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        ts = opt_int(ev.get("Timestamp"))
        self.end_ms = ts if ts is not None else (self.last_ts or 0)
        self.seen(ts)

    def _environment(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        self.props.update(as_str_map(ev.get("Spark Properties")))
        self.system.update(
            {k: v for k, v in as_str_map(ev.get("System Properties")).items() if k == "EMR_CLUSTER_ID"}
        )

    def _log_start(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        if isinstance(ev.get("Spark Version"), str):
            self.spark_version = ev["Spark Version"]

    def _dbc_metadata(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        self.dbc_header = True
        if self.spark_version is None and isinstance(ev.get("Spark Version"), str):
            self.spark_version = ev["Spark Version"]

    # -- executors -------------------------------------------------------------------------------

    def advance_executors(self, ts: int | None) -> None:
        """Add the executor-time area up to ``ts`` (time-weighted executor count)."""
        if ts is None:
            return
        if self.exec_last_ts is not None and ts > self.exec_last_ts:
            dt = ts - self.exec_last_ts
            self.exec_area += dt * len(self.executors)
            self.cores_area += dt * sum(self.executors.values())
        if self.exec_last_ts is None or ts > self.exec_last_ts:
            self.exec_last_ts = ts

    def _record_timeline(self, ts: int | None) -> None:
        if ts is None:
            return
        self.timeline.append((ts, len(self.executors)))
        if len(self.timeline) > 2 * _MAX_TIMELINE:
            # thin out, keeping the first and last points
            self.timeline = self.timeline[:1] + self.timeline[1:-1:2] + self.timeline[-1:]

    def _executor_added(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        ts = opt_int(ev.get("Timestamp"))
        self.seen(ts)
        self.advance_executors(ts)
        info = ev.get("Executor Info")
        cores = as_int(info.get("Total Cores"), 0) if isinstance(info, dict) else 0
        exec_id = str(ev.get("Executor ID"))
        if exec_id not in self.executors:
            self.exec_added += 1
        self.executors[exec_id] = max(cores, 0)
        if cores > 0:
            self.exec_cores[cores] += 1
        self.exec_max = max(self.exec_max, len(self.executors))
        self.cores_max = max(self.cores_max, sum(self.executors.values()))
        self._record_timeline(ts)

    def _executor_removed(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        ts = opt_int(ev.get("Timestamp"))
        self.seen(ts)
        self.advance_executors(ts)
        if self.executors.pop(str(ev.get("Executor ID")), None) is not None:
            self.exec_removed += 1
        reason = ev.get("Removed Reason")
        if isinstance(reason, str):
            self._note_oom(reason)
            key = reason.split(":")[0].strip()[:80] or "unknown"
            if len(self.removed_reasons) < MAX_REASON_KEYS or key in self.removed_reasons:
                self.removed_reasons[key] += 1
        self._record_timeline(ts)

    # -- SQL -------------------------------------------------------------------------------------

    def _sql_start(self, line: bytes, where: str) -> None:
        try:
            ev = schema.SQL_START_DECODER.decode(line)
        except msgspec.DecodeError as exc:
            raise MalformedEventError(f"{where}: malformed SQLExecutionStart ({exc})") from None
        sql = self.sql.get(ev.execution_id) or SqlAccumulator(ev.execution_id)
        self.sql[ev.execution_id] = sql
        sql.description = (ev.description or "")[:200]
        sql.start = ev.time
        self.seen(ev.time)

    def _sql_end(self, line: bytes, where: str) -> None:
        try:
            ev = schema.SQL_END_DECODER.decode(line)
        except msgspec.DecodeError as exc:
            raise MalformedEventError(f"{where}: malformed SQLExecutionEnd ({exc})") from None
        sql = self.sql.get(ev.execution_id) or SqlAccumulator(ev.execution_id)
        self.sql[ev.execution_id] = sql
        sql.end = ev.time
        if ev.error:
            sql.error = ev.error[:300]
            self._note_oom(ev.error[:20000])
        self.seen(ev.time)

    # -- result ----------------------------------------------------------------------------------

    # -- result ----------------------------------------------------------------------------------

    def finish(self, *, hints: dict[str, str], source_format: str, parts: int) -> AppSummary:
        """Build the summary.

        :raises NoApplicationEventsError: nothing that describes an application was seen.
        """
        return build_summary(self, hints=hints, source_format=source_format, parts=parts)
