"""Small real event logs for tests that need an ``AppSummary`` (parsed, not stood in for)."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_provider_gradient.core.eventlog import AppSummary, parse_event_log

OOM_LINE = "java.lang.OutOfMemoryError: Java heap space"


def one_stage_summary(folder: Path, *, failure: str | None = None) -> AppSummary:
    """The parsed log of an application with one stage, which failed with ``failure`` when given."""
    info = {"Stage ID": 1, "Stage Attempt ID": 0, "Stage Name": "s", "Number of Tasks": 1, "Submission Time": 2000}
    done = {**info, "Completion Time": 9000, **({"Failure Reason": failure} if failure else {})}
    events = [
        {"Event": "SparkListenerApplicationStart", "App ID": "app-1", "Timestamp": 1000},
        {"Event": "SparkListenerStageSubmitted", "Stage Info": info},
        {"Event": "SparkListenerStageCompleted", "Stage Info": done},
    ]
    path = folder / ("failed" if failure else "ok")
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return parse_event_log(path)
