"""Every command in README.md is exercised here, so the README cannot rot.

``gradient ...`` lines run for real, in README order, against a temp store, the emulator (discover) and
small stand-in files for the placeholders; ``make`` targets must exist (``make -n``); ``pip install`` names
must be this package and its extras; ``export AIRFLOW_CONN_*`` lines must parse as Airflow connections of
the right type (and the gradient one must select the mode the README says).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from serving import free_port

REPO = Path(__file__).resolve().parents[2]
GRADIENT = str(Path(sys.executable).with_name("gradient"))
DATASETS = REPO.parent / "shared" / "datasets"
SHARED_LOG = REPO.parent / "shared" / "eventlogs" / "public" / "apache-spark" / "local-1422981759269"


def readme_commands() -> list[str]:
    """The command lines of the README's bash blocks; the block that sets up the store runs first."""
    text = (REPO / "README.md").read_text()
    lines: list[str] = []
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    blocks.sort(key=lambda b: "gradient db upgrade" not in b)
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line:
                lines.append(line)
    return lines


def test_readme_has_the_commands_it_promises() -> None:
    cmds = readme_commands()
    assert "make demo" in cmds and "make test" in cmds
    groups = {shlex.split(c)[1] for c in cmds if c.startswith("gradient ")}
    assert {"db", "projects", "runs", "recommendations", "eventlog", "discover", "simulator", "bench"} <= groups


def test_make_targets_exist() -> None:
    for cmd in readme_commands():
        if cmd.startswith("make "):
            target = cmd.split()[1]
            proc = subprocess.run(["make", "-n", target], cwd=REPO, capture_output=True, text=True)
            assert proc.returncode == 0, f"{cmd}: {proc.stderr}"


def test_pip_install_names_this_package() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for cmd in readme_commands():
        if cmd.startswith("pip install"):
            spec = shlex.split(cmd)[2]
            name, _, extras = spec.partition("[")
            assert name == meta["name"]
            for extra in filter(None, extras.rstrip("]").split(",")):
                assert extra in meta["optional-dependencies"], extra


def test_connection_examples_parse() -> None:
    from airflow.models.connection import Connection

    from airflow_provider_gradient.hooks.gradient import GradientHook

    seen = set()
    for cmd in readme_commands():
        m = re.match(r"export AIRFLOW_CONN_(\w+)='(.*)'$", cmd)
        if not m:
            continue
        conn = Connection(conn_id=m.group(1).lower(), uri=m.group(2))
        assert conn.conn_type in ("databricks", "gradient", "aws"), conn.conn_type
        seen.add(conn.conn_type)
        if conn.conn_type == "gradient":
            hook = GradientHook()
            hook._connection = lambda conn=conn: conn  # type: ignore[method-assign]
            client = hook.get_client()
            assert type(client).__name__ == "GradientHttpClient"
            assert client.base_url.startswith("https://airflow-api.internal:8080")
    assert seen == {"databricks", "gradient", "aws"}


def test_every_gradient_command_runs(tmp_path: Path) -> None:
    from airflow_provider_gradient.simulator.testing import running_emulator

    # stand-ins for the README's placeholders
    log = tmp_path / "path" / "to" / "eventlog"
    log.parent.mkdir(parents=True)
    if SHARED_LOG.is_file():
        log.write_bytes(SHARED_LOG.read_bytes())
    else:  # a tiny but real log: start + one task + end
        log.write_text("\n".join(json.dumps(e) for e in (
            {"Event": "SparkListenerLogStart", "Spark Version": "3.5.0"},
            {"Event": "SparkListenerApplicationStart", "App Name": "x", "App ID": "local-1", "Timestamp": 1000,
             "User": "u"},
            {"Event": "SparkListenerApplicationEnd", "Timestamp": 2000})) + "\n")
    (tmp_path / "catalog.json").write_text(json.dumps({"dbu_usd": 0.15, "node_types": [
        {"name": "m5.xlarge", "vcpus": 4, "memory_gb": 16, "hourly_usd": 0.192, "dbu_per_hour": 0.69},
        {"name": "r5.xlarge", "vcpus": 4, "memory_gb": 32, "hourly_usd": 0.252, "dbu_per_hour": 0.9}]}))
    rows = ["node_type,workers,runtime_s,succeeded"] + [
        f"{nt},{w},{base * 3600 / w:.1f},true" for nt, base in (("m5.xlarge", 1.6), ("r5.xlarge", 1.5))
        for w in (2, 4, 6, 8, 12, 16)]
    (tmp_path / "grid.csv").write_text("\n".join(rows) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__GRADIENT")}
    env.update(GRADIENT_STORE_URL=f"sqlite:///{tmp_path / 'g.db'}", COLUMNS="200", AIRFLOW_HOME=str(tmp_path))
    env.pop("AIRFLOW_CONN_GRADIENT_DEFAULT", None)
    ran = 0
    with running_emulator(tmp_path / "emu") as emu:
        env["AIRFLOW_CONN_DATABRICKS_DEFAULT"] = emu.airflow_conn_uri
        for cmd in readme_commands():
            if not cmd.startswith("gradient "):
                continue
            argv = [GRADIENT, *shlex.split(cmd)[1:]]
            if "../shared/datasets" in argv:
                if not DATASETS.is_dir():
                    continue  # the real data sets live beside the repository, not in it
                argv = [str(DATASETS) if a == "../shared/datasets" else a for a in argv]
            if argv[1:3] == ["simulator", "serve"]:
                argv = [a.replace("8999", str(free_port())).replace("/tmp/emulator", str(tmp_path / "served"))
                        for a in argv]
                proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
                port = argv[argv.index("--port") + 1]
                deadline = time.monotonic() + 60
                while True:
                    assert proc.poll() is None, proc.communicate()[0]
                    try:
                        with socket.create_connection(("127.0.0.1", int(port)), timeout=1):
                            break
                    except OSError:
                        assert time.monotonic() < deadline, f"{cmd}: not listening"
                        time.sleep(0.3)
                proc.send_signal(signal.SIGINT)
                out = proc.communicate(timeout=30)[0]
                assert proc.returncode == 0, f"{cmd}: exit {proc.returncode}\n{out[-2000:]}"
            else:
                proc2 = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                                       stdin=subprocess.DEVNULL, timeout=300)
                assert proc2.returncode == 0, f"{cmd}: exit {proc2.returncode}\n{proc2.stdout[-1500:]}{proc2.stderr[-1500:]}"
                check_output(cmd, proc2.stdout)
            ran += 1
    assert ran >= 14


def check_output(cmd: str, out: str) -> None:
    """What each README command must visibly do."""
    if cmd.startswith("gradient projects list --json"):
        assert isinstance(json.loads(out), list)
    elif cmd.startswith("gradient recommendations latest") and "terraform" in cmd:
        import hcl2

        (block,) = hcl2.loads(out)["new_cluster"]
        assert block["node_type_id"]
    elif cmd.startswith("gradient recommendations latest") and "databricks-json" in cmd:
        assert json.loads(out)["node_type_id"]
    elif cmd.startswith("gradient eventlog summarize"):
        assert json.loads(out)["app_id"]
    elif cmd.startswith("gradient bench replay"):
        result: dict[str, Any] = json.loads(out)
        assert len(result["runs"]) == 8 and result["final_meets_sla"] is True
    elif cmd.startswith("gradient bench suite"):
        assert all(re.search(rf"^overall +{s} ", out, re.M) for s in ("gradient", "bo", "random")), out[-2000:]
    elif cmd.startswith("gradient projects update"):
        assert "45" in out
