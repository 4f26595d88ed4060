"""``gradient train``: runs the project's DAG against the emulator until learning is over."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

APP_ID = "example_gradient_operator.nightly_etl"


def test_train_runs_until_optimizing(airflow_home: dict[str, Any], emulator: Any, tmp_path: Any,
                                     monkeypatch: Any) -> None:
    from airflow.configuration import conf

    from airflow_provider_gradient.cli import app
    from airflow_provider_gradient.service import GradientService

    url = f"sqlite:///{tmp_path / 'gradient.db'}"
    monkeypatch.setenv("AIRFLOW__GRADIENT__STORE_URL", url)
    monkeypatch.setenv("GRADIENT_EXAMPLE_POLL_S", "1")
    monkeypatch.delenv("AIRFLOW_CONN_GRADIENT_DEFAULT", raising=False)
    old = conf.get("gradient", "store_url", fallback="")
    conf.set("gradient", "store_url", url)
    try:
        svc = GradientService.from_url(url)
        svc.get_or_create_project(APP_ID, dag_id="example_gradient_operator", task_id="nightly_etl",
                                  settings={"learning_runs": 2, "sla_minutes": 600, "auto_apply": True})
        result = CliRunner().invoke(app, ["train", APP_ID, "--runs", "5", "--json", "--store-url", url,
                                           "--conf", '{"profile": "small_startup"}'])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout[result.stdout.index("{"):])
        runs = svc.list_runs(APP_ID, limit=None)
        # every training run was recorded exactly once, and the command reports what the store says
        assert len(out["runs"]) == len(runs) >= 2
        assert sorted(r["databricks_run_id"] for r in out["runs"]) == sorted(r.databricks_run_id for r in runs)
        assert out["phase"] == svc.get_project(APP_ID).phase
        # it stopped as soon as learning was over (K = 2 learning runs), not after all 5
        assert out["phase"] == "optimizing"
        assert len(out["runs"]) < 5
    finally:
        conf.set("gradient", "store_url", old or "")


def test_train_unknown_project_is_bad_input(tmp_path: Any) -> None:
    from airflow_provider_gradient.cli import app
    from airflow_provider_gradient.service import GradientService

    url = f"sqlite:///{tmp_path / 'gradient.db'}"
    # read commands no longer create a store (52a20ff): a missing store is its own bad input, naming the store
    result = CliRunner().invoke(app, ["train", "no.such.project", "--store-url", url])
    assert result.exit_code == 2
    assert "no Gradient store at" in result.stderr and "gradient.db" in result.stderr
    # an existing store without that project: bad input naming the project
    GradientService.from_url(url)
    result = CliRunner().invoke(app, ["train", "no.such.project", "--store-url", url])
    assert result.exit_code == 2
    assert "no.such.project" in result.stderr
