"""Airflow fixtures of the integration tests of issue 5: one migrated metadata DB per session, a DAGs
folder holding the example DAGs (plus test DAGs), the emulator with accelerated time, a Gradient store.

Everything is pointed at through environment variables *and* ``conf.set`` + ``configure_orm`` so it works
even when Airflow was imported (and configured) earlier in the session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLE_DAGS = REPO / "example_dags"


def _apply_env(env: dict[str, str]) -> None:
    os.environ.update(env)
    from airflow import settings
    from airflow.configuration import conf

    for key, value in env.items():
        if key.startswith("AIRFLOW__") and key.count("__") >= 2:
            _, section, option = key.split("__", 2)
            conf.set(section.lower(), option.lower(), value)
    settings.SQL_ALCHEMY_CONN = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    settings.DAGS_FOLDER = env["AIRFLOW__CORE__DAGS_FOLDER"]
    settings.configure_orm()


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A migrated Airflow home (SQLite metadata DB) whose DAGs folder holds the example DAGs."""
    root = tmp_path_factory.mktemp("airflow_home")
    dags = root / "dags"
    shutil.copytree(EXAMPLE_DAGS, dags, ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        "AIRFLOW_HOME": str(root),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__GRADIENT__STORE_URL": f"sqlite:///{root / 'gradient.db'}",
        "AIRFLOW__GRADIENT__PRE_EXECUTE_TIMEOUT_SECONDS": "2.0",
        "GRADIENT_EXAMPLE_POLL_S": "1",
    }
    saved = {k: os.environ.get(k) for k in env}
    cmd = [str(Path(sys.executable).with_name("airflow")), "db", "migrate"]
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    _apply_env(env)
    yield {"root": root, "dags": dags, "env": env, "store_url": env["AIRFLOW__GRADIENT__STORE_URL"]}
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def emulator(airflow_home: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The Databricks emulator (time x600, in-process moto for AWS) with ``databricks_default`` pointing at it."""
    from airflow_provider_gradient.simulator.testing import running_emulator

    with running_emulator(tmp_path_factory.mktemp("emulator"), time_scale=600, aws=True) as emu:
        os.environ["AIRFLOW_CONN_DATABRICKS_DEFAULT"] = emu.airflow_conn_uri
        if emu.aws_endpoint:
            import json

            os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
                {"conn_type": "aws", "login": "test-access-key", "password": "test-secret-key",
                 "extra": {"endpoint_url": emu.aws_endpoint, "region_name": "us-east-1"}}
            )
        yield emu
        os.environ.pop("AIRFLOW_CONN_DATABRICKS_DEFAULT", None)
        os.environ.pop("AIRFLOW_CONN_AWS_DEFAULT", None)


@pytest.fixture
def gradient_store(airflow_home: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh Gradient store (local mode) for one test; returns its ``GradientService``."""
    from airflow.configuration import conf

    from airflow_provider_gradient.service import GradientService

    url = f"sqlite:///{tmp_path / 'gradient.db'}"
    monkeypatch.setenv("AIRFLOW__GRADIENT__STORE_URL", url)
    old = conf.get("gradient", "store_url", fallback="")
    conf.set("gradient", "store_url", url)
    yield GradientService.from_url(url)
    conf.set("gradient", "store_url", old or "")


def load_dag(airflow_home: dict[str, Any], dag_id: str) -> Any:
    """Parse the DAGs folder like the DAG processor does (cluster policies applied) and return one DAG."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(airflow_home["dags"]))
    if dag_id not in bag.dags:
        raise LookupError(f"{dag_id} not in {sorted(bag.dags)}; import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def write_dag(airflow_home: dict[str, Any], name: str, source: str) -> Path:
    """Add a DAG file to the session's DAGs folder."""
    path = Path(airflow_home["dags"]) / name
    path.write_text(source)
    return path
