"""The hot path: folding SparkListenerTaskEnd events into stage accumulators, and task failures."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import msgspec
import orjson

from airflow_provider_gradient.core.eventlog import schema
from airflow_provider_gradient.core.eventlog.accumulators import StageAccumulator, as_int
from airflow_provider_gradient.core.eventlog.chunks import LineSource
from airflow_provider_gradient.core.eventlog.errors import MalformedEventError
from airflow_provider_gradient.core.eventlog.sketch import GAMMA

OOM_PATTERN = re.compile(
    r"OutOfMemoryError|Container killed|exceeding memory limits|GC overhead limit exceeded|"
    r"Java heap space|OOMKilled|exit code 137|exit status 137|Direct buffer memory",
    re.IGNORECASE,
)
MAX_MESSAGES = 5
MAX_REASON_KEYS = 50
_INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
_NONE = math.inf  # "none seen yet" for running minima (above any int)


class TaskFolder:
    """Task-level part of the aggregator (state is initialised by :class:`Aggregator`)."""

    stages: dict[tuple[int, int], StageAccumulator]
    stage_ids: set[int]
    failure_reasons: Counter[str]
    failure_exceptions: Counter[str]
    executor_lost: int
    killed: int
    speculative: int
    oom: bool
    oom_messages: list[str]

    def _stage(self, stage_id: int, attempt: int) -> StageAccumulator:
        key = (stage_id, attempt)
        st = self.stages.get(key)
        if st is None:
            st = self.stages[key] = StageAccumulator(stage_id, attempt)
            self.stage_ids.add(stage_id)
        return st

    def _note_oom(self, text: str | None) -> None:
        if text and OOM_PATTERN.search(text):
            self.oom = True
            if len(self.oom_messages) < MAX_MESSAGES:
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

    def _task_end_slow(self, line: bytes, where: str) -> None:
        self.task_end(line, where, 0)

    def task_ends(self, lines: list[bytes], part: str, span: tuple[int, int]) -> None:
        """Fold a batch of SparkListenerTaskEnd lines (decoded in one msgspec call when all are valid).

        :param lines: the TaskEnd lines of one chunk.
        :param part: part name, for error messages.
        :param span: first and last line number of the chunk, for error messages.
        """
        try:
            parts = lines.copy()  # brackets on the first and last line: one copy of the batch, not three
            parts[0] = b"[" + parts[0]
            parts[-1] += b"]"
            events = schema.TASK_END_LIST_DECODER.decode(b",".join(parts))
        except msgspec.DecodeError:
            where = f"{part}:{span[0]}-{span[1]}"
            for line in lines:
                self.task_end(line, where, 0)
            return
        self._fold_batch(events, lines, part, 0)

    def fold_task_ends(self, events: list[schema.TaskEnd], lines: LineSource, part: str) -> None:
        """Fold TaskEnds decoded elsewhere (the chunk fast path); ``lines[i]`` is the line of ``events[i]``."""
        self._fold_batch(events, lines, part, 0)

    def task_end(self, line: bytes, part: str, line_no: int) -> None:
        """Fold one SparkListenerTaskEnd line (the hot path: no dict decode, no per-line strings)."""
        try:
            ev = schema.decode_task_end(line)
        except msgspec.DecodeError:
            where = f"{part}:{line_no}" if line_no else part
            raw = self._load(line, where)
            try:
                ev = msgspec.convert(raw, schema.TaskEnd, strict=False)
            except (msgspec.ValidationError, TypeError) as exc:
                raise MalformedEventError(f"{where}: malformed SparkListenerTaskEnd ({exc})") from None
        self._fold_batch([ev], [line], part, line_no)

    def _fold_batch(self, events: list[schema.TaskEnd], lines: LineSource, part: str, line_no: int) -> None:
        """Fold decoded task ends; runs of one stage attempt are summed in local variables first."""
        log = math.log
        inv = _INV_LOG_GAMMA
        none = _NONE
        st: StageAccumulator | None = None
        cur_id: int | None = None  # no stage yet: None differs from every stage id / attempt
        cur_att: int | None = None
        start = dsum = dmax = run = cpu = gc = mem = disk = peak = spec = 0
        in_b = in_r = out_b = out_r = sr_b = sr_r = sw_b = sw_r = 0
        dmin = first = none
        last = 0
        buckets: dict[int, int] = {}
        for i, ev in enumerate(events):
            if ev.stage_id != cur_id or ev.stage_attempt != cur_att:
                if st is not None:
                    self._flush(st, i - start, dsum, dmax, dmin, run, cpu, gc, mem, disk, peak, in_b, in_r, out_b,
                                out_r, sr_b, sr_r, sw_b, sw_r, first, last)  # fmt: skip
                cur_id, cur_att = ev.stage_id, ev.stage_attempt
                st = self.stages.get((cur_id, cur_att)) or self._stage(cur_id, cur_att)
                buckets = st.buckets
                start = i
                dsum = dmax = run = cpu = gc = mem = disk = peak = 0
                in_b = in_r = out_b = out_r = sr_b = sr_r = sw_b = sw_r = 0
                dmin = first = none
                last = 0
            info = ev.info
            if info is not None:
                launch = info.launch
                finish = info.finish
                if finish > launch > 0:
                    dur = finish - launch
                    b = int(log(dur) * inv)
                    if launch < first:
                        first = launch
                else:
                    dur = 0
                    b = -1
                    if 0 < launch < first:
                        first = launch
                dsum += dur
                if dur > dmax:
                    dmax = dur
                if dur < dmin:
                    dmin = dur
                buckets[b] = buckets.get(b, 0) + 1
                if finish > last:
                    last = finish
                if info.speculative:
                    spec += 1
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
            if reason is not None and reason.reason != "Success" and st is not None:
                st.failed += 1
                self._task_failure(lines[i], reason.reason, f"{part}:{line_no}" if line_no else part)
        self.speculative += spec
        if st is not None:
            self._flush(st, len(events) - start, dsum, dmax, dmin, run, cpu, gc, mem, disk, peak, in_b, in_r, out_b,
                        out_r, sr_b, sr_r, sw_b, sw_r, first, last)  # fmt: skip

    @staticmethod
    def _flush(st: StageAccumulator, n: int, dsum: int, dmax: int, dmin: float, run: int, cpu: int, gc: int, mem: int,
               disk: int, peak: int, in_b: int, in_r: int, out_b: int, out_r: int, sr_b: int, sr_r: int,
               sw_b: int, sw_r: int, first: float, last: int) -> None:  # fmt: skip
        """Add one run's sums to its stage (``dmin`` / ``first`` are ``_NONE`` when no task had Task Info)."""
        st.tasks += n
        st.dur_sum += dsum
        st.dur_max = max(st.dur_max, dmax)
        if dmin != _NONE and (st.dur_min is None or dmin < st.dur_min):
            st.dur_min = int(dmin)
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
        if first != _NONE and (st.first_launch is None or first < st.first_launch):
            st.first_launch = int(first)
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
                    return as_int(acc.get("Update"))
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            return 0
        return 0

    def _task_failure(self, line: bytes, reason: str, where: str) -> None:
        ev = self._load(line, where)
        detail = ev.get("Task End Reason")
        detail = detail if isinstance(detail, dict) else {}
        key = (
            reason
            if len(self.failure_reasons) < MAX_REASON_KEYS or reason in self.failure_reasons
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
                if len(self.failure_exceptions) < MAX_REASON_KEYS or cls in self.failure_exceptions
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
