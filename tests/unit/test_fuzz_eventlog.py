"""Hypothesis fuzzing of the event log parser: every bad input ends in an ``EventLogError`` (never another
exception), in bounded time and memory; reordering rollover part *names* never changes the result.

Inputs are derived from real public logs (``/work/shared/eventlogs/public``): truncation, byte flips,
compressed-then-damaged streams, shuffled / missing Databricks rollover parts, huge lines, deeply nested
JSON, wrong text encodings and structurally valid events whose fields hold values of the wrong type.
"""

from __future__ import annotations

import gzip
import json
import random
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from airflow_provider_gradient.core.eventlog import (
    AppSummary,
    EventLogError,
    MalformedEventError,
    MissingRolloverPartError,
    parse_event_log,
)

EVENTLOGS = Path(__file__).resolve().parents[2].parent / "shared" / "eventlogs" / "public"
SMALL = EVENTLOGS / "apache-spark" / "local-1426533911241"  # 24 lines, plain JSON lines
DATABRICKS = EVENTLOGS / "spark-rapids-tools" / "cluster_information" / "platform" / "databricks-aws"

pytestmark = pytest.mark.skipif(not SMALL.is_file(), reason=f"shared event logs not found at {EVENTLOGS}")

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

#: Every handled event type of the parser (the ones whose fields it reads).
EVENT_NAMES = (
    "SparkListenerTaskEnd",
    "SparkListenerStageSubmitted",
    "SparkListenerStageCompleted",
    "SparkListenerJobStart",
    "SparkListenerJobEnd",
    "SparkListenerApplicationStart",
    "SparkListenerApplicationEnd",
    "SparkListenerEnvironmentUpdate",
    "SparkListenerLogStart",
    "DBCEventLoggingListenerMetadata",
    "SparkListenerExecutorAdded",
    "SparkListenerExecutorRemoved",
    "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart",
    "org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd",
)

#: Fields those events carry (hostile values are generated for them).
FIELD_NAMES = (
                "Stage ID", "Stage Attempt ID", "Job ID", "Timestamp", "Task Info", "Task Metrics",
                "Task End Reason", "Stage Info", "Stage Infos", "Stage IDs", "Properties", "Spark Properties",
                "Executor ID", "Executor Info", "Rollover Number", "SparkContext Id", "App ID", "App Name",
                "Job Result", "executionId", "time", "Submission Time", "Completion Time", "Spark Version",
                "Launch Time", "Finish Time", "Accumulables", "Failure Reason", "Removed Reason",
)


def _parse_or_error(path: Path) -> AppSummary | EventLogError:
    """The parser's answer: a summary or a typed error. Any other exception fails the test."""
    try:
        summary = parse_event_log(path)
    except EventLogError as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        assert "\n" not in str(exc).strip(), "error messages are one line"
        return exc
    assert isinstance(summary, AppSummary)
    json.dumps(summary.to_dict())  # JSON-safe, whatever the input
    return summary


def _write(tmp: Path, name: str, data: bytes) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    p = tmp / name
    p.write_bytes(data)
    return p


@pytest.fixture(scope="module")
def small_log() -> bytes:
    return SMALL.read_bytes()


@pytest.fixture(scope="module")
def small_lines(small_log: bytes) -> list[bytes]:
    return [line for line in small_log.split(b"\n") if line.strip()]


# ---------------------------------------------------------------------------------------------- bytes
@FUZZ
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncation_anywhere(tmp_path: Path, small_log: bytes, cut: float) -> None:
    data = small_log[: int(len(small_log) * cut)]
    result = _parse_or_error(_write(tmp_path / f"t{cut}", "eventlog", data))
    if not data.strip():
        assert isinstance(result, EventLogError)


