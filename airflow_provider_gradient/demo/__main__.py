"""``python -m airflow_provider_gradient.demo [run|ui]`` — what ``make demo`` and ``make ui`` call."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from airflow_provider_gradient.demo.environment import airflow_env, demo_home, prepare

DEFAULT_PROFILE = "driver_bound"
DEFAULT_SLA_MINUTES = 75.0


def _run(args: argparse.Namespace) -> int:
    import warnings

    warnings.filterwarnings("ignore")  # Airflow's deprecation chatter would bury the demo's table
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console()
    t0 = time.monotonic()
    home = demo_home(Path(args.home) if args.home else None)
    console.print(f"[bold]Gradient demo[/] — Airflow home [cyan]{home.root}[/]")
    with console.status("Migrating the Airflow metadata DB (SQLite)…"):
        prepare(home)
    from airflow_provider_gradient.demo.report import render_report, write_report
    from airflow_provider_gradient.demo.runner import DemoRun, run_loop
    from airflow_provider_gradient.service import GradientService

    table = Table(title=f"{args.runs} runs of the example operator DAG (profile {args.profile}, SLA {args.sla_minutes:g} min)")
    for col in ("#", "phase", "cluster", "outcome", "runtime vs SLA", "cloud $", "DBU $", "total $"):
        table.add_column(col, justify="right" if col.endswith("$") or col == "#" else "left")

    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("Running the DAG with dag.test()", total=args.runs)

        def on_run(r: DemoRun) -> None:
            runtime = "—" if r.runtime_s is None else f"{r.runtime_s / 60:.1f} / {args.sla_minutes:g} min"
            mark = "[green]✓[/]" if r.meets_sla else "[red]✗[/]"
            table.add_row(str(r.number), r.phase, r.cluster, r.outcome, f"{runtime} {mark}",
                          f"{r.cloud_usd:.2f}", f"{r.dbu_usd:.2f}", f"{r.total_usd:.2f}")
            progress.console.print(f"run {r.number}: {r.phase:<15} {r.cluster:<28} {r.outcome:<8} "
                                   f"{runtime} {'ok' if r.meets_sla else 'SLA miss'}  ${r.total_usd:.2f}")
            progress.advance(task)

        runs, project = run_loop(home, runs=args.runs, profile=args.profile, sla_minutes=args.sla_minutes,
                                 time_scale=args.time_scale, on_run=on_run)
    console.print(table)
    svc = GradientService.from_url(home.store_url)
    roi = svc.project_roi(project.id)
    first, last = runs[0], runs[-1]
    console.print(
        f"First run ${first.total_usd:.2f} → last run ${last.total_usd:.2f} "
        f"({(last.total_usd / first.total_usd - 1) * 100 if first.total_usd else 0:+.0f}%), "
        f"last runtime {'within' if last.meets_sla else 'OVER'} the {args.sla_minutes:g}-min SLA."
    )
    freq = f" (at {roi.annual_run_frequency:,.0f} runs/year, from the DAG runs' logical dates)" if roi.annual_run_frequency else ""
    console.print(f"Savings to date ${roi.savings_to_date_usd:.2f}; projected 12-month savings "
                  f"${roi.projected_12m_savings_usd:,.0f}{freq}. {roi.reason}")
    report = write_report(home.report, render_report(runs, project, roi, args.sla_minutes))
    console.print(f"Report: [cyan]{report}[/]")
    console.print("See it in Airflow: [bold]make ui[/] (or [bold]make ui PORT=8081[/]) then open "
                  "http://127.0.0.1:8080/gradient/ui/ (or Browse → Gradient in Airflow's UI)")
    console.print(f"Done in {time.monotonic() - t0:.0f} s.")
    return 0


def ui_banner(port: int, discover: str) -> str:
    """What ``make ui`` prints: where the pages are and what Discover scans.

    :param port: the api-server's port.
    :param discover: where Discover's ``databricks_default`` points (``emulator URL`` or ``your workspace``).
    """
    base = f"http://127.0.0.1:{port}"
    return (
        f"Gradient pages: {base}/gradient/ui/  (also Airflow's UI {base}/ → Browse → Gradient)\n"
        f"Discover scans databricks_default: {discover}. To scan a real workspace instead, start with "
        "AIRFLOW_CONN_DATABRICKS_DEFAULT='databricks://:TOKEN@HOST' make ui\n"
        "Another port: make ui PORT=8081. Ctrl-C stops it."
    )


def _ui(args: argparse.Namespace) -> int:
    import contextlib

    home = demo_home(Path(args.home) if args.home else None)
    if not home.airflow_db.exists():
        prepare(home, fresh=False)
    env = {**os.environ, **airflow_env(home)}
    airflow = Path(sys.executable).with_name("airflow")
    with contextlib.ExitStack() as stack:
        if os.environ.get("AIRFLOW_CONN_DATABRICKS_DEFAULT"):
            discover = "the workspace of your AIRFLOW_CONN_DATABRICKS_DEFAULT"
        else:
            # the demo's emulator again, over the state it saved: Discover shows the demo's job runs
            from airflow_provider_gradient.demo.environment import DEMO_TOKEN
            from airflow_provider_gradient.simulator.testing import running_emulator

            emu = stack.enter_context(running_emulator(home.emulator_dir, token=DEMO_TOKEN, time_scale=args.time_scale))
            # the workspace's region, as a real connection's extra says it: Discover prices its runs there
            env["AIRFLOW_CONN_DATABRICKS_DEFAULT"] = f"{emu.airflow_conn_uri}?region={emu.state.config.region}"
            discover = f"the demo's Databricks emulator ({emu.url}, the runs of the last `make demo`)"
        print(ui_banner(args.port, discover), flush=True)
        proc = subprocess.Popen([str(airflow), "api-server", "--host", "127.0.0.1", "--port", str(args.port)], env=env)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            return proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the demo or the UI."""
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_gradient.demo")
    parser.add_argument("command", nargs="?", default="run", choices=("run", "ui"))
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--profile", default=DEFAULT_PROFILE)
    parser.add_argument("--sla-minutes", type=float, default=DEFAULT_SLA_MINUTES)
    parser.add_argument("--time-scale", type=float, default=6000.0)
    parser.add_argument("--home", default=None, help="demo home (default <repo>/.demo)")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    return _run(args) if args.command == "run" else _ui(args)


if __name__ == "__main__":
    sys.exit(main())
