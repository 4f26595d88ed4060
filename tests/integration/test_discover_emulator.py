"""Discover end to end against the Databricks emulator: DatabricksHook scan (jobs/list, runs/list,
clusters/get), the analysis, and ``gradient discover --json``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

NC = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from airflow_provider_gradient.simulator.testing import running_emulator

    with running_emulator(
        tmp_path_factory.mktemp("emu"), time_scale=3000, default_profile="small_startup"
    ) as emu:
        saved = os.environ.get("AIRFLOW_CONN_DATABRICKS_DEFAULT")
        os.environ["AIRFLOW_CONN_DATABRICKS_DEFAULT"] = emu.airflow_conn_uri
        photon = emu.request(
            "POST",
            "/api/2.2/jobs/create",
            {
                "name": "photon_job",
                "tasks": [
                    {
                        "task_key": "t",
                        "notebook_task": {"notebook_path": "/a"},
                        "new_cluster": {**NC, "runtime_engine": "PHOTON"},
                    }
                ],
            },
        )["job_id"]
        runs = [emu.request("POST", "/api/2.2/jobs/run-now", {"job_id": photon})["run_id"] for _ in range(2)]
        runs.append(
            emu.request(
                "POST",
                "/api/2.2/jobs/runs/submit",
                {
                    "run_name": "dag.task",
                    "tasks": [
                        {
                            "task_key": "t",
                            "notebook_task": {"notebook_path": "/b"},
                            "new_cluster": {
                                **NC,
                                "custom_tags": {"gradient:project-id": "1", "gradient:app-id": "dag.task"},
                            },
                        }
                    ],
                },
            )["run_id"]
        )
        done = [emu.wait_run(r, timeout=120) for r in runs]
        yield emu, done
        if saved is None:
            os.environ.pop("AIRFLOW_CONN_DATABRICKS_DEFAULT", None)
        else:
            os.environ["AIRFLOW_CONN_DATABRICKS_DEFAULT"] = saved


def test_scan_and_report(workspace: Any) -> None:
    from airflow_provider_gradient.hooks.discover import WorkspaceScanner, discover

    emu, done = workspace
    scan = WorkspaceScanner("databricks_default").scan(days=30)
    assert {j["settings"]["name"] for j in scan.jobs} == {"photon_job"}
    assert {r["run_id"] for r in scan.runs} == {r["run_id"] for r in done}
    assert len(scan.clusters) == 3  # clusters/get of every run's cluster

    report = discover(["databricks_default"], days=30)
    by_name = {j.name: j for j in report.jobs}
    assert by_name["photon_job"].runs == 2 and by_name["photon_job"].findings == {"photon"}
    assert by_name["dag.task"].findings == {"submitted", "managed"}
    assert by_name["dag.task"].estimated_savings_usd == 0.0
    assert by_name["photon_job"].estimated_savings_usd == pytest.approx(0.2 * by_name["photon_job"].cost_usd)
    # core-hours from the emulator's real task durations: (2 workers + driver) x 4 vCPUs
    sim = [t for r in done if r["run_type"] == "JOB_RUN" for t in r["tasks"]]
    hours = sum((t["end_time"] - t["start_time"]) / 3_600_000 for t in sim)
    assert by_name["photon_job"].core_hours == pytest.approx(12 * hours)
    assert sum(report.jobs_per_day) >= 2


def test_cli_json_and_errors(workspace: Any, tmp_path: Path) -> None:
    from airflow_provider_gradient.cli import app

    runner = CliRunner()
    store = f"sqlite:///{tmp_path / 'g.db'}"
    res = runner.invoke(
        app, ["discover", "--databricks-conn-id", "databricks_default", "--json", "--store-url", store]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {j["name"] for j in data["jobs"]} == {"photon_job", "dag.task"}
    assert data["findings"]["photon"] == 1 and data["findings"]["submitted"] == 1
    human = runner.invoke(app, ["discover", "-c", "databricks_default", "--store-url", store])
    assert human.exit_code == 0 and "photon_job" in human.stdout
    bad = runner.invoke(app, ["discover", "-c", "databricks_default", "--days", "0"])
    assert bad.exit_code == 2 and "error: BadParameter" in bad.stderr
    missing = runner.invoke(app, ["discover", "-c", "no_such_conn", "--store-url", store])
    assert missing.exit_code == 1 and "no_such_conn" in missing.stdout