@FUZZ
@given(
    flips=st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=0.9999), st.integers(min_value=0, max_value=255)),
        min_size=1,
        max_size=8,
    )
)
def test_byte_flips(tmp_path: Path, small_log: bytes, flips: list[tuple[float, int]]) -> None:
    data = bytearray(small_log)
    for where, value in flips:
        data[int(where * len(data))] = value
    _parse_or_error(_write(tmp_path / str(abs(hash(tuple(flips)))), "eventlog", bytes(data)))


@pytest.mark.parametrize("codec", ["gzip", "zstd"])
@FUZZ
@given(cut=st.floats(min_value=0.0, max_value=0.999), flip=st.integers(min_value=0, max_value=255))
def test_damaged_compressed_stream(tmp_path: Path, small_log: bytes, codec: str, cut: float, flip: int) -> None:
    packed = gzip.compress(small_log) if codec == "gzip" else zstandard.ZstdCompressor().compress(small_log)
    suffix = ".gz" if codec == "gzip" else ".zstd"
    truncated = packed[: int(len(packed) * cut)]
    _parse_or_error(_write(tmp_path / f"c{cut}", "eventlog" + suffix, truncated))
    flipped = bytearray(packed)
    i = 10 + int(cut * (len(packed) - 10))  # past the magic, so the codec is still recognised
    i = min(i, len(packed) - 1)
    assume(flipped[i] != flip)
    flipped[i] = flip
    _parse_or_error(_write(tmp_path / f"f{cut}-{flip}", "eventlog" + suffix, bytes(flipped)))


@FUZZ
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    result = _parse_or_error(_write(tmp_path / str(abs(hash(data))), "eventlog", data))
    assume(not isinstance(result, AppSummary))


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "cp037"])
def test_wrong_text_encodings_are_typed_errors(tmp_path: Path, small_log: bytes, encoding: str) -> None:
    data = small_log.decode("utf-8").encode(encoding)
    result = _parse_or_error(_write(tmp_path, "eventlog", data))
    assert isinstance(result, EventLogError), f"{encoding} log silently accepted"


def test_latin1_and_bom_are_tolerated_or_typed(tmp_path: Path, small_log: bytes) -> None:
    bom = _parse_or_error(_write(tmp_path / "bom", "eventlog", b"\xef\xbb\xbf" + small_log))
    assert isinstance(bom, AppSummary) and bom.tasks == parse_event_log(SMALL).tasks
    # a latin-1 byte inside a JSON string is not UTF-8: typed error or accepted, never a crash
    latin = small_log.replace(b'"App Name":"', b'"App Name":"caf\xe9 ', 1)
    _parse_or_error(_write(tmp_path / "latin", "eventlog", latin))


# ---------------------------------------------------------------------------------------------- lines
@FUZZ
@given(
    order=st.permutations(list(range(24))),
    drop=st.sets(st.integers(min_value=0, max_value=23), max_size=6),
)
def test_shuffled_and_missing_lines(tmp_path: Path, small_lines: list[bytes], order: list[int], drop: set[int]) -> None:
    lines = [small_lines[i] for i in order if i < len(small_lines) and i not in drop]
    _parse_or_error(_write(tmp_path / str(abs(hash((tuple(order), tuple(drop))))), "eventlog", b"\n".join(lines)))


def _json_values() -> st.SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=12,
    )


@FUZZ
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(EVENT_NAMES),
            st.integers(min_value=0, max_value=23),
            st.dictionaries(st.sampled_from(FIELD_NAMES), _json_values(), max_size=6),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_events_with_wrong_field_types(
    tmp_path: Path, small_lines: list[bytes], events: list[tuple[str, int, dict[str, Any]]]
) -> None:
    """Real logs with hostile events spliced in: wrong types anywhere -> summary or MalformedEventError."""
    lines = list(small_lines)
    for name, at, fields in events:
        lines.insert(at, json.dumps({"Event": name, **fields}, separators=(",", ":")).encode())
    result = _parse_or_error(_write(tmp_path / str(abs(hash(repr(events)))), "eventlog", b"\n".join(lines)))
    if isinstance(result, EventLogError):
        assert isinstance(result, MalformedEventError), repr(result)


