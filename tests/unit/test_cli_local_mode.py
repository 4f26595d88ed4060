"""The CLI's local mode (``--store-url`` / ``GRADIENT_STORE_URL``) imports neither Airflow nor Alembic nor the
optimiser's numeric stack, and still reads the ``[gradient]`` settings (environment and airflow.cfg)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_gradient.service import GradientService

HEAVY = ("airflow", "alembic", "mako", "sklearn", "scipy", "boto3", "fastapi", "httpx")

# runs the console script's entry point in a fresh interpreter, then reports which heavy packages it loaded
PROBE = """
import json, sys
heavy_names = set(json.loads(sys.argv[2]))
from airflow_provider_gradient.cli import main
sys.argv = ["gradient", *json.loads(sys.argv[1])]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
heavy = sorted({m.split(".")[0] for m in sys.modules} & heavy_names)
sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "heavy": heavy}) + "\\n")
"""


def _gradient(args: list[str], home: Path, **env: str) -> tuple[int, list[str], str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
    environ.update(AIRFLOW_HOME=str(home), **env)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        env=environ, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert "PROBE " in proc.stderr, proc.stderr[-3000:]
    probe = json.loads(proc.stderr.rsplit("PROBE ", 1)[1])
    return probe["code"], probe["heavy"], proc.stdout


def test_projects_list_in_local_mode_imports_no_airflow(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    GradientService.from_url(url).get_or_create_project("nightly.load", dag_id="nightly", task_id="load")
    code, heavy, out = _gradient(["projects", "list", "--json", "--store-url", url], tmp_path)
    assert code == 0
    assert [p["app_id"] for p in json.loads(out)] == ["nightly.load"]
    assert heavy == [], f"local mode imported {heavy}"
    # the same through the environment variable the README uses
    code, heavy, out = _gradient(["projects", "show", "nightly.load", "--json"], tmp_path, GRADIENT_STORE_URL=url)
    assert code == 0 and json.loads(out)["dag_id"] == "nightly" and heavy == []


def test_local_mode_reads_the_gradient_settings_without_airflow(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    GradientService.from_url(url)  # an existing store (a new one is migrated by Alembic)
    (tmp_path / "airflow.cfg").write_text("[gradient]\ndefault_sla_minutes = 33\nlearning_runs = 3\n")
    code, heavy, _ = _gradient(["projects", "create", "a.b", "--store-url", url], tmp_path,
                               AIRFLOW__GRADIENT__LEARNING_RUNS="5")
    assert code == 0 and heavy == []
    settings = GradientService.from_url(url).get_project("a.b").settings
    assert settings.sla_minutes == 33 and settings.learning_runs == 5  # airflow.cfg, overridden by the env
    # a bad deployment value is a clear error naming the option, not a traceback
    code, heavy, _ = _gradient(["projects", "list", "--store-url", url], tmp_path,
                               AIRFLOW__GRADIENT__LEARNING_RUNS="many")
    assert code == 2 and heavy == []
