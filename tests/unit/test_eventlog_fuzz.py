"""Fuzzing: truncations, byte flips and shuffled parts give a summary or an EventLogError, never a crash."""

from __future__ import annotations

import gzip
import json
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_gradient.core.eventlog import AppSummary, EventLogError, parse_event_log

LOG = "apache-spark/application_1516285256255_0012"  # 123 KB, failures, executors, YARN
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check(path: Path) -> AppSummary | None:
    start = time.perf_counter()
    try:
        summary = parse_event_log(path)
    except EventLogError as exc:
        assert str(exc) and "\n" not in str(exc)
        summary = None
    else:
        json.dumps(summary.to_dict())
    assert time.perf_counter() - start < 10
    return summary


@pytest.fixture
def data(eventlogs_dir: Path) -> bytes:
    return (eventlogs_dir / LOG).read_bytes()


@FUZZ
@given(cut=st.floats(0.0, 1.0), gz=st.booleans())
def test_truncation(tmp_path_factory: pytest.TempPathFactory, data: bytes, cut: float, gz: bool) -> None:
    body = data[: int(len(data) * cut)]
    path = tmp_path_factory.mktemp("t") / ("log.gz" if gz else "log")
    path.write_bytes(gzip.compress(data)[: int(len(gzip.compress(data)) * cut)] if gz else body)
    summary = _check(path)
    if summary is not None and cut < 0.99:
        assert not summary.complete


@FUZZ
@given(
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), min_size=1, max_size=8),
    gz=st.booleans(),
)
def test_byte_flips(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, flips: list[tuple[float, int]], gz: bool
) -> None:
    raw = bytearray(gzip.compress(data) if gz else data)
    for where, mask in flips:
        i = min(int(where * len(raw)), len(raw) - 1)
        raw[i] ^= mask
    path = tmp_path_factory.mktemp("f") / ("log.gz" if gz else "log")
    path.write_bytes(bytes(raw))
    _check(path)


@FUZZ
@given(order=st.permutations(range(4)), drop=st.one_of(st.none(), st.integers(0, 3)), headers=st.booleans())
def test_shuffled_parts(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, order: list[int], drop: int | None, headers: bool
) -> None:
    lines = data.splitlines(keepends=True)
    size = -(-len(lines) // 4)
    parts = [b"".join(lines[i : i + size]) for i in range(0, len(lines), size)]
    names = [
        "eventlog-2020-01-01--10-00.gz",
        "eventlog-2020-01-01--11-00.gz",
        "eventlog-2020-01-01--12-00.gz",
        "eventlog",
    ]
    path = tmp_path_factory.mktemp("s") / "set.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for n in order:
            if n == drop:
                continue
            head = (
                json.dumps(
                    {"Event": "DBCEventLoggingListenerMetadata", "Rollover Number": n, "SparkContext Id": 1}
                ).encode()
                + b"\n"
                if headers
                else b""
            )
            body = head + parts[n]
            zf.writestr(names[n], gzip.compress(body) if names[n].endswith(".gz") else body)
    summary = _check(path)
    if drop is None:
        assert summary is not None and summary.tasks == sum(1 for x in lines if b"SparkListenerTaskEnd" in x)
    elif headers and drop < 3:
        assert summary is None  # a gap in the rollover numbers is an error
