"""The emulator's event logs are real Databricks logs: the project's parser reads them and agrees with the model."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from airflow_provider_gradient.core.eventlog import parse_event_log
from airflow_provider_gradient.simulator import ClusterSpec, simulate
from airflow_provider_gradient.simulator.eventlog_writer import ClusterFacts, event_log_dir, render_parts

FACTS = ClusterFacts("1124-034800-abcd1234", "job-7-run-9", 4_503_599_627_370_495, "10.1.2.3", 1_764_000_000_000 + 1_800_000,
                     job_id="7", run_id="9", log_destination="dbfs:/cluster-logs", custom_tags={"team": "data"})


def write(tmp_path: Path, res: object, facts: ClusterFacts = FACTS) -> Path:
    folder = tmp_path / "log"
    folder.mkdir()
    for name, body in render_parts(res, facts):  # type: ignore[arg-type]
        (folder / name).write_bytes(body)
    return folder


@pytest.mark.parametrize(
    ("profile", "spec", "seed"),
    [
        ("etl_scaling", ClusterSpec("m5.2xlarge", autoscale_min=2, autoscale_max=10, photon=True), 1),
        ("spot_long", ClusterSpec("r5.4xlarge", num_workers=10, spot=True), 3),
        ("small_startup", ClusterSpec("m5.xlarge", num_workers=0), 0),
    ],
)
def test_parser_reads_emulated_log_and_matches_simulation(tmp_path: Path, profile: str, spec: ClusterSpec, seed: int) -> None:
    res = simulate(profile, spec, seed=seed)
    summary = parse_event_log(write(tmp_path, res))
    assert summary.complete
    assert summary.duration_s == pytest.approx(res.runtime_s, rel=0.01)
    assert summary.tasks == res.tasks
    assert summary.failed_tasks == res.failed_tasks
    assert summary.stages == len(res.stages) and summary.jobs == res.num_jobs
    assert summary.input_bytes == pytest.approx(res.input_bytes, rel=0.01)
    c = summary.cluster
    assert c is not None and c.cluster_id == FACTS.cluster_id and c.node_type == spec.node_type_id
    assert c.photon == spec.photon and c.min_workers == spec.min_workers and c.max_workers == spec.max_workers
    assert c.availability == ("SPOT_WITH_FALLBACK" if spec.spot else "ON_DEMAND")


def test_oom_run_leaves_failed_tasks_with_out_of_memory(tmp_path: Path) -> None:
    res = simulate("memory_agg", ClusterSpec("c5.2xlarge", num_workers=4), seed=0)
    assert not res.succeeded
    summary = parse_event_log(write(tmp_path, res))
    assert summary.oom_detected and summary.failed_tasks == res.failed_tasks > 0
    assert summary.duration_s == pytest.approx(res.runtime_s, rel=0.01)


def test_rollover_parts_each_start_with_dbc_metadata(tmp_path: Path) -> None:
    res = simulate("spot_long", ClusterSpec("m5.2xlarge", num_workers=8), seed=2)
    assert res.runtime_s > 2.5 * 3600
    parts = render_parts(res, FACTS)
    names = [n for n, _ in parts]
    assert names[-1] == "eventlog" and len(names) >= 3
    assert all(n.startswith("eventlog-") and n.endswith("-00.gz") for n in names[:-1])
    for i, (name, body) in enumerate(parts):
        raw = gzip.decompress(body) if name.endswith(".gz") else body
        first = json.loads(raw.split(b"\n", 1)[0])
        assert first["Event"] == "DBCEventLoggingListenerMetadata"
        assert first["Rollover Number"] == i and first["SparkContext Id"] == FACTS.spark_context_id
    events = [json.loads(line) for line in gzip.decompress(parts[0][1]).splitlines()]
    env = next(e for e in events if e["Event"] == "SparkListenerEnvironmentUpdate")
    props = env["Spark Properties"]
    for key in ("clusterNodeType", "driverNodeType", "clusterWorkers", "clusterMinWorkers", "clusterMaxWorkers",
                "clusterScalingType", "clusterAvailability", "clusterFirstOnDemand", "sparkVersion", "clusterId",
                "region", "runtimeEngine"):
        assert f"spark.databricks.clusterUsageTags.{key}" in props
    task = next(e for e in events if e["Event"] == "SparkListenerTaskEnd")
    for key in ("Executor Run Time", "Executor CPU Time", "JVM GC Time", "Peak Execution Memory", "Memory Bytes Spilled"):
        assert key in task["Task Metrics"]
    assert "Bytes Read" in task["Task Metrics"]["Input Metrics"]
    assert parse_event_log(write(tmp_path, res)).duration_s == pytest.approx(res.runtime_s, rel=0.01)


def test_layout_follows_databricks_delivery_path() -> None:
    assert event_log_dir("dbfs:/cluster-logs/", FACTS) == (
        "dbfs:/cluster-logs/1124-034800-abcd1234/eventlog/1124-034800-abcd1234_10_1_2_3/4503599627370495"
    )


def test_partial_log_has_no_application_end(tmp_path: Path) -> None:
    res = simulate("etl_scaling", ClusterSpec("m5.2xlarge", num_workers=8), seed=0)
    facts = ClusterFacts(**{**{f: getattr(FACTS, f) for f in FACTS.__slots__}, "partial": True,  # type: ignore[attr-defined]
                            "cut_s": res.app_start_s + 0.5 * res.runtime_s})
    summary = parse_event_log(write(tmp_path, res, facts))
    assert not summary.complete and summary.tasks < res.tasks


def test_user_spark_conf_is_in_the_environment_and_secrets_are_redacted(tmp_path: Path) -> None:
    facts = ClusterFacts(**{**{f: getattr(FACTS, f) for f in FACTS.__slots__},  # type: ignore[attr-defined]
                            "spark_conf": {"spark.sql.shuffle.partitions": "400", "spark.my.db.password": "hunter2",
                                           "fs.azure.account.key.token": "abc"}})
    res = simulate("small_startup", ClusterSpec("m5.xlarge", num_workers=1), seed=0)
    raw = b"".join(body for _, body in render_parts(res, facts))
    assert b"hunter2" not in raw and b'"abc"' not in raw
    env = next(json.loads(line) for line in raw.splitlines() if b"SparkListenerEnvironmentUpdate" in line[:60])
    assert env["Spark Properties"]["spark.sql.shuffle.partitions"] == "400"
    assert env["Spark Properties"]["spark.my.db.password"] == "*********(redacted)"
