"""The chunk fast path (chunks.py) gives exactly what the line path gives, on ordinary and odd logs."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gradient.core.eventlog import EventLogError, chunks, codecs, parse_event_log

TS = '{{"Event":"SparkListenerTaskStart","Stage ID":{s},"Stage Attempt ID":0,"Task Info":{{"Task ID":{t},"Launch Time":{la},"Accumulables":[]}}}}'
TE = (
    '{{"Event":"SparkListenerTaskEnd","Stage ID":{s},"Stage Attempt ID":0,"Task Type":"ResultTask",'
    '"Task End Reason":{reason},"Task Info":{{"Task ID":{t},"Launch Time":{la},"Speculative":{spec},'
    '"Finish Time":{fi},"Accumulables":[{acc}]}},"Task Metrics":{{"Executor Run Time":{run},'
    '"Executor CPU Time":{cpu},"Peak Execution Memory":{peak},"JVM GC Time":3,"Memory Bytes Spilled":0,'
    '"Disk Bytes Spilled":{t},"Shuffle Read Metrics":{{"Remote Bytes Read":{t},"Local Bytes Read":5,'
    '"Total Records Read":7}},"Shuffle Write Metrics":{{"Shuffle Bytes Written":9,"Shuffle Records Written":1}},'
    '"Input Metrics":{{"Bytes Read":{t},"Records Read":2}},"Output Metrics":{{"Bytes Written":4,'
    '"Records Written":1}}}}}}'
)
FAIL = (
    '{"Reason":"ExceptionFailure","Class Name":"java.lang.OutOfMemoryError","Description":"Java heap space"}'
)
ACC = '{"ID":1,"Name":"number of output rows","Update":"1","Value":"1","Internal":true,"Metadata":"sql"}'


def _log(tasks: int = 900, seed: int = 5) -> list[bytes]:
    rnd = random.Random(seed)
    out = [
        '{"Event":"SparkListenerLogStart","Spark Version":"3.5.1"}',
        '{"Event":"SparkListenerApplicationStart","App Name":"t","App ID":"app-1","Timestamp":1000}',
    ]
    for s in range(3):
        out.append(
            f'{{"Event":"SparkListenerStageSubmitted","Stage Info":{{"Stage ID":{s},"Stage Attempt ID":0}}}}'
        )
    for t in range(tasks):
        s = rnd.choice((0, 1, 2)) if t > tasks // 3 else 0  # one stage, then three interleaved
        la = 2000 + t
        out.append(TS.format(s=s, t=t, la=la))
        fail = rnd.random() < 0.02
        out.append(
            TE.format(
                s=s,
                t=t,
                la=la,
                fi=la + rnd.randint(0, 900),
                spec="true" if rnd.random() < 0.05 else "false",
                reason=FAIL if fail else '{"Reason":"Success"}',
                acc=ACC,
                run=rnd.randint(0, 99),
                cpu=rnd.randint(0, 10**6),
                peak=rnd.randint(0, 10**9),
            )
        )
        if t % 97 == 0:
            out.append(f'{{"Event":"SparkListenerExecutorAdded","Timestamp":{la},"Executor ID":"{t}"}}')
    out.append('{"Event":"SparkListenerApplicationEnd","Timestamp":99999}')
    return [line.encode() + b"\n" for line in out]


def _first(lines: list[bytes], kind: bytes, after: int = 300) -> int:
    return next(
        i for i in range(after, len(lines)) if lines[i].startswith(b'{"Event":"SparkListenerTask' + kind)
    )


def _edit(fn: Callable[[list[bytes]], None]) -> bytes:
    lines = _log()
    fn(lines)
    return b"".join(lines)


def _big(lines: list[bytes]) -> None:
    for i in range(0, len(lines), 7):
        if lines[i].startswith(chunks.TASK_END):
            lines[i] = lines[i].replace(ACC.encode(), b",".join([ACC.encode()] * 40))


def _reason_late(lines: list[bytes]) -> None:
    """Long TaskEnds whose reason comes after Task Info (the sliced decode does not see it)."""
    for i in range(0, len(lines), 5):
        if lines[i].startswith(chunks.TASK_END):
            ev = json.loads(lines[i])
            reason = ev.pop("Task End Reason")
            metrics = ev.pop("Task Metrics")
            ev["Task Info"]["Accumulables"] *= 40
            ev |= {"Task End Reason": reason | {"Reason": "TaskKilled"}, "Task Metrics": metrics}
            lines[i] = json.dumps(ev, separators=(",", ":")).encode() + b"\n"


def _two_odd_lines(lines: list[bytes]) -> None:
    """One value over two lines and two values on one line, close together."""
    i = _first(lines, b"Start")
    lines[i] = lines[i].replace(b'"Accumulables":[]', b'"Accumulables":[\n' + chunks.TASK_START + b',"X":1}]')
    j = _first(lines, b"End", i + 1)
    lines[j] = lines[j][:-1] + lines.pop(j + 1)  # a TaskEnd, then a TaskStart


def _key_order(lines: list[bytes]) -> None:
    i = _first(lines, b"End")
    ev = json.loads(lines[i])
    lines[i] = json.dumps({"Stage ID": ev["Stage ID"], **ev}).encode() + b"\n"
    lines[_first(lines, b"Start")] = b"  " + lines[_first(lines, b"Start")]


def _at(kind: bytes, fn: Callable[[list[bytes], int], bytes]) -> Callable[[], bytes]:
    """A variant: the first TaskStart / TaskEnd line (``kind`` b"Start" / b"End") replaced by ``fn``."""

    def edit(lines: list[bytes]) -> None:
        i = _first(lines, kind)
        lines[i] = fn(lines, i)

    return lambda: _edit(edit)


def _blank_lines(lines: list[bytes]) -> None:
    for i in range(5, len(lines), 41):
        lines.insert(i, b"\n")


VARIANTS: dict[str, Callable[[], bytes]] = {
    "plain": lambda: b"".join(_log()),
    "crlf": lambda: b"".join(_log()).replace(b"\n", b"\r\n"),
    "bom": lambda: b"\xef\xbb\xbf" + b"".join(_log()),
    "blank lines": lambda: _edit(_blank_lines),
    "long task ends": lambda: _edit(_big),
    "other key order": lambda: _edit(_key_order),
    "long task ends, reason late": lambda: _edit(_reason_late),
    "value over two lines, two values on one": lambda: _edit(_two_odd_lines),
    "missing peak": _at(b"End", lambda ls, i: ls[i].replace(b'"Peak Execution Memory"', b'"P"')),
    "two values on a start line": _at(b"Start", lambda ls, i: ls[i][:-1] + ls[i + 1]),
    "two values on an end line": _at(b"End", lambda ls, i: ls[i][:-1] + b" " + ls[i - 1]),
    "value over two lines": _at(
        b"Start", lambda ls, i: ls[i].replace(b'"Accumulables":[]', b'"Accumulables":[],\n"X":1')
    ),
    "end over two lines": _at(b"End", lambda ls, i: ls[i].replace(b',"Task Metrics"', b',\n"Task Metrics"')),
    "half a start line": _at(b"Start", lambda ls, i: ls[i][:70] + b"\n"),
    "start line not json": _at(b"Start", lambda ls, i: ls[i][:70] + b"}\n"),
    "bad task end": _at(b"End", lambda ls, i: ls[i].replace(b'"Stage ID":', b'"Stage ID":"x', 1)),
    "end line with trailing space": _at(b"End", lambda ls, i: ls[i][:-1] + b" \n"),
    "getting result": _at(
        b"Start", lambda ls, i: b'{"Event":"SparkListenerTaskGettingResult","Task Info":{}}\n' + ls[i]
    ),
    "two Event keys": _at(b"End", lambda ls, i: ls[i][:-2] + b',"Event":"X"}\n'),
    "cut last line": lambda: b"".join(_log())[:-40],
}


def _outcome(path: Path) -> dict[str, Any]:
    try:
        return parse_event_log(path).to_dict()
    except EventLogError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


@pytest.fixture(params=[1 << 12, 1 << 19], ids=["4 KiB chunks", "512 KiB chunks"])
def chunk_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(codecs, "IN_CHUNK", request.param)
    monkeypatch.setattr(codecs, "OUT_CHUNK", request.param)
    return int(request.param)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_fast_path_matches_line_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_size: int, variant: str, gz: bool
) -> None:
    data = VARIANTS[variant]()
    path = tmp_path / ("log.gz" if gz else "log")
    path.write_bytes(gzip.compress(data) if gz else data)
    scanned: list[bool] = []
    scan = chunks.ChunkScanner.scan

    def counting(self: chunks.ChunkScanner, rest: bytes, chunk: bytes, first: int) -> chunks.Scanned | None:
        found = scan(self, rest, chunk, first)
        scanned.append(found is not None)
        return found

    monkeypatch.setattr(chunks.ChunkScanner, "scan", counting)
    fast = _outcome(path)
    monkeypatch.setattr(chunks.ChunkScanner, "scan", lambda self, rest, chunk, first: None)
    assert fast == _outcome(path)
    assert json.dumps(fast) == json.dumps(_outcome(path))  # same key order too
    if variant in ("plain", "crlf", "long task ends", "other key order", "missing peak"):
        assert "error" not in fast
        # these need the line path only for a chunk without a whole line after its first one
        assert all(scanned) if chunk_size > 1 << 16 else sum(scanned) > len(scanned) // 2


def test_fast_path_sums(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"".join(_log(tasks=300)))
    s = parse_event_log(path)
    assert s.tasks == 300
    assert s.input_bytes == sum(range(300))
