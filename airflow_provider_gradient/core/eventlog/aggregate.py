"""Streaming aggregation of decoded listener events into an :class:`AppSummary` (bounded memory).

Tasks are never kept: each TaskEnd is folded into its stage attempt's accumulator (sums, max and a
bounded duration sketch). Memory grows with the number of stages / jobs / SQL executions, never
with the number of tasks.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import orjson

from airflow_provider_gradient.core.eventlog import schema
from airflow_provider_gradient.core.eventlog.environment import (
    as_str_map,
    cluster_facts,
    detect_platform,
    kept_properties,
)
from airflow_provider_gradient.core.eventlog.errors import (
    MalformedEventError,
    MixedSparkContextError,
    NoApplicationEventsError,
)
from airflow_provider_gradient.core.eventlog.sketch import GAMMA, quantiles
from airflow_provider_gradient.core.eventlog.summary import (
    QUANTILE_LEVELS,
    AppSummary,
    SqlExecution,
    StageSummary,
)

OOM_PATTERN = re.compile(
    r"OutOfMemoryError|Container killed|exceeding memory limits|GC overhead limit exceeded|"
    r"Java heap space|OOMKilled|exit code 137|exit status 137|Direct buffer memory",
    re.IGNORECASE,
)
_MAX_MESSAGES = 5
_MAX_REASON_KEYS = 50
_MAX_TIMELINE = 256
_MAX_SQL_JOB_IDS = 1000
_INV_LOG_GAMMA = 1.0 / math.log(GAMMA)


def _int(value: Any, default: int = 0) -> int:
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
            return default
    return default


def _opt_int(value: Any) -> int | None:
    return None if value is None or isinstance(value, dict | list) else _int(value, 0)


class _Stage:
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


class _Job:
    __slots__ = ("job_id", "sql_id", "submitted", "completed", "failed", "stage_ids")

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.sql_id: int | None = None
        self.submitted: int | None = None
        self.completed: int | None = None
        self.failed = False
        self.stage_ids: tuple[int, ...] = ()


class _Sql:
    __slots__ = ("execution_id", "description", "start", "end", "error")

    def __init__(self, execution_id: int) -> None:
        self.execution_id = execution_id
        self.description = ""
        self.start: int | None = None
        self.end: int | None = None
        self.error: str | None = None


class Aggregator:
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
        self.stages: dict[tuple[int, int], _Stage] = {}
        self.stage_ids: set[int] = set()
        self.stage_to_job: dict[int, int] = {}
        self.jobs: dict[int, _Job] = {}
        self.sql: dict[int, _Sql] = {}
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
            b"SparkListenerStageSubmitted": self._stage_submitted,
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

    def _seen(self, ts: int | None) -> None:
        if ts is None or ts <= 0:
            return
        if self.first_ts is None or ts < self.first_ts:
            self.first_ts = ts
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts

    def _stage(self, stage_id: int, attempt: int) -> _Stage:
        key = (stage_id, attempt)
        st = self.stages.get(key)
        if st is None:
            st = self.stages[key] = _Stage(stage_id, attempt)
            self.stage_ids.add(stage_id)
        return st

    def _note_oom(self, text: str | None) -> None:
        if text and OOM_PATTERN.search(text):
            self.oom = True
            if len(self.oom_messages) < _MAX_MESSAGES:
                first = text.strip().splitlines()[0] if text.strip() else text
                self.oom_messages.append(first[:300])

    @staticmethod
    def _load(line: bytes, what: str) -> dict[str, Any]:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise MalformedEventError(f"{what}: not valid JSON ({exc})") from None
        if not isinstance(event, dict):
            raise MalformedEventError(f"{what}: not a JSON object")
        return event

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

    def _task_end_slow(self, line: bytes, where: str) -> None:
        self.task_end(line, where, 0)

    def task_ends(self, lines: list[bytes], part: str, line_no: int) -> None:
        """Fold a batch of SparkListenerTaskEnd lines (decoded in one msgspec call when all are valid).

        :param lines: the TaskEnd lines of one chunk.
        :param part: part name, for error messages.
        :param line_no: line number of the end of the chunk, for error messages.
        """
        try:
            events = schema.TASK_END_LIST_DECODER.decode(b"[" + b",".join(lines) + b"]")
        except schema.msgspec.DecodeError:
            for line in lines:
                self.task_end(line, part, line_no)
            return
        self._fold_batch(events, lines, part, line_no)

    def task_end(self, line: bytes, part: str, line_no: int) -> None:
        """Fold one SparkListenerTaskEnd line (the hot path: no dict decode, no per-line strings)."""
        try:
            ev = schema.decode_task_end(line)
        except schema.msgspec.DecodeError:
            where = f"{part}:{line_no}" if line_no else part
            raw = self._load(line, where)
            try:
                ev = schema.msgspec.convert(raw, schema.TaskEnd, strict=False)
            except (schema.msgspec.ValidationError, TypeError) as exc:
                raise MalformedEventError(f"{where}: malformed SparkListenerTaskEnd ({exc})") from None
        self._fold_batch([ev], [line], part, line_no)

    def _fold_batch(self, events: list[schema.TaskEnd], lines: list[bytes], part: str, line_no: int) -> None:
        """Fold decoded task ends; runs of one stage attempt are summed in local variables first."""
        log = math.log
        inv = _INV_LOG_GAMMA
        st: _Stage | None = None
        cur_id = cur_att = -(1 << 62)
        n = dsum = dmax = run = cpu = gc = mem = disk = peak = 0
        in_b = in_r = out_b = out_r = sr_b = sr_r = sw_b = sw_r = 0
        dmin = first = -1
        last = 0
        buckets: dict[int, int] = {}
        for i, ev in enumerate(events):
            if ev.stage_id != cur_id or ev.stage_attempt != cur_att:
                if st is not None:
                    self._flush(st, n, dsum, dmax, dmin, run, cpu, gc, mem, disk, peak, in_b, in_r, out_b, out_r,
                                sr_b, sr_r, sw_b, sw_r, first, last)  # fmt: skip
                cur_id, cur_att = ev.stage_id, ev.stage_attempt
                st = self.stages.get((cur_id, cur_att)) or self._stage(cur_id, cur_att)
                buckets = st.buckets
                n = dsum = dmax = run = cpu = gc = mem = disk = peak = 0
                in_b = in_r = out_b = out_r = sr_b = sr_r = sw_b = sw_r = 0
                dmin = first = -1
                last = 0
            n += 1
            info = ev.info
            if info is not None:
                launch = info.launch
                finish = info.finish
                dur = finish - launch if finish > launch > 0 else 0
                dsum += dur
                if dur > dmax:
                    dmax = dur
                if dmin < 0 or dur < dmin:
                    dmin = dur
                b = int(log(dur) * inv) if dur >= 1 else -1
                buckets[b] = buckets.get(b, 0) + 1
                if launch > 0 and (first < 0 or launch < first):
                    first = launch
                if finish > last:
                    last = finish
                if info.speculative:
                    self.speculative += 1
            m = ev.metrics
            if m is not None:
                run += m.run_time
                cpu += m.cpu_time
                gc += m.gc_time
                mem += m.memory_spilled
                disk += m.disk_spilled
                p = m.peak_memory
                if p is None:
                    p = self._peak_from_accumulables(lines[i])
                if p > peak:
                    peak = p
                x = m.input
                if x is not None:
                    in_b += x.read
                    in_r += x.records
                y = m.output
                if y is not None:
                    out_b += y.written
                    out_r += y.records
                r = m.shuffle_read
                if r is not None:
                    sr_b += r.remote + r.local
                    sr_r += r.records
                w = m.shuffle_write
                if w is not None:
                    sw_b += w.written
                    sw_r += w.records
            reason = ev.end_reason
            if reason is not None and reason.reason != "Success":
                assert st is not None
                st.failed += 1
                self._task_failure(lines[i], reason.reason, f"{part}:{line_no}" if line_no else part)
        if st is not None:
            self._flush(st, n, dsum, dmax, dmin, run, cpu, gc, mem, disk, peak, in_b, in_r, out_b, out_r,
                        sr_b, sr_r, sw_b, sw_r, first, last)  # fmt: skip

    @staticmethod
    def _flush(st: _Stage, n: int, dsum: int, dmax: int, dmin: int, run: int, cpu: int, gc: int, mem: int,
               disk: int, peak: int, in_b: int, in_r: int, out_b: int, out_r: int, sr_b: int, sr_r: int,
               sw_b: int, sw_r: int, first: int, last: int) -> None:  # fmt: skip
        st.tasks += n
        st.dur_sum += dsum
        st.dur_max = max(st.dur_max, dmax)
        if dmin >= 0 and (st.dur_min is None or dmin < st.dur_min):
            st.dur_min = dmin
        st.run_time += run
        st.cpu_ns += cpu
        st.gc += gc
        st.mem_spill += mem
        st.disk_spill += disk
        st.peak = max(st.peak, peak)
        st.in_bytes += in_b
        st.in_records += in_r
        st.out_bytes += out_b
        st.out_records += out_r
        st.sr_bytes += sr_b
        st.sr_records += sr_r
        st.sw_bytes += sw_b
        st.sw_records += sw_r
        if first > 0 and (st.first_launch is None or first < st.first_launch):
            st.first_launch = first
        if last > 0 and (st.last_finish is None or last > st.last_finish):
            st.last_finish = last

    @staticmethod
    def _peak_from_accumulables(line: bytes) -> int:
        if b"eakExecutionMemory" not in line:
            return 0
        try:
            ev = orjson.loads(line)
            for acc in (ev.get("Task Info") or {}).get("Accumulables") or ():
                if isinstance(acc, dict) and str(acc.get("Name", "")).endswith("peakExecutionMemory"):
                    return _int(acc.get("Update"))
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            return 0
        return 0

    def _task_failure(self, line: bytes, reason: str, where: str) -> None:
        ev = self._load(line, where)
        detail = ev.get("Task End Reason")
        detail = detail if isinstance(detail, dict) else {}
        key = (
            reason
            if len(self.failure_reasons) < _MAX_REASON_KEYS or reason in self.failure_reasons
            else "other"
        )
        self.failure_reasons[key] += 1
        if reason == "TaskKilled":
            self.killed += 1
        if reason == "ExecutorLostFailure":
            self.executor_lost += 1
        cls = detail.get("Class Name")
        if isinstance(cls, str):
            ck = (
                cls
                if len(self.failure_exceptions) < _MAX_REASON_KEYS or cls in self.failure_exceptions
                else "other"
            )
            self.failure_exceptions[ck] += 1
        for k in ("Class Name", "Description", "Loss Reason", "Kill Reason", "Full Stack Trace"):
            v = detail.get(k)
            if isinstance(v, str):
                self._note_oom(v[:20000])
                if self.oom and k == "Class Name":
                    break

    # -- stages / jobs ---------------------------------------------------------------------------

    def _stage_info(self, line: bytes, where: str) -> tuple[_Stage, dict[str, Any]]:
        ev = self._load(line, where)
        info = ev.get("Stage Info")
        if not isinstance(info, dict):
            raise MalformedEventError(f"{where}: stage event without Stage Info")
        st = self._stage(_int(info.get("Stage ID"), -1), _int(info.get("Stage Attempt ID"), 0))
        if isinstance(info.get("Stage Name"), str):
            st.name = info["Stage Name"][:200]
        st.declared = _int(info.get("Number of Tasks"), st.declared)
        parents = info.get("Parent IDs")
        if isinstance(parents, list):
            st.parents = tuple(_int(p) for p in parents[:10000])
        sub = _opt_int(info.get("Submission Time"))
        if sub is not None:
            st.submitted = sub
            self._seen(sub)
        return st, info

    def _stage_submitted(self, line: bytes, where: str) -> None:
        self._stage_info(line, where)

    def _stage_completed(self, line: bytes, where: str) -> None:
        st, info = self._stage_info(line, where)
        done = _opt_int(info.get("Completion Time"))
        if done is not None:
            st.completed = done
            self._seen(done)
        failure = info.get("Failure Reason")
        if isinstance(failure, str) and failure:
            st.failure = failure[:500]
            self._note_oom(failure[:20000])

    def _job_start(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        job_id = _int(ev.get("Job ID"), -1)
        job = self.jobs.get(job_id) or _Job(job_id)
        self.jobs[job_id] = job
        job.submitted = _opt_int(ev.get("Submission Time"))
        self._seen(job.submitted)
        ids = ev.get("Stage IDs")
        if isinstance(ids, list):
            job.stage_ids = tuple(_int(s) for s in ids[:100000])
            for s in job.stage_ids:
                self.stage_to_job.setdefault(s, job_id)
        props = ev.get("Properties")
        if isinstance(props, dict):
            sql = props.get("spark.sql.execution.id")
            if sql is not None and str(sql).strip().lstrip("-").isdigit():
                job.sql_id = int(str(sql).strip())

    def _job_end(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        job_id = _int(ev.get("Job ID"), -1)
        job = self.jobs.get(job_id) or _Job(job_id)
        self.jobs[job_id] = job
        job.completed = _opt_int(ev.get("Completion Time"))
        self._seen(job.completed)
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
        ts = _opt_int(ev.get("Timestamp"))
        if ts is not None and self.start_ms is None:
            self.start_ms = ts
        self._seen(ts)

    def _app_end(self, line: bytes, where: str) -> None:
        ev = self._load(line, where)
        ts = _opt_int(ev.get("Timestamp"))
        self.end_ms = ts if ts is not None else (self.last_ts or 0)
        self._seen(ts)

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

    def _advance_executors(self, ts: int | None) -> None:
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
        ts = _opt_int(ev.get("Timestamp"))
        self._seen(ts)
        self._advance_executors(ts)
        info = ev.get("Executor Info")
        cores = _int(info.get("Total Cores"), 0) if isinstance(info, dict) else 0
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
        ts = _opt_int(ev.get("Timestamp"))
        self._seen(ts)
        self._advance_executors(ts)
        if self.executors.pop(str(ev.get("Executor ID")), None) is not None:
            self.exec_removed += 1
        reason = ev.get("Removed Reason")
        if isinstance(reason, str):
            self._note_oom(reason)
            key = reason.split(":")[0].strip()[:80] or "unknown"
            if len(self.removed_reasons) < _MAX_REASON_KEYS or key in self.removed_reasons:
                self.removed_reasons[key] += 1
        self._record_timeline(ts)

    # -- SQL -------------------------------------------------------------------------------------

    def _sql_start(self, line: bytes, where: str) -> None:
        try:
            ev = schema.SQL_START_DECODER.decode(line)
        except schema.msgspec.DecodeError as exc:
            raise MalformedEventError(f"{where}: malformed SQLExecutionStart ({exc})") from None
        sql = self.sql.get(ev.execution_id) or _Sql(ev.execution_id)
        self.sql[ev.execution_id] = sql
        sql.description = (ev.description or "")[:200]
        sql.start = ev.time
        self._seen(ev.time)

    def _sql_end(self, line: bytes, where: str) -> None:
        try:
            ev = schema.SQL_END_DECODER.decode(line)
        except schema.msgspec.DecodeError as exc:
            raise MalformedEventError(f"{where}: malformed SQLExecutionEnd ({exc})") from None
        sql = self.sql.get(ev.execution_id) or _Sql(ev.execution_id)
        self.sql[ev.execution_id] = sql
        sql.end = ev.time
        if ev.error:
            sql.error = ev.error[:300]
            self._note_oom(ev.error[:20000])
        self._seen(ev.time)

    # -- result ----------------------------------------------------------------------------------

    def finish(self, *, hints: dict[str, str], source_format: str, parts: int) -> AppSummary:
        """Build the summary.

        :raises NoApplicationEventsError: nothing that describes an application was seen.
        """
        if self.start_ms is None and not self.stages and not self.jobs and self.app_id is None:
            raise NoApplicationEventsError(
                "no application events in the log (no application start, job, stage or task)"
            )
        for st in self.stages.values():
            self._seen(st.first_launch)
            self._seen(st.last_finish)
        window_start = self.start_ms if self.start_ms is not None else self.first_ts
        window_end = self.end_ms if self.end_ms is not None else self.last_ts
        self._advance_executors(window_end)
        span = (window_end - window_start) if window_start is not None and window_end is not None else 0
        exec_avg = self.exec_area / span if span > 0 else float(self.exec_max)
        cores_avg = self.cores_area / span if span > 0 else float(self.cores_max)
        details = tuple(
            self._stage_summary(st)
            for st in sorted(self.stages.values(), key=lambda s: (s.stage_id, s.attempt))
        )
        tot = _totals(details)
        sql = self._sql_summaries(details)
        duration = None
        if window_start is not None and window_end is not None and window_end >= window_start:
            duration = (window_end - window_start) / 1000.0
        exec_cores = self.exec_cores.most_common(1)[0][0] if self.exec_cores else None
        if exec_cores is None:
            exec_cores = _opt_int(self.props.get("spark.executor.cores"))
        mem = self.props.get("spark.executor.memory")
        return AppSummary(
            app_id=self.app_id or self.props.get("spark.app.id"),
            app_name=self.app_name or self.props.get("spark.app.name"),
            app_attempt_id=self.attempt_id,
            spark_version=self.spark_version,
            platform=detect_platform(self.props, self.system, self.app_id, self.dbc_header),
            master=self.props.get("spark.master"),
            cluster=cluster_facts(self.props),
            start_ms=self.start_ms,
            end_ms=self.end_ms,
            first_event_ms=self.first_ts,
            last_event_ms=self.last_ts,
            duration_s=duration,
            complete=self.end_ms is not None,
            jobs=len(self.jobs),
            failed_jobs=sum(1 for j in self.jobs.values() if j.failed),
            stages=len(self.stage_ids),
            stage_attempts=len(self.stages),
            failed_stages=sum(1 for s in self.stages.values() if s.failure is not None),
            tasks=tot["tasks"],
            failed_tasks=tot["failed"],
            killed_tasks=self.killed,
            speculative_tasks=self.speculative,
            failure_reasons=dict(self.failure_reasons.most_common()),
            failure_exceptions=dict(self.failure_exceptions.most_common()),
            executor_lost_failures=self.executor_lost,
            oom_detected=self.oom,
            oom_messages=tuple(self.oom_messages),
            executors_added=self.exec_added,
            executors_removed=self.exec_removed,
            executors_max=self.exec_max,
            executors_avg=round(exec_avg, 3),
            executor_cores=exec_cores,
            cores_max=self.cores_max,
            cores_avg=round(cores_avg, 3),
            executor_memory_mb=_memory_mb(mem),
            executor_removed_reasons=dict(self.removed_reasons),
            executor_timeline=tuple(self.timeline),
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
            spark_properties=kept_properties(self.props),
            plan_type=hints.get("plan_type"),
            compute_type=hints.get("compute_type"),
            source_format=source_format,
            parts=parts,
        )

    def _stage_summary(self, st: _Stage) -> StageSummary:
        lo = st.dur_min or 0
        q = quantiles(st.buckets, QUANTILE_LEVELS, lo, st.dur_max)
        status = (
            "failed" if st.failure is not None else ("complete" if st.completed is not None else "running")
        )
        return StageSummary(
            stage_id=st.stage_id,
            attempt=st.attempt,
            name=st.name,
            job_id=self.stage_to_job.get(st.stage_id),
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

    def _sql_summaries(self, details: tuple[StageSummary, ...]) -> tuple[SqlExecution, ...]:
        job_time: dict[int, int] = {}
        for s in details:
            if s.job_id is not None:
                job_time[s.job_id] = job_time.get(s.job_id, 0) + s.task_duration_ms_sum
        jobs_of: dict[int, list[int]] = {}
        for job in self.jobs.values():
            if job.sql_id is not None:
                jobs_of.setdefault(job.sql_id, []).append(job.job_id)
                if job.sql_id not in self.sql:
                    self.sql[job.sql_id] = _Sql(job.sql_id)
        out = []
        for sid in sorted(self.sql):
            sql = self.sql[sid]
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
