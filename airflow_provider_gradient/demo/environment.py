"""The demo's throw-away Airflow home: directories, environment variables, metadata DB migration."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Token the demo's local Databricks emulator accepts (not a secret: the emulator only listens on 127.0.0.1).
DEMO_TOKEN = "demo-token"


@dataclass(frozen=True, slots=True)
class DemoHome:
    """Paths of the demo's Airflow home under ``<repo>/.demo``."""

    root: Path
    dags_folder: Path

    @property
    def airflow_db(self) -> Path:
        return self.root / "airflow.db"

    @property
    def gradient_db(self) -> Path:
        return self.root / "gradient.db"

    @property
    def emulator_dir(self) -> Path:
        return self.root / "emulator"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.gradient_db}"


def repo_root() -> Path:
    """The checkout the demo runs from (holds ``example_dags/``)."""
    here = Path(__file__).resolve().parents[2]
    if (here / "example_dags").is_dir():
        return here
    return Path.cwd()


def demo_home(root: Path | None = None) -> DemoHome:
    """Paths of the demo home (``<repo>/.demo`` unless ``root`` is given)."""
    repo = repo_root()
    return DemoHome(root=(root or repo / ".demo").resolve(), dags_folder=repo / "example_dags")


def airflow_env(home: DemoHome) -> dict[str, str]:
    """Environment variables that point Airflow and Gradient at the demo home."""
    return {
        "AIRFLOW_HOME": str(home.root),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home.dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home.airflow_db}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__GRADIENT__STORE_URL": home.store_url,
        "AIRFLOW__GRADIENT__PRE_EXECUTE_TIMEOUT_SECONDS": "10",
        "GRADIENT_EXAMPLE_POLL_S": "1",
    }


def prepare(home: DemoHome, *, fresh: bool = True) -> None:
    """Create the home (wiping an earlier demo when ``fresh``) and migrate Airflow's metadata DB.

    :param home: the demo home.
    :param fresh: remove what an earlier demo left.
    """
    if fresh and home.root.exists():
        shutil.rmtree(home.root)
    home.root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **airflow_env(home)}
    airflow = Path(sys.executable).with_name("airflow")
    cmd = [str(airflow), "db", "migrate"] if airflow.exists() else [sys.executable, "-m", "airflow", "db", "migrate"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
