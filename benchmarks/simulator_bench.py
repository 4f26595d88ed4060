"""Emulator / job-model figures: start-up time, 100 simulated 1-hour runs end to end, simulate() and oracle speed.

Run: ``.venv/bin/python benchmarks/simulator_bench.py [--runs 100] [--time-scale 600]``. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def startup_seconds() -> tuple[float, float]:
    """Wall and CPU time from launching ``gradient simulator serve`` to its first healthy answer.

    The CPU figure approximates the wall time on an idle machine (the shared CI box is often loaded).
    """
    with tempfile.TemporaryDirectory() as tmp:
        port = 18000 + os.getpid() % 1000
        start = time.monotonic()
        proc = subprocess.Popen([str(Path(sys.executable).with_name("gradient")), "simulator", "serve",
                                 "--port", str(port), "--data", tmp, "--token", "t"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/_emulator/health", timeout=1).read()
                    return time.monotonic() - start, _cpu_seconds(proc.pid)
                except (urllib.error.URLError, ConnectionError):
                    if proc.poll() is not None or time.monotonic() - start > 60:
                        raise RuntimeError("emulator did not start") from None
                    time.sleep(0.02)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def hundred_runs(runs: int, time_scale: float) -> dict[str, float]:
    """Submit ``runs`` one-hour jobs over REST, wait until all finished and their event logs are delivered."""
    from airflow_provider_gradient.simulator.testing import running_emulator

    cluster = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.2xlarge", "num_workers": 6,
               "custom_tags": {"emulator_profile": "etl_scaling"},
               "cluster_log_conf": {"dbfs": {"destination": "dbfs:/bench-logs"}}}
    with running_emulator(time_scale=time_scale) as emu:
        t0 = time.monotonic()
        ids = [emu.request("POST", "/api/2.2/jobs/runs/submit",
                           {"run_name": f"bench-{i}", "new_cluster": cluster, "notebook_task": {"notebook_path": "/b"}})["run_id"]
               for i in range(runs)]
        submitted = time.monotonic() - t0
        pending = set(ids)
        runtimes = []
        while pending:
            for rid in list(pending):
                run = emu.request("GET", f"/api/2.2/jobs/runs/get?run_id={rid}")
                if run["state"]["life_cycle_state"] == "TERMINATED":
                    pending.discard(rid)
                    runtimes.append(run["execution_duration"] / 1000.0)
            time.sleep(0.2)
        finished = time.monotonic() - t0
        while not all(c["eventlog_written"] for c in emu.state.clusters.values()):
            time.sleep(0.1)
        logs = time.monotonic() - t0
    return {"runs": runs, "time_scale": time_scale, "mean_sim_runtime_min": sum(runtimes) / len(runtimes) / 60,
            "submit_wall_s": submitted, "all_terminated_wall_s": finished, "all_eventlogs_wall_s": logs}


def model_speed() -> dict[str, float]:
    """simulate() calls per second and one oracle over a 6-node-type x 1..32-worker space."""
    from airflow_provider_gradient.core.optimizer.types import NodeOption, SearchSpace
    from airflow_provider_gradient.core.pricing import load_catalog
    from airflow_provider_gradient.simulator import ClusterSpec, oracle, simulate

    spec = ClusterSpec("m5.2xlarge", num_workers=8)
    n = 5000
    t0 = time.perf_counter()
    for i in range(n):
        simulate("etl_scaling", spec, run_index=i, seed=i)
    per_call = (time.perf_counter() - t0) / n
    cat = load_catalog()
    names = ("c5.2xlarge", "m5.2xlarge", "r5.2xlarge", "m5.4xlarge", "r5.4xlarge", "i3.2xlarge")
    nodes = tuple(NodeOption(nm, cat.node_type("aws", nm).family, cat.node_type("aws", nm).vcpus,
                             cat.node_type("aws", nm).memory_gb, cat.hourly_usd("aws", "us-east-1", nm),
                             cat.node_type("aws", nm).dbu_per_hour, cat.node_type("aws", nm).spot_discount) for nm in names)
    space = SearchSpace("aws", "us-east-1", nodes, cat.dbu_rate_usd("aws", "Premium", "jobs"), 1, 32)
    t0 = time.perf_counter()
    res = oracle("etl_scaling", space, 45.0)
    return {"simulate_us_per_call": per_call * 1e6, "oracle_s": time.perf_counter() - t0,
            "oracle_configs": float(res.evaluated)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--time-scale", type=float, default=600.0)
    args = parser.parse_args()
    wall, cpu = startup_seconds()
    out = {"startup_wall_s": wall, "startup_cpu_s": cpu, "load_average_1m": os.getloadavg()[0],
           **hundred_runs(args.runs, args.time_scale), **model_speed()}
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}, indent=2))


if __name__ == "__main__":
    main()
