"""Browser-test helpers (used by conftest.py and the tests): one real ``airflow api-server`` (SimpleAuthManager) on 127.0.0.1 per module, a
Gradient store seeded from simulated runs, the Databricks emulator (for Discover) and Debian's Chromium.

Browser tests are skipped (with the reason) only when /usr/bin/chromium is missing and CI is not set;
under CI=true they must run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from serving import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
USERS = {"admin": ("admin", "admin-pw-1"), "viewer": ("viewer", "viewer-pw-1")}
XSS_APP_ID = "<script>alert(1)</script>"
XSS_JOB_NAME = "<img src=x onerror=alert(3)>"
TI_RUN_ID = "run_0011"

DAG_FILE = """
from __future__ import annotations
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("nightly_etl", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):
    EmptyOperator(task_id="transform")
"""


def chromium_or_skip() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing under CI (scripts/run_tests.sh installs chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium); browser tests need it")


def _http(
    method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 10
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            ctype = resp.headers.get("content-type", "")
            return resp.status, json.loads(raw) if "json" in ctype and raw else raw.decode(errors="replace")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


@dataclass
class AirflowServer:
    """A running api-server: base URL, env, the seeded store and helpers."""

    url: str
    env: dict[str, str]
    store_url: str
    home: Path
    proc: subprocess.Popen[bytes]
    emulator: Any = None
    project_ids: dict[str, int] = field(default_factory=dict)

    def token(self, user: str = "admin") -> str:
        name, pw = USERS[user]
        status, body = _http("POST", f"{self.url}/auth/token", {"username": name, "password": pw})
        assert status in (200, 201), body
        return str(body["access_token"])

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        return _http(method, self.url + path, body, token)


def _seed_store(store_url: str) -> dict[str, int]:
    from airflow_provider_gradient.service import GradientService
    from airflow_provider_gradient.simulator.seed import SeedProject, seed_default, seed_project

    svc = GradientService.from_url(store_url)
    projects = seed_default(svc, runs=14)
    hostile = seed_project(
        svc,
        SeedProject(XSS_APP_ID, "hostile_dag", "t", "small_startup", "i3.xlarge", 4, 2, 30.0),
        runs=5,
        run_id_base=9_000_000,
    )
    ids = {p.app_id: p.id for p in [*projects, hostile]}
    return ids


def _seed_emulator(emu: Any) -> None:
    nc = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge", "num_workers": 2}
    jobs = [
        emu.request(
            "POST",
            "/api/2.2/jobs/create",
            {
                "name": XSS_JOB_NAME,
                "tasks": [
                    {
                        "task_key": "t",
                        "notebook_task": {"notebook_path": "/a"},
                        "new_cluster": {**nc, "runtime_engine": "PHOTON"},
                    }
                ],
            },
        )["job_id"],
        emu.request(
            "POST",
            "/api/2.2/jobs/create",
            {
                "name": "hourly_agg",
                "tasks": [
                    {
                        "task_key": "t",
                        "notebook_task": {"notebook_path": "/b"},
                        "new_cluster": {
                            **nc,
                            "num_workers": None,
                            "autoscale": {"min_workers": 1, "max_workers": 4},
                        },
                    }
                ],
            },
        )["job_id"],
    ]
    runs = []
    for _ in range(2):
        runs += [emu.request("POST", "/api/2.2/jobs/run-now", {"job_id": j})["run_id"] for j in jobs]
        runs.append(
            emu.request(
                "POST",
                "/api/2.2/jobs/runs/submit",
                {
                    "run_name": "nightly_etl.transform",
                    "tasks": [{"task_key": "t", "notebook_task": {"notebook_path": "/c"}, "new_cluster": nc}],
                },
            )["run_id"]
        )
    for r in runs:
        emu.wait_run(r, timeout=120)


def start_server(root: Path, *, with_emulator: bool = True) -> Iterator[AirflowServer]:
    """Migrate a fresh Airflow home, seed the Gradient store, start ``airflow api-server`` (generator)."""
    dags = root / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    (dags / "nightly_etl.py").write_text(DAG_FILE)
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps({name: pw for name, pw in USERS.values()}))
    store_url = f"sqlite:///{root / 'gradient.db'}"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(root),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow.db'}",
        "AIRFLOW__API_AUTH__JWT_SECRET": "browser-test-jwt-secret-" + "0123456789abcdef" * 4,
        "AIRFLOW__API__SECRET_KEY": "browser-test-secret-key",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__GRADIENT__STORE_URL": store_url,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    # migrate + serialise the DAG in the background while the store and the emulator are seeded
    prep = subprocess.Popen(
        ["/bin/sh", "-c", f'"{airflow}" db migrate && "{airflow}" dags reserialize'],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    ids = _seed_store(store_url)

    emu_cm = None
    emu = None
    if with_emulator:
        from airflow_provider_gradient.simulator.testing import running_emulator

        emu_cm = running_emulator(root / "emulator", time_scale=3000, default_profile="small_startup")
        emu = emu_cm.__enter__()
        env["AIRFLOW_CONN_DATABRICKS_DEFAULT"] = emu.airflow_conn_uri
        _seed_emulator(emu)

    out, _ = prep.communicate(timeout=600)
    if prep.returncode != 0:
        pytest.fail(f"airflow db migrate / dags reserialize failed:\n{out.decode(errors='replace')[-3000:]}")
    log = open(root / "api-server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [airflow, "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = AirflowServer(f"http://127.0.0.1:{port}", env, store_url, root, proc, emu, ids)
    try:
        wait_until_up(server.url, proc, timeout=180, log=root / "api-server.log")
        # an Airflow run of the seeded task, so the "Gradient" tab has a task instance to show
        token = server.token()
        status, body = server.request(
            "POST", "/api/v2/dags/nightly_etl/dagRuns", {"dag_run_id": TI_RUN_ID, "logical_date": None}, token
        )
        assert status in (200, 201), body
        yield server
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)
        log.close()
        if emu_cm is not None:
            emu_cm.__exit__(None, None, None)


def copy_log(server: AirflowServer) -> None:
    """Keep the api-server log next to the screenshots (debugging failed runs)."""
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(server.home / "api-server.log", ARTIFACTS / "api-server.log")
