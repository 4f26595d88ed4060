"""Issue 15, the CLI must not mislead: ``--json`` prints JSON only, bad input gets one ``error:`` line (no
traceback) and exit code 2, read commands never create a store, create validates and refuses to silently
ignore options on an existing project, ``--version``, help keeps ``[gradient]``/``[core]``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airflow_provider_gradient import __version__
from airflow_provider_gradient.cli import app

GRADIENT = str(Path(sys.executable).with_name("gradient"))


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.delenv("GRADIENT_STORE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


def _error_only(result) -> str:  # type: ignore[no-untyped-def]
    out = result.output
    assert "Traceback" not in out, out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: "), out
    return lines[-1]


def test_json_output_is_json_only_even_with_log_lines(tmp_path: Path) -> None:
    # a Databricks connection to a closed port: Airflow logs warnings and the failed API attempts
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
           "AIRFLOW_CONN_DEADWS": "databricks://:dapi-not-a-real-token@127.0.0.1:9/http"}
    proc = subprocess.run([GRADIENT, "discover", "--json", "--databricks-conn-id", "deadws", "--days", "1"],
                          env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    doc = json.loads(proc.stdout)  # nothing but the document on stdout
    assert doc["workspaces"] == ["deadws"]
    assert "warning" in proc.stderr or "error" in proc.stderr  # Airflow's log lines went to stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["projects", "list", "--store-url", "notaurl"], "is not a SQLAlchemy URL"),
        (["db", "current", "--store-url", "notaurl"], "is not a SQLAlchemy URL"),
        (["projects", "list", "--conn-id", "nosuchconn"], "nosuchconn: no such Airflow connection"),
        (["projects", "create", "a.b", "--store-url", "@STORE@", "--baseline-cluster", "@/missing.json"],
         "/missing.json: cannot read the file"),
        (["projects", "create", "a.b", "--store-url", "@STORE@", "--baseline-cluster",
          '{"node_type_id": "m5.xlarge", "num_workers": -3}'], "num_workers must be a whole number >= 0"),
        (["projects", "create", "a.b", "--store-url", "@STORE@", "--cloud", "gcp"], "--cloud gcp: not supported"),
        (["projects", "create", "a.b", "--store-url", "@STORE@", "--region", "mars-1"], "--region mars-1"),
        (["projects", "create", "a.b", "--store-url", "@STORE@", "--sla-minutes", "nan"],
         "--sla-minutes must be a number of minutes greater than 0, got nan"),
    ],
)
def test_bad_input_is_one_error_line(run, tmp_path: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    store = f"sqlite:///{tmp_path / 'g.db'}"
    result = run(*[store if a == "@STORE@" else a for a in args])
    assert result.exit_code == 2, result.output
    assert message in _error_only(result)
    assert "Value error" not in result.output and "Input should" not in result.output


def test_read_commands_never_create_a_store(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nonexistent" / "dir" / "x.db"
    for args in (["projects", "list"], ["runs", "list", "p"], ["db", "current"]):
        result = run(*args, "--store-url", f"sqlite:///{missing}")
        assert result.exit_code == 2, (args, result.output)
        assert "no Gradient store at" in _error_only(result)
    assert not missing.parent.exists()


def test_create_on_an_existing_project_says_so(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = f"sqlite:///{tmp_path / 'g.db'}"
    assert run("projects", "create", "a.b", "--store-url", store, "--sla-minutes", "30").exit_code == 0
    again = run("projects", "create", "a.b", "--store-url", store, "--sla-minutes", "45")
    assert again.exit_code == 1
    assert "already exists" in _error_only(again) and "projects update a.b" in again.output
    shown = json.loads(run("projects", "show", "a.b", "--store-url", store, "--json").output)
    assert shown["settings"]["sla_minutes"] == 30


def test_version_and_help_text_keep_config_sections(run) -> None:  # type: ignore[no-untyped-def]
    version = run("--version")
    assert version.exit_code == 0 and __version__ in version.output
    assert "[gradient] store_url" in " ".join(run("db", "upgrade", "--help").output.split())
    assert "[core] dags_folder" in " ".join(run("train", "--help").output.split())


def test_turning_auto_apply_on_warns(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = f"sqlite:///{tmp_path / 'g.db'}"
    off = run("projects", "create", "a.b", "--store-url", store)
    assert off.exit_code == 0 and "warning: auto-apply" not in off.output
    assert json.loads(run("projects", "show", "a.b", "--store-url", store, "--json").output)["settings"]["auto_apply"] is False
    on = run("projects", "update", "a.b", "--store-url", store, "--auto-apply")
    assert on.exit_code == 0 and "warning: auto-apply is on" in on.output
