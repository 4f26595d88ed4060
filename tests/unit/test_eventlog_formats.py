"""Every supported container / codec / rollover layout gives the same summary as the plain log."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import random
import struct
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import lz4.block
import lz4.frame
import pytest
import snappy
import zstandard

from airflow_provider_gradient.core.eventlog import (
    DuplicateRolloverPartError,
    MissingRolloverPartError,
    MixedSparkContextError,
    RolloverPartWithoutMetadataError,
    parse_event_log,
)

BASE = "apache-spark/local-1430917381534"  # Spark 1.4, 110 tasks, complete
IGNORED = {"source_format", "parts"}


def _lz4_java(data: bytes) -> bytes:
    """lz4-java LZ4BlockOutputStream framing (Spark's lz4 codec)."""
    out = bytearray()
    for i in range(0, len(data), 1 << 16):
        block = data[i : i + (1 << 16)]
        c = lz4.block.compress(block, store_size=False)
        out += b"LZ4Block" + bytes([0x20 | 6]) + struct.pack("<iii", len(c), len(block), 0) + c
    out += b"LZ4Block" + bytes([0x10]) + struct.pack("<iii", 0, 0, 0)
    return bytes(out)


def _snappy_java(data: bytes) -> bytes:
    """snappy-java SnappyOutputStream framing (Spark's snappy codec)."""
    out = bytearray(b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1))
    for i in range(0, len(data), 32 << 10):
        c = snappy.compress(data[i : i + (32 << 10)])
        out += struct.pack(">i", len(c)) + c
    return bytes(out)


def _snappy_framed(data: bytes) -> bytes:
    out = io.BytesIO()
    snappy.stream_compress(io.BytesIO(data), out)
    return out.getvalue()


def _zstd_two_frames(data: bytes) -> bytes:
    c = zstandard.ZstdCompressor()
    half = len(data) // 2
    return c.compress(data[:half]) + c.compress(data[half:])


