"""Task-level replay on a different number of slots (core.eventlog.slot_replay)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_gradient.core.eventlog import parse_event_log
from airflow_provider_gradient.core.eventlog.slot_replay import (
    job_groups,
    serial_time_ms,
    simulate_stage_times,
    task_durations,
)


@pytest.mark.parametrize(
    "rel",
    [
        "spark-rapids-tools/db_sim_eventlog",
        "spark-rapids-tools/nds_q72_dataproc_2_2.zstd",
        "spark_log_parser/databricks.json",
        "spark-rapids-tools/multiple_attempts/attempt_1_eventlog.zstd",
    ],
)
def test_observed_slots_reproduce_observed_duration(eventlogs_dir: Path, rel: str) -> None:
    s = parse_event_log(eventlogs_dir / rel)
    assert s.duration_s and s.cores_max > 0
    simulated = simulate_stage_times(s, s.cores_max)
    assert simulated == pytest.approx(s.duration_s, rel=0.15)
    # fewer slots never make it faster, more never slower (beyond quantile noise)
    assert simulate_stage_times(s, max(1, s.cores_max // 4)) >= simulated * 0.99
    assert simulate_stage_times(s, s.cores_max * 4) <= simulated * 1.01


def _synthetic(path: Path, *, tasks: int, task_ms: int, executors: int) -> Path:
    t0 = 1_000_000
    ev: list[dict[str, object]] = [
        {"Event": "SparkListenerApplicationStart", "App Name": "p", "App ID": "app-1", "Timestamp": t0},
    ]
    ev += [
        {
            "Event": "SparkListenerExecutorAdded",
            "Timestamp": t0,
            "Executor ID": str(e),
            "Executor Info": {"Host": "h", "Total Cores": 1},
        }
        for e in range(executors)
    ]
    start = t0 + 1000  # 1 s of driver time before the stage
    ev.append({"Event": "SparkListenerJobStart", "Job ID": 0, "Submission Time": start, "Stage IDs": [0]})
    info = {
        "Stage ID": 0,
        "Stage Attempt ID": 0,
        "Number of Tasks": tasks,
        "Parent IDs": [],
        "Submission Time": start,
    }
    ev.append({"Event": "SparkListenerStageSubmitted", "Stage Info": info})
    for i in range(tasks):
        launch = start + (i // executors) * task_ms
        ev.append(
            {
                "Event": "SparkListenerTaskEnd",
                "Stage ID": 0,
                "Stage Attempt ID": 0,
                "Task End Reason": {"Reason": "Success"},
                "Task Info": {"Task ID": i, "Launch Time": launch, "Finish Time": launch + task_ms},
                "Task Metrics": {"Executor Run Time": task_ms},
            }
        )
    end = start + (tasks // executors) * task_ms
    ev.append({"Event": "SparkListenerStageCompleted", "Stage Info": {**info, "Completion Time": end}})
    ev.append({"Event": "SparkListenerJobEnd", "Job ID": 0, "Completion Time": end})
    ev.append({"Event": "SparkListenerApplicationEnd", "Timestamp": end + 500})  # 0.5 s more driver time
    path.write_text("".join(json.dumps(e) + "\n" for e in ev))
    return path


def test_doubling_slots_halves_a_perfectly_parallel_stage(tmp_path: Path) -> None:
    s = parse_event_log(_synthetic(tmp_path / "log", tasks=400, task_ms=100, executors=10))
    assert s.cores_max == 10 and s.executors_max == 10
    assert serial_time_ms(s) == pytest.approx(1500)
    assert simulate_stage_times(s, 10) == pytest.approx(1.5 + 4.0, rel=0.01)
    assert simulate_stage_times(s, 20) == pytest.approx(1.5 + 2.0, rel=0.01)
    assert simulate_stage_times(s, 400) == pytest.approx(1.5 + 0.1, rel=0.02)
    with pytest.raises(ValueError):
        simulate_stage_times(s, 0)


def test_task_durations_follow_the_stage_summary(eventlogs_dir: Path) -> None:
    s = parse_event_log(eventlogs_dir / "spark-rapids-tools/nds_q72_dataproc_2_2.zstd")
    for stage in s.stage_details:
        d = task_durations(stage)
        assert len(d) == stage.num_tasks
        assert sum(d) == pytest.approx(stage.task_duration_ms_sum, rel=1e-6, abs=1e-6)
    big = max(s.stage_details, key=lambda x: x.num_tasks)
    merged = task_durations(big, max_tasks=10)
    assert len(merged) == 10 and sum(merged) == pytest.approx(big.task_duration_ms_sum)


def test_overlapping_jobs_share_one_group(eventlogs_dir: Path) -> None:
    s = parse_event_log(eventlogs_dir / "spark_log_parser/databricks.json")
    groups = job_groups(s.stage_details)
    assert sum(len(g) for g in groups) == sum(1 for x in s.stage_details if x.num_tasks)
    assert len(groups) < len({x.job_id for x in s.stage_details if x.num_tasks})
