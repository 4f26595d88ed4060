"""One real ``airflow api-server`` shared by the integration tests (session fixture ``airflow_api`` in
conftest.py): temp AIRFLOW_HOME, SQLite metadata DB, the Gradient plugin at /gradient and a non-admin auth
setup — SimpleAuthManager users ``admin``, ``op``, ``user``, ``viewer`` and ``analyst`` (role user) behind
``support/gradient_test_auth.DenyDagAuthManager``, configured in the home's ``airflow.cfg`` to deny DAG
``finance_dag`` to ``analyst``. Starting an api-server costs ~20 s: share this one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from serving import free_port, wait_until_up

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SUPPORT = Path(__file__).resolve().parent / "support"
#: user -> (role, password)
USERS = {
    "admin": ("admin", "admin-pw"),
    "op": ("op", "op-pw"),
    "user": ("user", "user-pw"),
    "viewer": ("viewer", "viewer-pw"),
    "analyst": ("user", "analyst-pw"),
}
PASSWORDS = {name: pw for name, (_, pw) in USERS.items()}
#: the DAG denied to ``analyst`` (every other user may read it)
DENIED_DAG = "finance_dag"
DENIED_USER = "analyst"
#: the Databricks connection ``[gradient] discover_conn_ids`` lets every page user scan with Discover
SHARED_CONN = "databricks_shared"
#: `airflow plugins`, `airflow providers list`, `airflow providers hooks` in one interpreter (one import).
CLI_LISTINGS = """
from airflow.cli import cli_parser
parser = cli_parser.get_parser()
for argv in (["plugins", "-o", "plain"], ["providers", "list", "-o", "plain"], ["providers", "hooks", "-o", "plain"]):
    print("=== GRADIENT-CLI ===", flush=True)
    args = parser.parse_args(argv)
    args.func(args)
"""
AIRFLOW_CFG = f"""
[core]
auth_manager = gradient_test_auth.DenyDagAuthManager
simple_auth_manager_users = {",".join(f"{n}:{r}" for n, (r, _) in USERS.items())}
simple_auth_manager_all_admins = False
load_examples = False

[gradient]
discover_conn_ids = {SHARED_CONN}

[gradient_test]
denied_dags = {DENIED_USER}:{DENIED_DAG}
"""


@dataclass
class LiveServer:
    """A running api-server: base URL, its environment, the Gradient store, a JWT per user, CLI listings."""

    url: str
    env: dict[str, str]
    store_url: str
    tokens: dict[str, str]
    cli: dict[str, str]
    home: Path

    def h(self, role: str = "admin") -> dict[str, str]:
        """The ``Authorization`` header of user ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def client(self, role: str | None = "admin", **kw: Any) -> httpx.Client:
        """An httpx client on the server as user ``role`` (``None``: anonymous)."""
        return httpx.Client(base_url=self.url, headers=self.h(role) if role else {}, timeout=30, **kw)


def _kill(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def start(home: Path) -> Iterator[LiveServer]:
    """Migrate ``home``, start ``airflow api-server`` on a free port, yield it, stop it (generator)."""
    (home / "dags").mkdir(parents=True, exist_ok=True)
    (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps(PASSWORDS))
    (home / "airflow.cfg").write_text(AIRFLOW_CFG)
    store_url = f"sqlite:///{home / 'gradient.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "PYTHONPATH": os.pathsep.join(p for p in (str(SUPPORT), os.environ.get("PYTHONPATH", "")) if p),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_CONFIG": str(home / "airflow.cfg"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API_AUTH__JWT_SECRET": "gradient-test-" + "x" * 64,
        "AIRFLOW__API__SECRET_KEY": "gradient-test-secret-key",
        "AIRFLOW__GRADIENT__STORE_URL": store_url,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    # the CLI listings need no metadata DB: one process runs the three while the DB is migrated
    cli_proc = subprocess.Popen(
        [sys.executable, "-c", CLI_LISTINGS], env={**env, "COLUMNS": "300"}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
    )
    server = None
    log = None
    try:
        mig = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL)
        assert mig.returncode == 0, mig.stdout[-2000:] + mig.stderr[-2000:]
        port = free_port()
        env["AIRFLOW__API__BASE_URL"] = f"http://127.0.0.1:{port}"
        log = open(home / "api-server.log", "w")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [AIRFLOW, "api-server", "-H", "127.0.0.1", "-p", str(port), "-w", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, server, timeout=180, log=home / "api-server.log")
        tokens = {}
        for user, pw in PASSWORDS.items():
            r = httpx.post(url + "/auth/token", json={"username": user, "password": pw}, timeout=10)
            assert r.status_code == 201, r.text
            tokens[user] = r.json()["access_token"]
        out = cli_proc.communicate(timeout=300)[0]
        cli = dict(
            zip(("preamble", "plugins", "providers", "hooks"), out.split("=== GRADIENT-CLI ===\n"), strict=False)
        )
        yield LiveServer(url=url, env=env, store_url=store_url, tokens=tokens, cli=cli, home=home)
    finally:
        if cli_proc.poll() is None:
            cli_proc.kill()
            cli_proc.wait(10)
        if server is not None:
            _kill(server)
        if log is not None:
            log.close()
