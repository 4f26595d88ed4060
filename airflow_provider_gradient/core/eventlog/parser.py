"""``parse_event_log``: stream the parts of a log chunk by chunk into the aggregator.

Only the events we aggregate are decoded: the ``{"Event":"<name>"`` prefix of each line is checked
first, so block-manager, metrics and other chatty events cost a byte comparison. Runs of TaskStart /
TaskEnd lines take the chunk fast path (chunks.py); a chunk it declines is split into lines here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import msgspec
import orjson

from airflow_provider_gradient.core.eventlog import schema
from airflow_provider_gradient.core.eventlog.aggregate import Aggregator
from airflow_provider_gradient.core.eventlog.chunks import BIG_LINE as _BIG_LINE
from airflow_provider_gradient.core.eventlog.chunks import TASK_END as _TASK_END
from airflow_provider_gradient.core.eventlog.chunks import TASK_START as _TASK_START
from airflow_provider_gradient.core.eventlog.chunks import ChunkScanner
from airflow_provider_gradient.core.eventlog.errors import (
    EventLogError,
    EventLogNotFoundError,
    MalformedEventError,
)
from airflow_provider_gradient.core.eventlog.inputs import LogPart, open_input
from airflow_provider_gradient.core.eventlog.summary import AppSummary

_PREFIX = b'{"Event":"'
_PLEN = len(_PREFIX)
_HOT = (_TASK_END, _TASK_START)


def parse_event_log(path: str | os.PathLike[str]) -> AppSummary:
    """Parse a Spark / Databricks event log into an :class:`AppSummary`.

    :param path: a plain or compressed log file, a directory (Databricks rollover set, Spark 3
        ``eventlog_v2_*`` rolling directory, Spark 1.x log directory), a zip or a tar(.gz) archive.
    :raises EventLogError: (a subclass naming the problem) for every kind of bad input.
    """
    try:
        with open_input(path) as inp:
            agg = Aggregator()
            for part in inp.parts:
                _feed(agg, part)
            return agg.finish(hints=inp.hints, source_format=inp.container, parts=len(inp.parts))
    except EventLogError:
        raise
    except MemoryError:
        raise MalformedEventError("the log holds a line too large to process") from None
    except OSError as exc:
        raise EventLogNotFoundError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None


def _feed(agg: Aggregator, part: LogPart) -> None:
    """Dispatch the lines of the decoded chunks of one part.

    A chunk goes through :class:`runs.ChunkScanner` first; a chunk it declines is split into lines,
    and the common case (TaskEnd lines of ordinary size, TaskStart lines, a few other events) is
    sorted with list comprehensions. Either way, the lines that are neither TaskStart nor TaskEnd,
    and TaskStart lines that do not end in ``}``, are looked at one by one, then the chunk's TaskEnds
    are folded.
    """
    rest = b""
    line_no = 0
    name = part.name
    scanner = ChunkScanner()
    try:
        for chunk in part.chunks():
            if line_no == 0 and not rest:
                chunk = chunk.removeprefix(b"\xef\xbb\xbf")  # UTF-8 BOM (input discovery accepts it too)
            found = scanner.scan(rest, chunk, line_no + 1)
            if found is not None:
                _dispatch(agg, found.others, name, line_no)  # its TaskEnds are the long ones
                line_no = found.last
                if found.task_ends:
                    agg.fold_task_ends(found.task_ends, found.lines, name)
                rest = found.rest
                continue
            lines = chunk.split(b"\n")
            if rest:
                lines[0] = rest + lines[0]
            rest = lines.pop()
            first = line_no + 1
            batch = [line for line in lines if line.startswith(_TASK_END)]
            if batch and max(map(len, batch)) > _BIG_LINE:
                line_no = _dispatch(agg, enumerate(lines, first), name, first - 1)
                batch = [line for line in batch if len(line) <= _BIG_LINE]
            else:
                others = [
                    (i, line)
                    for i, line in enumerate(lines, first)
                    if not (line.startswith(_HOT) and line.endswith(b"}"))
                ]
                for i, line in others:
                    line_no = i
                    if not line.startswith(_TASK_END):
                        _other(agg, line, name, i)
            line_no = first + len(lines) - 1
            if batch:
                # Task ends only update order-independent stage accumulators: batching is safe.
                agg.task_ends(batch, name, (first, line_no))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        raise MalformedEventError(f"{name}:{line_no}: malformed event ({exc})") from None
    if rest.strip():
        # The last line of a part may be cut short (log still being written): keep it only if whole.
        try:
            _slow(agg, rest, f"{name}:{line_no + 1}")
        except MalformedEventError:
            if _valid_json(rest):
                raise


def _dispatch(agg: Aggregator, numbered: Iterable[tuple[int, bytes]], name: str, before: int) -> int:
    """Numbered lines one by one, in order: very large TaskEnds get the sliced decode, other TaskEnds are
    left to the caller's batch, everything else goes to :func:`_other`.

    Successful large TaskEnds are folded in one batch at the end: they only add to their stage
    attempt's order-independent accumulators (sums, extrema, sketch counts; nothing any handler
    reads), so folding them later gives the same state. A failed or undecodable one is folded in
    place, on its own (failure counters and OOM messages keep their order; its errors name its line).

    :param before: the number of the line before the first (returned when there is none).
    :return: the number of the last line.
    """
    task_end = agg.task_end
    decode = schema.decode_task_end
    events: list[schema.TaskEnd] = []
    lines: list[bytes] = []
    i = before
    try:
        for i, line in numbered:  # noqa: B007 (i is the line number of an error)
            if line.startswith(_TASK_END):
                if len(line) > _BIG_LINE:  # the sliced decode skips the accumulables
                    try:
                        ev = decode(line)
                    except msgspec.DecodeError:
                        ev = None
                    if ev is not None and (ev.end_reason is None or ev.end_reason.reason == "Success"):
                        events.append(ev)
                        lines.append(line)
                    else:
                        task_end(line, name, i)
            else:
                _other(agg, line, name, i)
        if events:
            agg.fold_task_ends(events, lines, name)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as exc:
        raise MalformedEventError(f"{name}:{i}: malformed event ({exc})") from None
    return i


def _other(agg: Aggregator, line: bytes, name: str, line_no: int) -> None:
    """Dispatch one line that is not a SparkListenerTaskEnd."""
    if line.startswith(_TASK_START):
        if not (line.endswith(b"}") or line.rstrip().endswith(b"}")):
            raise MalformedEventError(f"{name}:{line_no}: truncated or malformed event line")
    elif line.startswith(_PREFIX):
        event = line[_PLEN : line.find(b'"', _PLEN)]
        if event in agg.handlers:
            agg.handle(event, line, f"{name}:{line_no}")
        elif not (line.endswith(b"}") or line.rstrip().endswith(b"}")):
            raise MalformedEventError(f"{name}:{line_no}: truncated or malformed event line")
    elif line.strip():
        _slow(agg, line, f"{name}:{line_no}")


def _valid_json(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def _slow(agg: Aggregator, line: bytes, where: str) -> None:
    """A line without the usual ``{"Event":"`` prefix (other key order, spaces): decode it fully."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise MalformedEventError(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(event, dict) or not isinstance(event.get("Event"), str):
        raise MalformedEventError(f"{where}: not a Spark listener event")
    name = event["Event"].encode()
    if name in agg.handlers:
        agg.handle(name, orjson.dumps(event), where)
