"""The ``[gradient]`` settings object: declared defaults, Airflow's precedence, typed errors, no Airflow import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_gradient import CONFIG_OPTIONS, get_provider_info
from airflow_provider_gradient.settings import (
    GradientConfigError,
    GradientSettings,
    declared_defaults,
    get_settings,
    parse_settings,
    read_raw_local,
)

REPO = Path(__file__).resolve().parents[2]


def _cfg(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "airflow.cfg"
    path.write_text("[core]\nload_examples = False\n\n[gradient]\n" + body)
    return path


def test_one_field_per_declared_option_and_declared_defaults() -> None:
    declared = get_provider_info()["config"]["gradient"]["options"]
    assert set(GradientSettings.model_fields) == set(declared) == set(CONFIG_OPTIONS)
    s = parse_settings({})
    assert declared["region"]["default"] == "" and s.region is None  # unset: no made-up region
    assert s.aws_conn_id == "aws_default" and s.azure_conn_id == "azure_default"
    assert s.learning_runs == 4 and s.pre_execute_timeout_seconds == 2.0
    assert s.default_auto_apply is False and s.default_sla_minutes is None and s.store_url is None
    assert s.onboard == "none" and s.alert_on == ("sla_miss", "oom", "recommendation_waiting")
    assert s.cluster_log_url == "dbfs:/cluster-logs/gradient/{project_id}"


def test_precedence_env_over_cfg_over_default(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, "region = eu-west-1\nlearning_runs = 6\nplan_type = Enterprise\n")
    env = {"AIRFLOW_CONFIG": str(cfg), "AIRFLOW__GRADIENT__REGION": "eu-central-1"}
    raw = read_raw_local(env)
    assert raw["region"] == ("eu-central-1", "env AIRFLOW__GRADIENT__REGION")  # env wins over the file
    assert raw["learning_runs"] == ("6", str(cfg))  # the file wins over the default
    assert raw["cloud"] == ("aws", "default")
    s = parse_settings(raw)
    assert (s.region, s.learning_runs, s.plan_type, s.cloud) == ("eu-central-1", 6, "Enterprise", "aws")


def test_cfg_found_through_airflow_home_and_paths_resolved(tmp_path: Path) -> None:
    _cfg(tmp_path, "pending_dir =\nstore_url =\ndefault_auto_apply = yes\n")
    raw = read_raw_local({"AIRFLOW_HOME": str(tmp_path)})
    assert raw["default_auto_apply"][0] == "yes"
    s = parse_settings(raw)
    assert s.default_auto_apply is True
    assert s.pending_dir is None  # empty in airflow.cfg = unset
    # the derived paths follow $AIRFLOW_HOME of the process
    assert read_raw_local({"AIRFLOW_HOME": str(tmp_path / "missing")})["region"] == ("", "default")


def test_get_settings_without_airflow_reads_env_and_cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for var in [v for v in os.environ if v.startswith("AIRFLOW__GRADIENT__")]:  # e.g. a session's store_url
        monkeypatch.delenv(var)
    monkeypatch.setenv("AIRFLOW_CONFIG", str(_cfg(tmp_path, "onboard = Tagged\n")))
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__GRADIENT__ALERT_ON", "oom, sla_miss")
    s = get_settings(use_airflow=False)
    assert s.onboard == "tagged" and s.alert_on == ("oom", "sla_miss")
    assert s.resolved_pending_dir() == tmp_path / "gradient" / "pending"
    assert s.resolved_store_url() == f"sqlite:///{tmp_path / 'gradient.db'}"
    monkeypatch.setenv("AIRFLOW__GRADIENT__ONBOARD", "all")  # a changed configuration is read again
    assert get_settings(use_airflow=False).onboard == "all"


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("learning_runs", "four", "integer"),
        ("learning_runs", "0", "greater than or equal to 1"),
        ("pre_execute_timeout_seconds", "-1", "greater than 0"),
        ("default_auto_apply", "perhaps", "boolean"),
        ("onboard", "everything", "'none', 'tagged' or 'all'"),
        ("cloud", "gcp", "'aws' or 'azure'"),
        ("alert_on", "oom,sla_mis", "sla_miss"),
        ("default_sla_minutes", "-5", "greater than 0"),
    ],
)
def test_bad_value_is_a_typed_error_naming_the_option(tmp_path: Path, option: str, value: str, problem: str) -> None:
    cfg = _cfg(tmp_path, f"{option} = {value}\n")
    with pytest.raises(GradientConfigError) as info:
        parse_settings(read_raw_local({"AIRFLOW_CONFIG": str(cfg)}))
    err = info.value
    assert isinstance(err, ValueError)
    assert err.option == option and err.value == value and err.source == str(cfg)
    assert f"[gradient] {option} = {value!r}" in str(err) and problem in str(err)


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(GradientConfigError, match=r"dormant_days = 'x' \(env AIRFLOW__GRADIENT__DORMANT_DAYS\)"):
        parse_settings(read_raw_local({"AIRFLOW__GRADIENT__DORMANT_DAYS": "x", "AIRFLOW_HOME": "/nonexistent"}))


def test_declared_defaults_are_valid() -> None:
    assert parse_settings(declared_defaults()) == parse_settings({})


def test_reader_imports_no_airflow(tmp_path: Path) -> None:
    """The CLI's local mode reads the settings without importing Airflow (≈ 4 s)."""
    code = (
        "import sys; from airflow_provider_gradient.settings import get_settings; s = get_settings(); "
        "assert s.region == 'ap-south-1', s.region; "
        "assert not [m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')], 'airflow imported'"
    )
    env = {"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__GRADIENT__REGION": "ap-south-1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]


def test_bad_value_makes_the_apply_step_fail_open_naming_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task whose deployment has a bad ``[gradient]`` value runs unchanged, and its log says which option."""
    from types import SimpleNamespace

    from airflow_provider_gradient.operators.steps import guarded_apply
    from airflow_provider_gradient.service import GradientService

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__GRADIENT__LEARNING_RUNS", "four")
    cluster = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2}
    task = SimpleNamespace(dag_id="d", task_id="t", params={}, json={"new_cluster": dict(cluster)},
                           new_cluster=None, tasks=None)
    warnings: list[str] = []
    logger = SimpleNamespace(info=lambda *a: None, warning=lambda msg, *a: warnings.append(msg % a))
    svc = GradientService.from_url(f"sqlite:///{tmp_path / 'g.db'}")
    state = guarded_apply(task, {}, client_factory=lambda _t: svc, logger=logger)
    assert state.fail_open_reason is not None and "[gradient] learning_runs = 'four'" in state.fail_open_reason
    assert task.json == {"new_cluster": cluster}  # untouched
    assert "learning_runs" in warnings[0] and "original cluster" in warnings[0]
