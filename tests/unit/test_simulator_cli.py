"""``gradient simulator`` commands (profiles, run) and their exit codes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from airflow_provider_gradient.cli.simulator import app
from airflow_provider_gradient.simulator import list_profiles

runner = CliRunner()


def test_profiles_lists_every_shipped_profile() -> None:
    out = runner.invoke(app, ["profiles", "--json"])
    assert out.exit_code == 0
    assert [p["name"] for p in json.loads(out.stdout)] == list(list_profiles())
    text = runner.invoke(app, ["profiles"])
    assert text.exit_code == 0 and "memory_agg" in text.stdout


def test_run_prints_one_simulated_result() -> None:
    out = runner.invoke(app, ["run", "--profile", "driver_bound", "--workers", "2", "--node-type", "m5.xlarge", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["succeeded"] and data["runtime_s"] > 1800 and data["cost_usd"] > 0
    assert data["cluster"] == "m5.xlarge x2"


def test_run_exit_codes() -> None:
    oom = runner.invoke(app, ["run", "--profile", "memory_agg", "--workers", "4", "--node-type", "c5.2xlarge"])
    assert oom.exit_code == 1 and "OutOfMemoryError" in oom.stdout
    bad = runner.invoke(app, ["run", "--profile", "memory_agg", "--node-type", "zz.huge"])
    assert bad.exit_code == 2 and "error: UnknownNodeType" in bad.output
    missing = runner.invoke(app, ["run", "--profile", "nope"])
    assert missing.exit_code == 2 and "error: ProfileError" in missing.output