@FUZZ
@given(field=st.sampled_from(["Task Info", "Task Metrics", "Stage Info", "Properties"]), depth=st.integers(100, 5000))
def test_deeply_nested_json(tmp_path: Path, small_lines: list[bytes], field: str, depth: int) -> None:
    name = {"Task Info": "SparkListenerTaskEnd", "Task Metrics": "SparkListenerTaskEnd",
            "Stage Info": "SparkListenerStageCompleted", "Properties": "SparkListenerJobStart"}[field]
    deep = b"[" * depth + b"1" + b"]" * depth
    line = b'{"Event":"' + name.encode() + b'","' + field.encode() + b'":' + deep + b"}"
    lines = [*small_lines[:5], line, *small_lines[5:]]
    result = _parse_or_error(_write(tmp_path / f"{field}-{depth}".replace(" ", "_"), "eventlog", b"\n".join(lines)))
    if depth > 1024:  # beyond any JSON decoder's recursion limit: must be reported, not crash
        assert isinstance(result, MalformedEventError)


# ---------------------------------------------------------------------------------------------- size
def _bounded(fn: Callable[[], Any], *, seconds: float, peak_bytes: int) -> Any:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = fn()
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.1f}s (bound {seconds}s)"
    assert peak < peak_bytes, f"peak memory {peak / 2**20:.0f} MiB (bound {peak_bytes / 2**20:.0f} MiB)"
    return out


@pytest.mark.parametrize("kind", ["unknown_event", "garbage", "handled_event"])
def test_huge_line_bounded_time_and_memory(tmp_path: Path, small_lines: list[bytes], kind: str) -> None:
    """A 24 MiB line: skipped (unknown event), or a typed error, in memory linear in its size.

    The bound is 16x the line: orjson's JSONDecodeError copies the whole document (~12x for a failed
    line), which is linear, documented in docs/reliability.md.
    """
    size = 24 << 20
    if kind == "unknown_event":
        line = b'{"Event":"SparkListenerBlockUpdated","blob":"' + b"x" * size + b'"}'
    elif kind == "garbage":
        line = b"\x01" * size
    else:
        line = b'{"Event":"SparkListenerTaskEnd","Stage ID":0,"Task Info":{"Host":"' + b"h" * size + b'"'  # unterminated
    path = _write(tmp_path, "eventlog", b"\n".join([*small_lines[:6], line, *small_lines[6:]]))
    result = _bounded(lambda: _parse_or_error(path), seconds=20, peak_bytes=16 * size)
    if kind == "unknown_event":
        assert isinstance(result, AppSummary) and result.tasks == parse_event_log(SMALL).tasks
    else:
        assert isinstance(result, EventLogError)


def test_many_stages_memory_bounded(tmp_path: Path) -> None:
    """15k task ends over 3k stages: memory stays bounded (quantile sketches, not raw durations)."""
    rng = random.Random(7)
    out = [b'{"Event":"SparkListenerApplicationStart","App Name":"big","App ID":"app-big","Timestamp":1000}']
    for i in range(15_000):
        stage = i % 3_000
        out.append(orjson.dumps({
            "Event": "SparkListenerTaskEnd", "Stage ID": stage, "Stage Attempt ID": 0,
            "Task End Reason": {"Reason": "Success"},
            "Task Info": {"Task ID": i, "Launch Time": 1000 + i, "Finish Time": 1000 + i + rng.randint(1, 999),
                          "Executor ID": str(i % 50), "Failed": False},
            "Task Metrics": {"Executor Run Time": 10, "Executor CPU Time": 1000},
        }))
    out.append(b'{"Event":"SparkListenerApplicationEnd","Timestamp":300000}')
    path = _write(tmp_path, "eventlog", b"\n".join(out))
    size = path.stat().st_size
    summary = _bounded(lambda: parse_event_log(path), seconds=30, peak_bytes=max(size, 48 << 20))
    assert summary.tasks == 15_000


