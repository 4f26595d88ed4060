"""``gradient simulator``: serve the local Databricks workspace emulator, list job profiles, simulate one run."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="Local Databricks workspace emulator and job performance models.", no_args_is_help=True)


def _fail(exc: BaseException, code: int = 2) -> None:
    typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
    raise typer.Exit(code)


@app.command("serve")
def serve(
    port: int = typer.Option(8765, "--port", help="TCP port on 127.0.0.1 (0: pick a free one)"),
    data: str = typer.Option(".emulator", "--data", help="state, DBFS and UC volume root directory"),
    token: str = typer.Option(None, "--token", envvar="GRADIENT_EMULATOR_TOKEN",
                              help="bearer token clients must send (default: any non-empty token)"),
    time_scale: float = typer.Option(60.0, "--time-scale", help="simulated seconds per wall second"),
    aws_endpoint: str = typer.Option(None, "--aws-endpoint", envvar="GRADIENT_EMULATOR_AWS_ENDPOINT",
                                     help="moto endpoint URL for AWS mode, or 'embedded' to start moto in-process"),
    profile: str = typer.Option(None, "--default-profile", help="profile of runs that name none"),
    faults: str = typer.Option(None, "--faults", help='initial fault knobs as JSON, e.g. \'{"latency_ms": 200}\' '
                                                      "(also GRADIENT_EMULATOR_FAULTS)"),
    seed: int = typer.Option(0, "--seed", help="base random seed"),
) -> None:
    """Serve the emulator in the foreground until interrupted (Ctrl-C)."""
    from airflow_provider_gradient.simulator.faults import FaultError, Faults, FaultState
    from airflow_provider_gradient.simulator.profiles import ProfileError, load_profile
    from airflow_provider_gradient.simulator.server import EmulatorServer
    from airflow_provider_gradient.simulator.state import EmulatorConfig, WorkspaceState

    try:
        initial = Faults.from_mapping(json.loads(faults)) if faults else Faults.from_env()
        if profile:
            load_profile(profile)
        if time_scale <= 0:
            raise ValueError("--time-scale must be > 0")
    except (FaultError, ProfileError, ValueError) as exc:
        _fail(exc)
    moto = None
    endpoint = aws_endpoint
    if aws_endpoint == "embedded":
        from airflow_provider_gradient.simulator.aws import start_embedded_moto

        moto, endpoint = start_embedded_moto()
    kwargs: dict[str, Any] = {"data_dir": Path(data), "token": token, "time_scale": time_scale, "aws_endpoint": endpoint,
                              "seed": seed}
    if profile:
        kwargs["default_profile"] = profile
    state = WorkspaceState(EmulatorConfig(**kwargs), FaultState(initial))
    if endpoint:
        from airflow_provider_gradient.simulator.aws import AwsBackend

        state.aws = AwsBackend(endpoint, state.config.region, state.faults)
    try:
        server = EmulatorServer(state, port=port).start()
    except (OSError, RuntimeError) as exc:
        _fail(exc, 1)
    typer.echo(f"emulator listening on {server.url} (time scale {time_scale}x, data {data}"
               + (f", AWS {endpoint}" if endpoint else "") + ")")
    sys.stdout.flush()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # installed last: moto/uvicorn must not take them over
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5) and server.alive:
            pass
    finally:
        server.stop()
        if moto is not None:
            moto.stop()


@app.command("profiles")
def profiles(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """List the shipped job profiles."""
    from airflow_provider_gradient.simulator.profiles import list_profiles, load_profile

    rows = [load_profile(name) for name in list_profiles()]
    if as_json:
        from airflow_provider_gradient.cli._common import write_json_text

        write_json_text(json.dumps([p.to_dict() for p in rows], indent=2))
        return
    for p in rows:
        typer.echo(f"{p.name:20s} {p.input_gb:7.0f} GB  drift={p.drift:9s} {p.description}")


@app.command("run")
def run(
    profile: str = typer.Option(..., "--profile", help="profile name, JSON/YAML path or module:function"),
    workers: int = typer.Option(None, "--workers", help="fixed worker count (default: the profile's baseline)"),
    node_type: str = typer.Option(None, "--node-type", help="worker node type (default: the profile's baseline)"),
    driver_node_type: str = typer.Option(None, "--driver-node-type", help="driver node type (default: workers')"),
    autoscale: str = typer.Option(None, "--autoscale", help="MIN-MAX instead of --workers"),
    spot: bool = typer.Option(False, "--spot", help="workers on spot"),
    photon: bool = typer.Option(False, "--photon", help="Photon runtime"),
    run_index: int = typer.Option(0, "--run-index", help="run number (input drift)"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    no_noise: bool = typer.Option(False, "--no-noise", help="noise-free expected model"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Simulate one run and print runtime, outcome and true cost."""
    import dataclasses

    from airflow_provider_gradient.core.cluster import Cluster
    from airflow_provider_gradient.simulator import ClusterSpec, price, simulate
    from airflow_provider_gradient.simulator.models import ClusterSpecError, UnknownNodeType
    from airflow_provider_gradient.simulator.profiles import ProfileError, load_profile

    try:
        p = load_profile(profile)
        c = Cluster.from_databricks(p.baseline, strict=False)
        if node_type:
            c = dataclasses.replace(c, node_type_id=node_type, driver_node_type_id=driver_node_type or node_type)
        elif driver_node_type:
            c = dataclasses.replace(c, driver_node_type_id=driver_node_type)
        if autoscale:
            lo, _, hi = autoscale.partition("-")
            c = c.with_size(autoscale=(int(lo), int(hi)))
        elif workers is not None:
            c = c.with_size(num_workers=workers)
        if spot:
            c = c.with_market("aws", True, 1)
        if photon:
            c = c.with_photon(True)
        spec = ClusterSpec.from_cluster(c)
        res = simulate(p, spec, run_index=run_index, seed=seed, noise=not no_noise)
        cost = price(res)
    except (ProfileError, ClusterSpecError, UnknownNodeType, ValueError) as exc:
        _fail(exc)
        return
    out = {
        "profile": p.name, "cluster": spec.label(), "succeeded": res.succeeded, "failure_kind": res.failure_kind,
        "failure_message": res.failure_message, "input_gb": round(res.input_bytes / 1024**3, 2),
        "startup_s": round(res.startup_s, 1), "runtime_s": round(res.runtime_s, 1), "total_s": round(res.total_s, 1),
        "tasks": res.tasks, "failed_tasks": res.failed_tasks, "spot_interruptions": res.spot_interruptions,
        "memory_ratio": round(res.memory_ratio, 3), "cost_usd": round(cost.total_usd, 4),
        "cloud_usd": round(cost.cloud_usd, 4), "dbu_usd": round(cost.dbu_usd, 4),
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
    else:
        status = "SUCCESS" if res.succeeded else f"FAILED ({res.failure_kind}: {res.failure_message})"
        typer.echo(f"{p.name} on {spec.label()}: {status}")
        typer.echo(f"  input {out['input_gb']} GB, start-up {out['startup_s']} s, runtime {out['runtime_s']} s "
                   f"({res.runtime_s / 60:.1f} min), {res.tasks} tasks")
        typer.echo(f"  cost ${cost.total_usd:.4f} (cloud ${cost.cloud_usd:.4f} + DBU ${cost.dbu_usd:.4f})")
    if not res.succeeded:
        raise typer.Exit(1)


