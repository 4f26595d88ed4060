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


def test_scan_and_report(workspace: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_gradient.hooks.discover import WorkspaceScanner, discover

    monkeypatch.setenv("AIRFLOW__GRADIENT__REGION", "")  # whatever the machine's airflow.cfg says

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
    # the emulator's clusters report no zone and its connection names no region: not priced, and why -- it was a
    # silent us-east-1 Premium figure
    assert not by_name["photon_job"].priced and by_name["photon_job"].cost_usd == 0.0
    assert any("region unknown" in r for r in by_name["photon_job"].unpriced_reasons)
    # and the page says so (the cost cell, its reason in the title), as the project page does for a run
    import re

    from app_users import as_admin
    from fastapi.testclient import TestClient

    from airflow_provider_gradient.plugins.app import create_app
    from airflow_provider_gradient.service import GradientService

    svc = GradientService.from_url("sqlite://")
    with TestClient(as_admin(create_app(svc)), headers={"Authorization": "Bearer test"}) as c:
        page = c.get("/ui/discover?conn_id=databricks_default&refresh=1").text
    row = re.search(r'<tr data-findings="photon">.*?</tr>', page, re.S)
    assert row is not None, page
    cell = re.search(r'data-col="cost"[^>]*title="([^"]*)"[^>]*>([^<]*)<', row.group(0))
    assert cell is not None and cell.group(2) == "not priced" and "region unknown" in cell.group(1), row.group(0)


def test_discover_prices_at_the_connection_region_and_the_plan(
    workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection's region extra and ``[gradient] plan_type`` price Discover's runs, as they price recorded
    runs."""
    from airflow_provider_gradient.core.cluster import Cluster
    from airflow_provider_gradient.core.pricing import estimate_cluster_cost, load_catalog
    from airflow_provider_gradient.hooks.discover import discover

    emu, done = workspace
    monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_DEFAULT", f"{emu.airflow_conn_uri}?region=eu-west-1")
    monkeypatch.setenv("AIRFLOW__GRADIENT__REGION", "us-west-2")  # the connection's region comes first
    cat = load_catalog()
    sim = [t for r in done if r["run_type"] == "JOB_RUN" for t in r["tasks"]]
    photon = Cluster.from_databricks({**NC, "runtime_engine": "PHOTON"})
    for plan in ("Premium", "Standard"):
        monkeypatch.setenv("AIRFLOW__GRADIENT__PLAN_TYPE", plan)
        job = {j.name: j for j in discover(["databricks_default"], days=30).jobs}["photon_job"]
        expected = sum(estimate_cluster_cost(photon, catalog=cat, region="eu-west-1", plan=plan,
                                             runtime_s=(t["end_time"] - t["start_time"]) / 1000).total_usd
                       for t in sim)
        assert job.priced and job.cost_usd == pytest.approx(expected), (plan, job)


def test_cli_json_and_errors(workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_gradient.cli import app

    monkeypatch.setenv("AIRFLOW__GRADIENT__REGION", "")
    runner = CliRunner()
    store = f"sqlite:///{tmp_path / 'g.db'}"
    res = runner.invoke(
        app, ["discover", "--databricks-conn-id", "databricks_default", "--json", "--store-url", store]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {j["name"] for j in data["jobs"]} == {"photon_job", "dag.task"}
    assert data["findings"]["photon"] == 1 and data["findings"]["submitted"] == 1
    assert all(j["unpriced_reasons"] and j["cost_usd"] == 0 for j in data["jobs"]), data["jobs"]  # no region known
    human = runner.invoke(app, ["discover", "-c", "databricks_default", "--store-url", store], env={"COLUMNS": "200"})
    assert human.exit_code == 0 and "photon_job" in human.stdout
    assert "not priced" in human.stdout and "not priced: region unknown" in human.stdout, human.stdout
    bad = runner.invoke(app, ["discover", "-c", "databricks_default", "--days", "0"])
    assert bad.exit_code == 2 and "error: BadParameter" in bad.stderr
    missing = runner.invoke(app, ["discover", "-c", "no_such_conn", "--store-url", store])
    assert missing.exit_code == 1 and "no_such_conn" in missing.stdout