# ---------------------------------------------------------------------------------------------- rollover
def _rollover_parts(lines: list[bytes], n: int) -> list[bytes]:
    """Split a log into ``n`` Databricks rollover parts, each headed by its metadata event."""
    step = max(1, len(lines) // n)
    chunks = [lines[i * step : (i + 1) * step if i < n - 1 else len(lines)] for i in range(n)]
    parts = []
    for i, chunk in enumerate(chunks):
        meta = orjson.dumps({"Event": "DBCEventLoggingListenerMetadata", "Spark Version": "3.1.2",
                             "Timestamp": 1642179498548 + i, "Rollover Number": i, "SparkContext Id": 42})
        parts.append(b"\n".join([meta, *chunk]) + b"\n")
    return parts


def _part_names(n: int) -> list[str]:
    return [f"eventlog-2022-01-14--{h:02d}-00" for h in range(n - 1)] + ["eventlog"]


@FUZZ
@given(n=st.integers(min_value=2, max_value=6), perm=st.randoms(use_true_random=False))
def test_rollover_parts_shuffled_names_same_summary(
    tmp_path: Path, small_lines: list[bytes], n: int, perm: random.Random
) -> None:
    """The rollover number in each part's header decides the order, not the file names."""
    parts = _rollover_parts(small_lines, n)
    names = _part_names(n)
    base = tmp_path / f"ordered-{n}"
    for name, data in zip(names, parts, strict=True):
        _write(base, name, data)
    expected = parse_event_log(base)
    shuffled = list(names)
    perm.shuffle(shuffled)
    other = tmp_path / f"shuffled-{n}-{'-'.join(shuffled)}"
    for name, data in zip(shuffled, parts, strict=True):
        _write(other, name, data if name.endswith("eventlog") else gzip.compress(data))
    got = _parse_or_error(other)
    assert isinstance(got, AppSummary)
    assert got.to_dict() | {"parts": None} == expected.to_dict() | {"parts": None}


@FUZZ
@given(n=st.integers(min_value=3, max_value=6), data=st.data())
def test_rollover_missing_parts_named(tmp_path: Path, small_lines: list[bytes], n: int, data: st.DataObject) -> None:
    """Dropping any part but the newest raises MissingRolloverPartError naming the missing numbers."""
    parts = _rollover_parts(small_lines, n)
    names = _part_names(n)
    missing = data.draw(st.sets(st.integers(min_value=0, max_value=n - 2), min_size=1, max_size=n - 1))
    d = tmp_path / f"missing-{n}-{sorted(missing)}"
    for i, (name, part) in enumerate(zip(names, parts, strict=True)):
        if i not in missing:
            _write(d, name, part)
    result = _parse_or_error(d)
    assert isinstance(result, MissingRolloverPartError), repr(result)
    assert set(result.missing) == missing
    for m in missing:
        assert str(m) in str(result)


@FUZZ
@given(n=st.integers(min_value=2, max_value=5), victim=st.integers(min_value=0, max_value=4),
       cut=st.floats(min_value=0.0, max_value=1.0))
def test_rollover_part_truncated_or_corrupt(
    tmp_path: Path, small_lines: list[bytes], n: int, victim: int, cut: float
) -> None:
    parts = _rollover_parts(small_lines, n)
    victim %= n
    d = tmp_path / f"trunc-{n}-{victim}-{cut}"
    for i, (name, part) in enumerate(zip(_part_names(n), parts, strict=True)):
        blob = gzip.compress(part) if name != "eventlog" else part
        if i == victim:
            blob = blob[: int(len(blob) * cut)]
        _write(d, name + (".gz" if name != "eventlog" else ""), blob)
    _parse_or_error(d)