CODECS = {
    "gz": lambda d: gzip.compress(d[: len(d) // 3]) + gzip.compress(d[len(d) // 3 :]),  # multi-member
    "zst": _zstd_two_frames,
    "lz4": lz4.frame.compress,
    "lz4java": _lz4_java,
    "snappy": _snappy_java,
    "snappyframed": _snappy_framed,
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


def _comparable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in IGNORED}


@pytest.fixture
def base_bytes(eventlogs_dir: Path) -> bytes:
    return (eventlogs_dir / BASE).read_bytes()


@pytest.fixture
def expected(eventlogs_dir: Path) -> dict[str, Any]:
    return _comparable(parse_event_log(eventlogs_dir / BASE).to_dict())


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_compressed_single_file(
    tmp_path: Path, base_bytes: bytes, expected: dict[str, Any], codec: str
) -> None:
    path = tmp_path / f"log.{codec}"
    path.write_bytes(CODECS[codec](base_bytes))
    assert _comparable(parse_event_log(path).to_dict()) == expected


@pytest.mark.parametrize("container", ["zip", "tgz", "tar", "dir", "dir-gz"])
def test_containers(tmp_path: Path, base_bytes: bytes, expected: dict[str, Any], container: str) -> None:
    junk = {".DS_Store": b"\0\0junk", "__MACOSX/._log": b"\0\5\26\7junk"}
    if container == "zip":
        path = tmp_path / "log.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("folder/app-log", base_bytes)
            for name, data in junk.items():
                zf.writestr(name, data)
    elif container in ("tgz", "tar"):
        path = tmp_path / f"log.{container}"
        with tarfile.open(path, "w:gz" if container == "tgz" else "w") as tf:
            for name, data in {"app/eventlog": base_bytes, **junk}.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    else:
        path = tmp_path / "logdir"
        (path / "sub").mkdir(parents=True)
        if container == "dir":
            (path / "sub" / "EVENT_LOG_1").write_bytes(base_bytes)
            (path / "APPLICATION_COMPLETE").write_bytes(b"")
            (path / "SPARK_VERSION_1.4.0").write_bytes(b"")
        else:
            (path / "sub" / "app.json.gz").write_bytes(gzip.compress(base_bytes))
        (path / ".DS_Store").write_bytes(b"\0\0junk")
    assert _comparable(parse_event_log(path).to_dict()) == expected


def _split_lines(data: bytes, n: int) -> list[bytes]:
    lines = data.splitlines(keepends=True)
    size = -(-len(lines) // n)
    return [b"".join(lines[i : i + size]) for i in range(0, len(lines), size)]


def _spark_rolling_dir(tmp_path: Path, base_bytes: bytes, skip: int | None = None) -> Path:
    app = "local-1430917381534"
    root = tmp_path / f"eventlog_v2_{app}"
    root.mkdir()
    (root / f"appstatus_{app}").write_bytes(b"")
    codecs = [("zstd", _zstd_two_frames), ("lz4", _lz4_java), ("", lambda d: d), ("snappy", _snappy_java)]
    for i, chunk in enumerate(_split_lines(base_bytes, 4), start=1):
        if i == skip:
            continue
        ext, fn = codecs[i - 1]
        (root / (f"events_{i}_{app}" + (f".{ext}" if ext else ""))).write_bytes(fn(chunk))
    return root


def test_spark3_rolling_directory(tmp_path: Path, base_bytes: bytes, expected: dict[str, Any]) -> None:
    root = _spark_rolling_dir(tmp_path, base_bytes)
    s = parse_event_log(root)
    assert s.parts == 4
    assert _comparable(s.to_dict()) == expected


def test_spark3_rolling_directory_missing_file(tmp_path: Path, base_bytes: bytes) -> None:
    root = _spark_rolling_dir(tmp_path, base_bytes, skip=2)
    with pytest.raises(MissingRolloverPartError, match="2"):
        parse_event_log(root)


def test_spark3_rolling_compact_file_replaces_earlier_ones(
    tmp_path: Path, base_bytes: bytes, expected: dict[str, Any]
) -> None:
    app = "app-1"
    root = tmp_path / f"eventlog_v2_{app}"
    root.mkdir()
    a, b, c = _split_lines(base_bytes, 3)
    (root / f"events_1_{app}").write_bytes(b"garbage that must be ignored\n")
    (root / f"events_2_{app}.compact").write_bytes(a + b)
    (root / f"events_3_{app}.zstd").write_bytes(_zstd_two_frames(c))
    assert _comparable(parse_event_log(root).to_dict()) == expected


def _dbc(n: int, ctx: int = 42) -> bytes:
    return (
        json.dumps(
            {
                "Event": "DBCEventLoggingListenerMetadata",
                "Spark Version": "3.1.2",
                "Timestamp": 1430917380000 + n,
                "Rollover Number": n,
                "SparkContext Id": ctx,
            }
        ).encode()
        + b"\n"
    )


def _databricks_members(base_bytes: bytes) -> dict[str, bytes]:
    p0, p1, p2 = _split_lines(base_bytes, 3)
    return {
        "logs/eventlog-2022-01-01--10-00.gz": gzip.compress(_dbc(0) + p0),
        "logs/eventlog-2022-01-01--11-00.gz": gzip.compress(_dbc(1) + p1),
        "logs/eventlog": _dbc(2) + p2,
    }


def _zip(path: Path, members: dict[str, bytes], seed: int = 0) -> Path:
    names = list(members)
    random.Random(seed).shuffle(names)
    with zipfile.ZipFile(path, "w") as zf:
        for n in names:
            zf.writestr(n, members[n])
    return path


def test_databricks_rollover_set_in_any_member_order(
    tmp_path: Path, base_bytes: bytes, expected: dict[str, Any]
) -> None:
    members = _databricks_members(base_bytes)
    members["logs/databricks_pricing.json"] = b'{"plan_type": "Premium", "compute_type": "Jobs Compute"}'
    results = []
    for seed in range(3):
        s = parse_event_log(_zip(tmp_path / f"db{seed}.zip", members, seed))
        results.append(s.to_dict())
        assert (s.plan_type, s.compute_type) == ("Premium", "Jobs Compute")
        assert s.platform == "databricks" and s.parts == 3
    assert results[0] == results[1] == results[2]
    same = {k: v for k, v in results[0].items() if k not in {"platform", "plan_type", "compute_type"}}
    want = {k: v for k, v in expected.items() if k not in {"platform", "plan_type", "compute_type"}}
    assert _comparable(same) == want


def test_databricks_rollover_directory(tmp_path: Path, base_bytes: bytes, expected: dict[str, Any]) -> None:
    for name, data in _databricks_members(base_bytes).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    s = parse_event_log(tmp_path / "logs")
    assert (s.tasks, s.jobs, s.stages, s.complete) == (
        expected["tasks"],
        expected["jobs"],
        expected["stages"],
        True,
    )


def test_databricks_rollover_errors(tmp_path: Path, base_bytes: bytes) -> None:
    members = _databricks_members(base_bytes)
    missing = {k: v for k, v in members.items() if "11-00" not in k}
    with pytest.raises(MissingRolloverPartError, match="part 1"):
        parse_event_log(_zip(tmp_path / "missing.zip", missing))
    dup = {
        **members,
        "logs/extra/eventlog-2022-01-01--10-00.gz": members["logs/eventlog-2022-01-01--10-00.gz"],
    }
    with pytest.raises(DuplicateRolloverPartError, match="0"):
        parse_event_log(_zip(tmp_path / "dup.zip", dup))
    no_meta = {**members, "logs/eventlog": _split_lines(base_bytes, 3)[2]}
    with pytest.raises(RolloverPartWithoutMetadataError, match="logs/eventlog"):
        parse_event_log(_zip(tmp_path / "nometa.zip", no_meta))
    mixed = {**members, "logs/eventlog": _dbc(2, ctx=43) + _split_lines(base_bytes, 3)[2]}
    with pytest.raises(MixedSparkContextError, match="42"):
        parse_event_log(_zip(tmp_path / "mixed.zip", mixed))


def test_databricks_style_names_without_headers_are_ordered_by_name(
    tmp_path: Path, base_bytes: bytes, expected: dict[str, Any]
) -> None:
    p0, p1 = _split_lines(base_bytes, 2)
    (tmp_path / "eventlog").write_bytes(p1)
    (tmp_path / "eventlog-2021-06-15--15-00.gz").write_bytes(gzip.compress(p0))
    s = parse_event_log(tmp_path)
    assert _comparable(s.to_dict()) == expected


def test_truncated_log_is_incomplete(tmp_path: Path, base_bytes: bytes) -> None:
    lines = base_bytes.splitlines(keepends=True)
    kept = lines[: len(lines) * 2 // 3]
    cut = b"".join(kept) + lines[len(kept)][:50]  # a half-written last line
    path = tmp_path / "inprogress.gz"
    path.write_bytes(gzip.compress(cut))
    s = parse_event_log(path)
    assert not s.complete and s.end_ms is None and s.start_ms is not None
    assert s.tasks == sum(1 for x in kept if b'"SparkListenerTaskEnd"' in x)
    assert s.duration_s is not None and s.duration_s > 0
