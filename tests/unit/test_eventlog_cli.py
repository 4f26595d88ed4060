"""``gradient eventlog summarize``: JSON contract, human table, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from airflow_provider_gradient.cli.eventlog import app

REQUIRED = {
    "app_id", "spark_version", "platform", "start_ms", "end_ms", "duration_s", "complete", "jobs", "stages",
    "tasks", "failed_tasks", "executors_max", "input_bytes", "output_bytes", "shuffle_read_bytes",
    "shuffle_write_bytes", "memory_spilled_bytes", "disk_spilled_bytes", "task_time_ms",
    "peak_execution_memory_max_bytes",
}  # fmt: skip


def test_json_output(eventlogs_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["summarize", "--json", str(eventlogs_dir / "spark_log_parser/databricks.zip")]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert REQUIRED <= set(doc)
    assert (doc["tasks"], doc["jobs"], doc["stages"], doc["complete"]) == (446, 50, 53, False)
    assert doc["cluster"]["node_type"] == "m5.4xlarge"
    assert doc["stage_details"] and len(doc["stage_details"][0]["duration_quantiles_ms"]) == 21


def test_human_output(eventlogs_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["summarize", "--stages", str(eventlogs_dir / "apache-spark/local-1430917381534")]
    )
    assert result.exit_code == 0, result.output
    assert "local-1430917381534" in result.stdout and "110" in result.stdout and "stages" in result.stdout


def test_bad_input_exit_code_and_single_error_line(eventlogs_dir: Path, tmp_path: Path) -> None:
    bad = eventlogs_dir / "spark_log_parser/bad/missing-part.zip"
    code = "from airflow_provider_gradient.cli.eventlog import app; app()"
    p = subprocess.run(
        [sys.executable, "-c", code, "summarize", "--json", str(bad)], capture_output=True, text=True
    )
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert lines == ["error: MissingRolloverPartError: missing rollover part 1"]
    missing = CliRunner().invoke(app, ["summarize", str(tmp_path / "missing")])
    assert missing.exit_code == 2 and "error: EventLogNotFoundError: " in missing.output


def test_cli_module_imports_stay_light() -> None:
    """Top-level imports of the CLI module are typer + stdlib only (the parser is imported in the command)."""
    import ast

    import airflow_provider_gradient.cli.eventlog as mod

    tree = ast.parse(Path(mod.__file__).read_text())
    top: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module.split(".")[0])
    assert top <= {"__future__", "sys", "pathlib", "typing", "typer"}
