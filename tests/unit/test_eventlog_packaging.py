"""Messy real-world packaging: archives inside the input (``.zip.gz`` rollover parts), junk files and
folders, members named by their real path in errors, empty directories; the stage-id edge case."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gradient.core.eventlog import (
    CorruptCompressionError,
    EmptyEventLogError,
    NotAnEventLogError,
    UnsupportedFormatError,
    parse_event_log,
)

BASE = "apache-spark/local-1430917381534"  # Spark 1.4, 110 tasks, complete
IGNORED = {"source_format", "parts", "platform"}
P1 = "eventlog-2022-01-01--11-00"


def _comparable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in IGNORED}


@pytest.fixture
def base_bytes(eventlogs_dir: Path) -> bytes:
    return (eventlogs_dir / BASE).read_bytes()


@pytest.fixture
def expected(eventlogs_dir: Path) -> dict[str, Any]:
    return _comparable(parse_event_log(eventlogs_dir / BASE).to_dict())


def _dbc(n: int) -> bytes:
    header = {
        "Event": "DBCEventLoggingListenerMetadata",
        "Spark Version": "3.1.2",
        "Timestamp": 1430917380000 + n,
        "Rollover Number": n,
        "SparkContext Id": 42,
    }
    return json.dumps(header).encode() + b"\n"


def _thirds(data: bytes) -> list[bytes]:
    lines = data.splitlines(keepends=True)
    size = -(-len(lines) // 3)
    return [b"".join(lines[i : i + size]) for i in range(0, len(lines), size)]


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _messy_set(root: Path, base_bytes: bytes, part1: bytes | None = None) -> Path:
    """A Databricks rollover set whose part 1 is a gzip-compressed zip, with macOS junk and empty folders."""
    p0, p1, p2 = _thirds(base_bytes)
    logs = root / "logs"
    (logs / "empty" / "deeper").mkdir(parents=True)
    (root / "__MACOSX" / "logs").mkdir(parents=True)
    (logs / "eventlog-2022-01-01--10-00.gz").write_bytes(gzip.compress(_dbc(0) + p0))
    inner = part1 if part1 is not None else _zip_bytes({P1: _dbc(1) + p1, "__MACOSX/._" + P1: b"\0\5junk"})
    (logs / f"{P1}.zip.gz").write_bytes(gzip.compress(inner))
    (logs / "eventlog").write_bytes(_dbc(2) + p2)
    (logs / ".DS_Store").write_bytes(b"\0\0\0\1Bud1junk")
    (root / "__MACOSX" / "logs" / f"._{P1}.zip.gz").write_bytes(b"\0\5\26\7junk")
    (root / "__MACOSX" / "logs" / "._.DS_Store").write_bytes(b"\0\5\26\7junk")
    return root


def test_rollover_set_with_a_zip_gz_part_and_junk_parses(
    tmp_path: Path, base_bytes: bytes, expected: dict[str, Any]
) -> None:
    root = _messy_set(tmp_path / "set", base_bytes)
    s = parse_event_log(root)
    assert s.parts == 3 and s.platform == "databricks"
    assert _comparable(s.to_dict()) == expected
    # the same set given as the logs folder itself, a zip of it and a tar.gz with "./" member names
    assert _comparable(parse_event_log(root / "logs").to_dict()) == expected
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(root.rglob("*")):
            zf.write(f, f.relative_to(root).as_posix())
    assert _comparable(parse_event_log(archive).to_dict()) == expected
    tgz = tmp_path / "set.tgz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(root, arcname=".")
    assert _comparable(parse_event_log(tgz).to_dict()) == expected


def test_plain_zip_and_tgz_parts_inside_a_directory(
    tmp_path: Path, base_bytes: bytes, expected: dict[str, Any]
) -> None:
    root = tmp_path / "d"
    root.mkdir()
    (root / "app.zip").write_bytes(_zip_bytes({"folder/app-log": base_bytes}))
    assert _comparable(parse_event_log(root).to_dict()) == expected
    (root / "app.zip").unlink()
    with tarfile.open(root / "app.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("./app/eventlog")
        info.size = len(base_bytes)
        tf.addfile(info, io.BytesIO(base_bytes))
    assert _comparable(parse_event_log(root).to_dict()) == expected


def test_errors_name_the_real_member_path(tmp_path: Path, base_bytes: bytes) -> None:
    summary = json.dumps({"tasks": 3, "jobs": 1}).encode() + b"\n"
    root = _messy_set(tmp_path / "set", base_bytes, part1=_zip_bytes({"z/summary.json": summary}))
    with pytest.raises(NotAnEventLogError) as info:
        parse_event_log(root)
    assert str(info.value).startswith(f"logs/{P1}.zip.gz/z/summary.json is not a Spark event log")

    corrupt = _zip_bytes({P1: gzip.compress(_dbc(1) + base_bytes)[:-40]})  # truncated gzip inside the zip
    root = _messy_set(tmp_path / "set2", base_bytes, part1=corrupt)
    with pytest.raises(CorruptCompressionError, match=f"logs/{P1}.zip.gz/{P1}: truncated gzip stream"):
        parse_event_log(root)

    nested = _zip_bytes({"inner.zip": _zip_bytes({P1: _dbc(1)})})
    root = _messy_set(tmp_path / "set3", base_bytes, part1=nested)
    with pytest.raises(UnsupportedFormatError, match=f"logs/{P1}.zip.gz/inner.zip"):
        parse_event_log(root)


def test_empty_directory_says_it_holds_no_event_log_files(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    root.mkdir()
    with pytest.raises(EmptyEventLogError, match="directory logs holds no event-log files"):
        parse_event_log(root)
    (root / "empty" / "deeper").mkdir(parents=True)
    (root / ".DS_Store").write_bytes(b"junk")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._eventlog").write_bytes(b"\0\5junk")
    (root / "eventlog").write_bytes(b"")
    with pytest.raises(EmptyEventLogError, match="directory logs holds no event-log files"):
        parse_event_log(root)


def test_stage_ids_far_from_zero_are_counted(tmp_path: Path) -> None:
    """A TaskEnd's stage id is compared with the previous one: no stage id may be mistaken for "none yet"."""
    odd = -(1 << 62)
    lines = [{"Event": "SparkListenerApplicationStart", "App ID": "app-1", "Timestamp": 1000}]
    for i in range(3):
        lines.append(
            {
                "Event": "SparkListenerTaskEnd",
                "Stage ID": odd,
                "Stage Attempt ID": odd,
                "Task End Reason": {"Reason": "Success"},
                "Task Info": {"Launch Time": 2000 + i, "Finish Time": 2100 + i},
                "Task Metrics": {"Executor Run Time": 90, "Input Metrics": {"Bytes Read": 10}},
            }
        )
    path = tmp_path / "log"
    path.write_bytes(b"".join(json.dumps(x).encode() + b"\n" for x in lines))
    s = parse_event_log(path)
    assert s.tasks == 3 and s.input_bytes == 30 and s.executor_run_time_ms == 270
    (stage,) = s.stage_details
    assert (stage.stage_id, stage.attempt, stage.num_tasks, stage.task_duration_ms_sum) == (odd, odd, 3, 300)
