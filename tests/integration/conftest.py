"""Shared integration fixtures: a migrated Airflow home (once per session) and the Databricks emulator.

``airflow_home`` runs ``airflow db migrate`` once per session in a temporary AIRFLOW_HOME (SQLite metadata
DB) and points the already-imported Airflow at it too (``conf.set`` + ``configure_orm``), so it works even
when Airflow was imported earlier. ``emulator`` starts the emulator (time x1200, in-process moto) with
``databricks_default`` and ``aws_default`` pointing at it. Subdirectories may reuse or override them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
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
    """A migrated Airflow home: ``{"root", "dags", "env", "store_url"}`` (DAGs folder starts with the example DAGs)."""
    root = tmp_path_factory.mktemp("airflow_home")
    dags = root / "dags"
    if EXAMPLE_DAGS.is_dir():
        shutil.copytree(EXAMPLE_DAGS, dags, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        dags.mkdir()
    env = {
        "AIRFLOW_HOME": str(root),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__GRADIENT__STORE_URL": f"sqlite:///{root / 'gradient.db'}",
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
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The emulator (time x1200, in-process moto); ``databricks_default`` / ``aws_default`` point at it."""
    from airflow_provider_gradient.simulator.testing import running_emulator

    with running_emulator(tmp_path_factory.mktemp("emulator"), time_scale=1200, aws=True) as emu:
        saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_DATABRICKS_DEFAULT", "AIRFLOW_CONN_AWS_DEFAULT")}
        os.environ["AIRFLOW_CONN_DATABRICKS_DEFAULT"] = emu.airflow_conn_uri
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
            {"conn_type": "aws", "login": "test-access-key", "password": "test-secret-key",
             "extra": {"endpoint_url": emu.aws_endpoint, "region_name": "us-east-1"}}
        )
        yield emu
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def no_faults(emulator: Any) -> Iterator[Any]:
    """The session emulator with every fault knob reset before and after the test."""
    emulator.set_faults(reset=True)
    yield emulator
    emulator.set_faults(reset=True)


def write_dag(airflow_home: dict[str, Any], name: str, source: str) -> Path:
    """Add a DAG file to the session's DAGs folder."""
    path = Path(airflow_home["dags"]) / name
    path.write_text(source)
    return path


def load_dag(airflow_home: dict[str, Any], dag_id: str, path: Path | None = None) -> Any:
    """Parse a DAG file (default: the whole DAGs folder) like the DAG processor does and return one DAG."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path or airflow_home["dags"]))
    if dag_id not in bag.dags:
        raise LookupError(f"{dag_id} not in {sorted(bag.dags)}; import errors: {bag.import_errors}")
    return bag.dags[dag_id]


class DagFiles:
    """Write DAG files into the session's DAGs folder and load them (fixture ``dag_files``)."""

    def __init__(self, home: dict[str, Any]) -> None:
        self.home = home

    def write(self, name: str, source: str) -> Path:
        return write_dag(self.home, name, source)

    def load(self, dag_id: str, path: Path | None = None) -> Any:
        return load_dag(self.home, dag_id, path)


@pytest.fixture
def dag_files(airflow_home: dict[str, Any]) -> DagFiles:
    """Helper to add DAG files to the migrated Airflow home and parse them."""
    return DagFiles(airflow_home)


@pytest.fixture(scope="session")
def airflow_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The shared real ``airflow api-server`` with the non-admin auth setup (see live_server.py)."""
    from live_server import start

    yield from start(tmp_path_factory.mktemp("airflow_api_home"))
