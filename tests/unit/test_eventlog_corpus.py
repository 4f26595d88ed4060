"""parse_event_log on every real log of the shared corpus, checked against an independent naive scan.

The naive scan below shares no code with the parser: it opens each file / archive member with the
standard library (+ zstandard), ``json.loads`` every line and counts.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
import zstandard

from airflow_provider_gradient.core.eventlog import (
    DuplicateRolloverPartError,
    EventLogError,
    MissingRolloverPartError,
    MixedSparkContextError,
    RolloverPartWithoutMetadataError,
    parse_event_log,
)

GOOD = [
    "apache-spark/app-20161115172038-0000",
    "apache-spark/app-20161116163331-0000",
    "apache-spark/app-20180109111548-0000",
    "apache-spark/application_1516285256255_0012",
    "apache-spark/application_1555004656427_0144",
    "apache-spark/application_1578436911597_0052",
    "apache-spark/historic/application_1506645932520_24630151",
    "apache-spark/historic/application_1536831636016_59384_1",
    "apache-spark/historic/local-1426533911241",
    "apache-spark/local-1422981759269",
    "apache-spark/local-1425081759269",
    "apache-spark/local-1426533911241",
    "apache-spark/local-1426633911242",
    "apache-spark/local-1430917381534",
    "apache-spark/local-1642039451826",
    "spark-rapids-tools/cluster_information/eventlog_3nodes_12cores_exec_removed",
    "spark-rapids-tools/cluster_information/platform/databricks-aws",
    "spark-rapids-tools/cluster_information/platform/emr",
    "spark-rapids-tools/db_sim_eventlog",
    "spark-rapids-tools/gpu_eventlog",
    "spark-rapids-tools/jdbc_eventlog.zstd",
    "spark-rapids-tools/multiple_attempts/attempt_1_eventlog.zstd",
    "spark-rapids-tools/nds_q72_dataproc_2_2.zstd",
    "spark_log_parser/databricks-rollover.zip",
    "spark_log_parser/databricks.json",
    "spark_log_parser/databricks.zip",
    "spark_log_parser/log_in_dir/databricks.json.gz",
]

BAD = {
    "spark_log_parser/bad/duplicate-part.tgz": DuplicateRolloverPartError,
    "spark_log_parser/bad/missing-dbc-event.zip": RolloverPartWithoutMetadataError,
    "spark_log_parser/bad/missing-first-part.zip": MissingRolloverPartError,
    "spark_log_parser/bad/missing-part.zip": MissingRolloverPartError,
    "spark_log_parser/bad/non-unique-context-id.zip": MixedSparkContextError,
}


# -- independent naive scan ----------------------------------------------------------------------


def _decompress(name: str, data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True).read()
    return data


def _skip(name: str) -> bool:
    parts = name.split("/")
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or parts[-1] == "databricks_pricing.json"


def _files(path: Path) -> list[bytes]:
    if path.is_dir():
        return [
            _decompress(p.name, p.read_bytes())
            for p in sorted(path.rglob("*"))
            if p.is_file() and not _skip(p.name)
        ]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return [
                _decompress(i.filename, zf.read(i))
                for i in zf.infolist()
                if not i.is_dir() and not _skip(i.filename)
            ]
    if path.suffix == ".tgz":
        with tarfile.open(path) as tf:
            out = []
            for m in tf.getmembers():
                f = tf.extractfile(m) if m.isfile() else None
                if f is not None and not _skip(m.name):
                    out.append(_decompress(m.name, f.read()))
            return out
    return [_decompress(path.name, path.read_bytes())]


def naive_scan(path: Path) -> dict[str, Any]:
    tasks = failed = 0
    jobs: set[int] = set()
    stages: set[int] = set()
    input_bytes = shuffle_read = shuffle_write = peak = 0
    start = end = None
    executors: set[str] = set()
    for data in _files(path):
        for raw in data.splitlines():
            if not raw.strip():
                continue
            ev = json.loads(raw)
            kind = ev["Event"]
            if kind == "SparkListenerTaskEnd":
                tasks += 1
                if ev.get("Task End Reason", {}).get("Reason", "Success") != "Success":
                    failed += 1
                m = ev.get("Task Metrics") or {}
                input_bytes += (m.get("Input Metrics") or {}).get("Bytes Read", 0)
                sr = m.get("Shuffle Read Metrics") or {}
                shuffle_read += sr.get("Remote Bytes Read", 0) + sr.get("Local Bytes Read", 0)
                shuffle_write += (m.get("Shuffle Write Metrics") or {}).get("Shuffle Bytes Written", 0)
                if "Peak Execution Memory" in m:
                    peak = max(peak, m["Peak Execution Memory"])
                else:  # older Spark: only the peakExecutionMemory accumulable
                    for acc in ev.get("Task Info", {}).get("Accumulables", []):
                        if acc.get("Name", "").endswith("peakExecutionMemory"):
                            peak = max(peak, int(acc.get("Update", 0)))
            elif kind == "SparkListenerJobStart":
                jobs.add(ev["Job ID"])
            elif kind in ("SparkListenerStageSubmitted", "SparkListenerStageCompleted"):
                stages.add(ev["Stage Info"]["Stage ID"])
            elif kind == "SparkListenerApplicationStart":
                start = ev["Timestamp"]
            elif kind == "SparkListenerApplicationEnd":
                end = ev["Timestamp"]
            elif kind == "SparkListenerExecutorAdded":
                executors.add(ev["Executor ID"])
    return {
        "tasks": tasks,
        "failed_tasks": failed,
        "jobs": len(jobs),
        "stages": len(stages),
        "input_bytes": input_bytes,
        "shuffle_read_bytes": shuffle_read,
        "shuffle_write_bytes": shuffle_write,
        "peak_execution_memory_max_bytes": peak,
        "start_ms": start,
        "end_ms": end,
        "complete": end is not None,
        "executors_added": len(executors),
    }


# -- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rel", GOOD)
def test_real_log_matches_naive_scan(eventlogs_dir: Path, rel: str) -> None:
    path = eventlogs_dir / rel
    summary = parse_event_log(path)
    expected = naive_scan(path)
    got = summary.to_dict()
    assert {k: got[k] for k in expected} == expected
    # internal consistency of the per-stage breakdown
    assert sum(s.num_tasks for s in summary.stage_details) == summary.tasks
    assert sum(s.task_duration_ms_sum for s in summary.stage_details) == summary.task_time_ms
    for s in summary.stage_details:
        q = s.duration_quantiles_ms
        assert len(q) == 21 and list(q) == sorted(q)
        if s.num_tasks:
            assert q[-1] == s.task_duration_ms_max
    assert summary.executors_max >= 0 and summary.executors_avg <= summary.executors_max + 1e-9
    json.dumps(got)  # JSON-safe


@pytest.mark.parametrize("rel", sorted(BAD))
def test_bad_corpus_logs_raise_the_right_error(eventlogs_dir: Path, rel: str) -> None:
    with pytest.raises(BAD[rel]) as info:
        parse_event_log(eventlogs_dir / rel)
    assert isinstance(info.value, EventLogError)
    assert "\n" not in str(info.value) and str(info.value)


def test_missing_part_message_names_the_numbers(eventlogs_dir: Path) -> None:
    with pytest.raises(MissingRolloverPartError, match="part 1"):
        parse_event_log(eventlogs_dir / "spark_log_parser/bad/missing-part.zip")
    with pytest.raises(MissingRolloverPartError, match="part 0"):
        parse_event_log(eventlogs_dir / "spark_log_parser/bad/missing-first-part.zip")


def test_databricks_facts_and_pricing_hints(eventlogs_dir: Path) -> None:
    s = parse_event_log(eventlogs_dir / "spark_log_parser/databricks-rollover.zip")
    assert s.platform == "databricks" and s.parts == 3 and not s.complete
    assert (s.plan_type, s.compute_type) == ("Standard", "Jobs Compute")
    assert s.spark_version == "3.1.2"
    one = parse_event_log(eventlogs_dir / "spark_log_parser/databricks.json")
    c = one.cluster
    assert c is not None
    assert (c.node_type, c.driver_node_type, c.workers, c.region) == (
        "m5.4xlarge",
        "m5.xlarge",
        4,
        "us-east-1",
    )
    assert (c.scaling_type, c.availability, c.first_on_demand, c.cluster_id) == (
        "fixed_size",
        "SPOT_WITH_FALLBACK",
        1,
        "0304-221748-fngq99ev",
    )
    assert c.databricks_runtime == "9.1.x-scala2.12" and c.photon is False
    assert one.executors_max == 4 and one.executor_cores == 16
    assert len(one.sql_executions) == 10
    # SQL executions are mapped to jobs through the spark.sql.execution.id job property
    mapped = {j for x in one.sql_executions for j in x.job_ids}
    assert mapped and mapped <= set(range(one.jobs + 100))


@pytest.mark.parametrize(
    ("rel", "platform"),
    [
        ("apache-spark/application_1516285256255_0012", "yarn"),
        ("apache-spark/local-1430917381534", "local"),
        ("apache-spark/app-20161115172038-0000", "standalone"),
        ("spark-rapids-tools/cluster_information/platform/emr", "emr"),
        ("spark-rapids-tools/cluster_information/platform/databricks-aws", "databricks"),
        ("spark-rapids-tools/nds_q72_dataproc_2_2.zstd", "yarn"),
    ],
)
def test_platform(eventlogs_dir: Path, rel: str, platform: str) -> None:
    assert parse_event_log(eventlogs_dir / rel).platform == platform


def test_failure_reasons_counted(eventlogs_dir: Path) -> None:
    s = parse_event_log(eventlogs_dir / "apache-spark/app-20161115172038-0000")
    assert s.failure_reasons == {"ExceptionFailure": 10} and s.failed_tasks == 10
    assert s.failure_exceptions and not s.oom_detected


def test_sql_execution_ids_and_executor_timeline(eventlogs_dir: Path) -> None:
    s = parse_event_log(
        eventlogs_dir / "spark-rapids-tools/cluster_information/eventlog_3nodes_12cores_exec_removed"
    )
    assert s.executors_removed >= 1 and s.executors_max >= 2
    assert s.executor_timeline and max(n for _, n in s.executor_timeline) == s.executors_max
