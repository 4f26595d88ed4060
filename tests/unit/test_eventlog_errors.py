"""Bad inputs raise the EventLogError subclass naming the problem; redaction of kept properties."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest
import zstandard

from airflow_provider_gradient.core.eventlog import (
    CorruptCompressionError,
    EmptyEventLogError,
    EventLogError,
    EventLogNotFoundError,
    MalformedEventError,
    MixedSparkContextError,
    NoApplicationEventsError,
    NotAnEventLogError,
    UnsupportedFormatError,
    parse_event_log,
)
from airflow_provider_gradient.core.redact import REDACTED, REDACTION_REGEX, redact_properties

BASE = "apache-spark/local-1430917381534"


@pytest.fixture
def base_bytes(eventlogs_dir: Path) -> bytes:
    return (eventlogs_dir / BASE).read_bytes()


def _raises(path: Path, cls: type[EventLogError], match: str | None = None) -> EventLogError:
    with pytest.raises(cls, match=match) as info:
        parse_event_log(path)
    message = str(info.value)
    assert message and "\n" not in message
    return info.value


def test_missing_path(tmp_path: Path) -> None:
    _raises(tmp_path / "nope", EventLogNotFoundError, "no such file")


def test_empty_inputs(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    _raises(tmp_path / "empty", EmptyEventLogError)
    (tmp_path / "d").mkdir()
    _raises(tmp_path / "d", EmptyEventLogError)
    (tmp_path / "d" / ".DS_Store").write_bytes(b"junk")
    _raises(tmp_path / "d", EmptyEventLogError)
    (tmp_path / "blank").write_bytes(b"\n\n  \n")
    _raises(tmp_path / "blank", EmptyEventLogError)


def test_unknown_and_unsupported_formats(tmp_path: Path) -> None:
    (tmp_path / "bin").write_bytes(bytes(range(256)) * 4)
    _raises(tmp_path / "bin", UnsupportedFormatError, "unknown format")
    (tmp_path / "x.lzf").write_bytes(b"ZV\x01" + b"\0" * 100)
    _raises(tmp_path / "x.lzf", UnsupportedFormatError, "LZF")


def test_previously_parsed_summary_is_not_an_event_log(tmp_path: Path, base_bytes: bytes) -> None:
    summary = parse_event_log(_write(tmp_path / "log", base_bytes)).to_dict()
    parsed = json.dumps(summary, indent=2).encode()
    _raises(_write(tmp_path / "summary.json", parsed), NotAnEventLogError, "summary.json")
    _raises(_write(tmp_path / "one-line.json", json.dumps(summary).encode()), NotAnEventLogError)
    with zipfile.ZipFile(tmp_path / "mixed.zip", "w") as zf:
        zf.writestr("eventlog", base_bytes)
        zf.writestr("parsed.json.gz", gzip.compress(parsed))
    _raises(tmp_path / "mixed.zip", NotAnEventLogError, "parsed.json.gz")
    (tmp_path / "dir").mkdir()
    _write(tmp_path / "dir" / "eventlog", base_bytes)
    _write(tmp_path / "dir" / "summary.json", parsed)
    _raises(tmp_path / "dir", NotAnEventLogError, "summary.json")


def test_truncated_and_corrupt_compression(tmp_path: Path, base_bytes: bytes) -> None:
    gz = gzip.compress(base_bytes)
    _raises(_write(tmp_path / "t.gz", gz[: len(gz) // 2]), CorruptCompressionError, "truncated gzip")
    flipped = bytearray(gz)
    for i in range(200, len(flipped) - 200, 97):
        flipped[i] ^= 0x5A
    _raises(_write(tmp_path / "c.gz", bytes(flipped)), CorruptCompressionError)
    zst = zstandard.ZstdCompressor().compress(base_bytes)
    _raises(_write(tmp_path / "t.zst", zst[: len(zst) // 2]), CorruptCompressionError, "zstd")
    with zipfile.ZipFile(tmp_path / "ok.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("eventlog", base_bytes)
    data = (tmp_path / "ok.zip").read_bytes()
    _raises(_write(tmp_path / "t.zip", data[: len(data) // 2]), CorruptCompressionError, "zip")


def test_no_application_events(tmp_path: Path) -> None:
    lines = [
        {"Event": "SparkListenerLogStart", "Spark Version": "3.5.0"},
        {
            "Event": "SparkListenerBlockManagerAdded",
            "Block Manager ID": {"Executor ID": "driver"},
            "Timestamp": 1,
        },
    ]
    _raises(_write(tmp_path / "log", _jsonl(lines)), NoApplicationEventsError)


def test_two_applications_in_one_input(tmp_path: Path, base_bytes: bytes) -> None:
    other = base_bytes.replace(b"local-1430917381534", b"local-9999999999999")
    _raises(_write(tmp_path / "log", base_bytes + other), MixedSparkContextError, "local-9999999999999")


def test_two_unrelated_logs_in_a_directory(tmp_path: Path, base_bytes: bytes) -> None:
    _write(tmp_path / "a" / "app-1", base_bytes)
    _write(tmp_path / "a" / "app-2", base_bytes)
    _raises(tmp_path / "a", UnsupportedFormatError, "separate event logs")


def test_malformed_lines(tmp_path: Path, base_bytes: bytes) -> None:
    lines = base_bytes.splitlines(keepends=True)
    broken = b"".join(lines[:20]) + b'{"Event":"SparkListenerJobStart","Job ID":\n' + b"".join(lines[20:])
    _raises(_write(tmp_path / "log", broken), MalformedEventError, "log:21")
    task = next(i for i, x in enumerate(lines) if x.startswith(b'{"Event":"SparkListenerTaskEnd"'))
    bad_type = (
        lines[task]
        .replace(b'"Stage ID":', b'"Stage ID":"x', 1)
        .replace(b',"Stage Attempt', b'","Stage Attempt', 1)
    )
    _raises(
        _write(tmp_path / "log2", b"".join([*lines[:task], bad_type, *lines[task + 1 :]])),
        MalformedEventError,
    )
    _raises(
        _write(tmp_path / "log3", b"".join(lines[:5]) + b"[1, 2]\n" + b"".join(lines[5:])),
        MalformedEventError,
    )


def test_redaction_rule() -> None:
    props = {
        "spark.hadoop.fs.s3a.secret.key": "abc",
        "spark.my.password": "p",
        "spark.databricks.token": "t",
        "fs.s3a.access.key": "AKIA",
        "spark.executor.memory": "4g",
        "spark.some.url": "jdbc:x?password=hunter2",
    }
    out = redact_properties(props)
    assert out["spark.executor.memory"] == "4g"
    assert all(out[k] == REDACTED for k in props if k != "spark.executor.memory")
    assert REDACTION_REGEX.pattern == "(?i)secret|password|token|access[.]key"


def test_kept_properties_are_redacted(tmp_path: Path, base_bytes: bytes) -> None:
    env = {
        "Event": "SparkListenerEnvironmentUpdate",
        "Spark Properties": {"spark.executor.memory": "token=abc", "spark.master": "local[4]"},
        "System Properties": {},
    }
    s = parse_event_log(_write(tmp_path / "log", _jsonl([env]) + base_bytes))
    assert s.spark_properties["spark.executor.memory"] == REDACTED
    assert "abc" not in json.dumps(s.to_dict())


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _jsonl(events: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def test_oom_and_executor_loss_are_flagged(tmp_path: Path) -> None:
    t0 = 1_000
    task = {
        "Event": "SparkListenerTaskEnd",
        "Stage ID": 0,
        "Stage Attempt ID": 0,
        "Task Info": {"Launch Time": t0, "Finish Time": t0 + 10},
        "Task Metrics": {"Executor Run Time": 10},
    }
    lost = {
        **task,
        "Task End Reason": {
            "Reason": "ExecutorLostFailure",
            "Executor ID": "1",
            "Exit Caused By App": True,
            "Loss Reason": "Container killed by YARN for exceeding memory limits. 5.5 GB of 5.5 GB used.",
        },
    }
    events = [
        {
            "Event": "SparkListenerApplicationStart",
            "App ID": "application_1_1",
            "App Name": "x",
            "Timestamp": t0,
        },
        {
            "Event": "SparkListenerExecutorAdded",
            "Timestamp": t0,
            "Executor ID": "1",
            "Executor Info": {"Total Cores": 4},
        },
        {**task, "Task End Reason": {"Reason": "Success"}},
        lost,
        {
            "Event": "SparkListenerExecutorRemoved",
            "Timestamp": t0 + 20,
            "Executor ID": "1",
            "Removed Reason": "lost",
        },
    ]
    s = parse_event_log(_write(tmp_path / "log", _jsonl(events)))
    assert s.oom_detected and s.executor_lost_failures == 1 and s.failed_tasks == 1 and s.tasks == 2
    assert s.failure_reasons == {"ExecutorLostFailure": 1}
    assert "exceeding memory limits" in s.oom_messages[0]
    assert (s.executors_max, s.executor_cores, s.executors_added, s.executors_removed) == (1, 4, 1, 1)
    assert not s.complete and s.platform == "yarn"
    clean = [e for e in events if e is not lost]
    assert not parse_event_log(_write(tmp_path / "ok", _jsonl(clean))).oom_detected


def test_half_written_line_in_the_middle_is_an_error(tmp_path: Path, base_bytes: bytes) -> None:
    lines = base_bytes.splitlines(keepends=True)
    for kind in (b"SparkListenerTaskEnd", b"SparkListenerTaskStart", b"SparkListenerBlockManagerAdded"):
        i = next(n for n, x in enumerate(lines) if x.startswith(b'{"Event":"' + kind))
        broken = b"".join([*lines[:i], lines[i][:59] + b"\n", *lines[i + 1 :]])
        _raises(_write(tmp_path / kind.decode(), broken), MalformedEventError)


def test_half_written_task_start_names_its_line_and_crlf_lines_parse(
    tmp_path: Path, base_bytes: bytes
) -> None:
    lines = base_bytes.splitlines(keepends=True)
    starts = [n for n, x in enumerate(lines) if x.startswith(b'{"Event":"SparkListenerTaskStart"')]
    i = starts[len(starts) // 2]
    broken = b"".join([*lines[:i], lines[i][:80] + b"\n", *lines[i + 1 :]])
    _raises(_write(tmp_path / "log", broken), MalformedEventError, f"log:{i + 1}:")
    crlf = base_bytes.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert parse_event_log(_write(tmp_path / "crlf", crlf)).to_dict() | {"source_format": None} == (
        parse_event_log(_write(tmp_path / "lf", base_bytes)).to_dict() | {"source_format": None}
    )
