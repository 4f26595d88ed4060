"""Helpers for tests, the demo and benchmarks: run the emulator in-process for the duration of a block.

Example::

    from airflow_provider_gradient.simulator.testing import running_emulator

    with running_emulator(tmp_path, time_scale=600, aws=True) as emu:
        os.environ["AIRFLOW_CONN_DATABRICKS_DEFAULT"] = emu.airflow_conn_uri
        ...
        emu.set_faults(error_burst=3, error_status=503)
        emu.submissions()          # what runs/submit etc. received
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_gradient.simulator.faults import Faults, FaultState
from airflow_provider_gradient.simulator.server import EmulatorServer
from airflow_provider_gradient.simulator.state import EmulatorConfig, WorkspaceState

__all__ = ["RunningEmulator", "running_emulator"]


@dataclass
class RunningEmulator:
    """Handle on an emulator started by :func:`running_emulator`."""

    server: EmulatorServer
    state: WorkspaceState
    token: str
    aws_endpoint: str | None

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>``."""
        return self.server.url

    @property
    def port(self) -> int:
        """Bound port."""
        return self.server.port

    @property
    def airflow_conn_uri(self) -> str:
        """Value for ``AIRFLOW_CONN_DATABRICKS_DEFAULT`` (DatabricksHook over plain http)."""
        return f"databricks://:{self.token}@127.0.0.1:{self.port}/http"

    @property
    def dbfs_root(self) -> Path:
        """Local directory behind ``dbfs:/``."""
        return self.state.dbfs_root

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Call the emulator's API with the token (JSON in, JSON out)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def set_faults(self, reset: bool = False, **knobs: Any) -> dict[str, Any]:
        """Change fault knobs at runtime (``reset=True`` starts from no faults)."""
        return dict(self.request("POST", "/_emulator/faults", {"reset": reset, **knobs}))

    def submissions(self) -> list[dict[str, Any]]:
        """Bodies received by write endpoints (runs/submit, jobs/update ...)."""
        return list(self.request("GET", "/_emulator/submissions")["submissions"])

    def simulation(self, cluster_id: str) -> dict[str, Any]:
        """What the emulator simulated for a cluster (runtime, tasks, profile ...)."""
        return dict(self.request("GET", f"/_emulator/clusters/{cluster_id}/simulation"))

    def wait_run(self, run_id: int, timeout: float = 60.0) -> dict[str, Any]:
        """Poll runs/get until the run is terminal (and its side effects are done)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.request("GET", f"/api/2.2/jobs/runs/get?run_id={run_id}")
            if run["state"]["life_cycle_state"] in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED"):
                self.state.tick()
                return dict(run)
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} not finished after {timeout}s: {run['state']}")
            time.sleep(0.05)


@contextlib.contextmanager
def running_emulator(
    data_dir: str | Path | None = None,
    *,
    token: str = "emulator-token",
    time_scale: float = 600.0,
    aws: bool | str = False,
    faults: Faults | dict[str, Any] | None = None,
    seed: int = 0,
    default_profile: str | None = None,
    tick_s: float = 0.05,
    cloud: str = "aws",
    region: str | None = None,
    clock_origin_ms: int | None = None,
) -> Iterator[RunningEmulator]:
    """Start the emulator on a free port in background threads; stop it on exit.

    :param data_dir: state/DBFS directory (default: a temporary directory removed afterwards).
    :param token: bearer token clients must send.
    :param time_scale: simulated seconds per wall second (600: a 40-minute job takes 4 s).
    :param aws: True starts an in-process moto server (launch times follow the simulated clock); a URL uses
        that moto endpoint.
    :param faults: initial fault knobs.
    :param cloud: the workspace's cloud (``aws`` or ``azure``: node types, attributes block).
    :param region: its region (default: the cloud's usual test region).
    :param clock_origin_ms: start of the simulated clock (default now).
    """
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="gradient-emulator-")
        data_dir = tmp.name
    moto_server = None
    endpoint: str | None = None
    if aws is True:
        from airflow_provider_gradient.simulator.aws import start_embedded_moto

        moto_server, endpoint = start_embedded_moto()
    elif isinstance(aws, str) and aws:
        endpoint = aws
    cfg_kwargs: dict[str, Any] = {"data_dir": Path(data_dir), "token": token, "time_scale": time_scale,
                                  "aws_endpoint": endpoint, "seed": seed, "cloud": cloud,
                                  "region": region or ("eastus" if cloud == "azure" else "us-east-1"),
                                  "clock_origin_ms": clock_origin_ms}
    if default_profile:
        cfg_kwargs["default_profile"] = default_profile
    config = EmulatorConfig(**cfg_kwargs)
    initial = faults if isinstance(faults, Faults) else Faults.from_mapping(dict(faults or {}))
    state = WorkspaceState(config, FaultState(initial))
    if endpoint:
        from airflow_provider_gradient.simulator.aws import AwsBackend

        state.aws = AwsBackend(endpoint, config.region, state.faults)
    server = EmulatorServer(state, tick_s=tick_s).start()
    try:
        yield RunningEmulator(server, state, token, endpoint)
    finally:
        server.stop()
        if moto_server is not None:
            moto_server.stop()
        if tmp is not None:
            tmp.cleanup()
