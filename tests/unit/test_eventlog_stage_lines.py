"""Large JobStart / StageSubmitted / StageCompleted lines: the msgspec decode of the kept fields gives
what the whole-line orjson decode gives, whatever the value types; bad lines fail the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gradient.core.eventlog import MalformedEventError, parse_event_log

STAGE_EVENTS = ("SparkListenerStageSubmitted", "SparkListenerStageCompleted")
REAL = "spark_log_parser/databricks.json"  # Databricks SQL: JobStart / stage lines of 5-27 KB


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def _write(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events))
    return path


def _odd_types(ev: dict[str, Any]) -> dict[str, Any]:
    """The same event with the kept values in other JSON types that the parser coerces to the same ints."""
    ev = json.loads(json.dumps(ev))
    if ev["Event"] in STAGE_EVENTS:
        info = ev["Stage Info"]
        info["Stage ID"] = str(info["Stage ID"])
        info["Number of Tasks"] = float(info["Number of Tasks"])
        info["Parent IDs"] = [str(p) for p in info.get("Parent IDs", [])]
        if "Submission Time" in info:
            info["Submission Time"] = str(info["Submission Time"])
    elif ev["Event"] == "SparkListenerJobStart":
        ev["Job ID"] = float(ev["Job ID"])
        ev["Stage IDs"] = [str(s) for s in ev["Stage IDs"]]
        props = ev.get("Properties") or {}
        if "spark.sql.execution.id" in props:
            props["spark.sql.execution.id"] = int(props["spark.sql.execution.id"])
    return ev


def test_odd_value_types_give_the_same_summary(tmp_path: Path, eventlogs_dir: Path) -> None:
    events = _events(eventlogs_dir / REAL)
    assert sum(1 for e in events if e["Event"] == "SparkListenerJobStart") > 10
    plain = parse_event_log(_write(tmp_path / "plain", events)).to_dict()
    odd = parse_event_log(_write(tmp_path / "odd", [_odd_types(e) for e in events])).to_dict()
    assert odd == plain
    assert plain["jobs"] == 50 and plain["stages"] == 53 and plain["sql_execution_count"] == 10
    assert all(s["job_id"] is not None for s in plain["stage_details"])
    assert any(x["job_ids"] for x in plain["sql_executions"])


def _app(*lines: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Event": "SparkListenerApplicationStart", "App ID": "app-1", "Timestamp": 1000}, *lines]


def test_kept_fields_of_stage_and_job_lines(tmp_path: Path) -> None:
    rdd = [{"RDD ID": i, "Name": "x" * 50, "Parent IDs": [i - 1], "Storage Level": {}} for i in range(200)]
    info = {
        "Stage ID": 7,
        "Stage Attempt ID": 1,
        "Stage Name": "é" * 300,
        "Number of Tasks": 12,
        "RDD Info": rdd,
        "Parent IDs": [5, 6],
        "Submission Time": 2000,
        "Accumulables": [{"ID": 1, "Name": "n", "Value": 2}],
    }
    job = {
        "Event": "SparkListenerJobStart",
        "Job ID": 3,
        "Submission Time": 1500,
        "Stage Infos": [info],
        "Stage IDs": [7],
        "Properties": {"spark.sql.execution.id": " 4 ", "spark.job.description": "q"},
    }
    done = {**info, "Completion Time": 9000, "Failure Reason": "java.lang.OutOfMemoryError: Java heap space"}
    events = _app(
        job,
        {"Event": "SparkListenerStageSubmitted", "Stage Info": info},
        {"Event": "SparkListenerStageCompleted", "Stage Info": done},
    )
    s = parse_event_log(_write(tmp_path / "log", events))
    (st,) = s.stage_details
    assert (st.stage_id, st.attempt, st.job_id, st.parent_ids, st.declared_tasks) == (7, 1, 3, (5, 6), 12)
    assert st.name == "é" * 200 and st.status == "failed"
    assert (st.submission_ms, st.completion_ms, s.failed_stages, s.oom_detected) == (2000, 9000, 1, True)
    assert s.sql_executions[0].execution_id == 4 and s.sql_executions[0].job_ids == (3,)
    assert (s.first_event_ms, s.last_event_ms) == (1000, 9000)


@pytest.mark.parametrize(
    "line",
    [
        b'{"Event":"SparkListenerStageSubmitted","Properties":{}}',  # no Stage Info
        b'{"Event":"SparkListenerStageSubmitted","Stage Info":null}',
        b'{"Event":"SparkListenerStageCompleted","Stage Info":{"Stage ID":1,"RDD Info":[{"Name":"\xff"}]}}',
        b'{"Event":"SparkListenerJobStart","Job ID":1,"Stage Infos":[{"Details":"\xc3"}],"Stage IDs":[1]}',
        b'{"Event":"SparkListenerJobStart","Job ID":1,"Stage IDs":[1],}',
    ],
)
def test_bad_stage_and_job_lines_are_malformed(tmp_path: Path, line: bytes) -> None:
    path = tmp_path / "log"
    path.write_bytes(
        json.dumps(_app()[0]).encode() + b"\n" + line + b"\n" + json.dumps(_app()[0]).encode() + b"\n"
    )
    with pytest.raises(MalformedEventError, match="log:2"):
        parse_event_log(path)


def test_ids_beyond_64_bits_are_read_as_before(tmp_path: Path) -> None:
    """orjson reads integers beyond 64 bits as floats: such a stage id is out of range, so stage -1."""
    line = b'{"Event":"SparkListenerStageSubmitted","Stage Info":{"Stage ID":123456789012345678901234,"Number of Tasks":2}}'
    path = tmp_path / "log"
    path.write_bytes(json.dumps(_app()[0]).encode() + b"\n" + line + b"\n")
    (st,) = parse_event_log(path).stage_details
    assert (st.stage_id, st.declared_tasks) == (-1, 2)
