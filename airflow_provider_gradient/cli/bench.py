"""``gradient bench``: replay recorded grids, run the simulator benchmark, and the side-by-side suite."""

from __future__ import annotations

import json
import os
from typing import Any

import typer

app = typer.Typer(help="Benchmark the optimiser against bo/random baselines.", no_args_is_help=True)


def _single_thread_blas() -> None:
    """The benchmarks fit many tiny models: BLAS threads only spin on a shared box (effective before numpy loads)."""
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(v, "1")


def _fail(exc: Exception, code: int = 2) -> None:
    typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
    raise typer.Exit(code)


def _parse_baseline(text: str) -> tuple[str, int]:
    node, sep, w = text.rpartition(":")
    if not sep or not node:
        raise ValueError(f"--baseline must be NODE:WORKERS, got {text!r}")
    try:
        return node, int(w)
    except ValueError:
        raise ValueError(f"--baseline workers must be an integer, got {w!r}") from None


def _parse_sizes(text: str) -> list[float] | None:
    if not text.strip():
        return None
    try:
        sizes = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"--input-sizes must be comma-separated numbers, got {text!r}") from None
    if not sizes:
        raise ValueError("--input-sizes is empty")
    return sizes


def _emit(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        from airflow_provider_gradient.cli._common import write_json_text

        write_json_text(json.dumps(data, indent=1, default=float))
    else:
        typer.echo(text)


@app.command("replay")
def replay_cmd(
    grid: str = typer.Option(..., "--grid", help="CSV: node_type,workers,runtime_s,succeeded"),
    catalog: str = typer.Option(..., "--catalog", help="catalog JSON {dbu_usd, node_types:[...]}"),
    baseline: str = typer.Option(..., "--baseline", help="NODE:WORKERS of run 1 (a grid row)"),
    sla_minutes: float = typer.Option(..., "--sla-minutes", help="runtime SLA in minutes"),
    budget: int = typer.Option(10, "--budget", help="total runs including the baseline"),
    seed: int = typer.Option(0, "--seed", help="seed (bo/random)"),
    strategy: str = typer.Option("gradient", "--strategy", help="gradient | random | bo"),
    input_sizes: str = typer.Option("", "--input-sizes",
                                    help="input size of run 1,2,… (the last repeats), from the grid's input_size"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Replay a strategy on a recorded grid of measured runs (repetitions drawn by --seed)."""
    _single_thread_blas()
    from airflow_provider_gradient.bench.grid import GridError, load_catalog_json, load_grid_csv
    from airflow_provider_gradient.bench.replay import replay
    from airflow_provider_gradient.core.optimizer import OptimizerError

    try:
        base = _parse_baseline(baseline)
        rows = load_grid_csv(grid)
        cat = load_catalog_json(catalog)
        sizes = _parse_sizes(input_sizes)
        out = replay(rows, cat, base, sla_minutes, budget, strategy=strategy, seed=seed, input_sizes=sizes)
    except (GridError, OptimizerError, ValueError) as exc:
        _fail(exc)
        return
    lines = [f"{i + 1:>2}. {r['workers']}×{r['node_type']}  {r['runtime_s']:.0f}s  "
             f"{'ok' if r['succeeded'] else 'FAILED'}  ${r['cost_usd']:.3f}  [{r['phase']}]"
             for i, r in enumerate(out["runs"])]
    o = out["oracle"]
    lines.append(f"final {out['final']['workers']}×{out['final']['node_type']}: ${out['final_cost_usd']:.3f}, "
                 f"{out['final_runtime_s']:.0f}s, meets SLA: {out['final_meets_sla']}")
    if o:
        lines.append(f"oracle {o['workers']}×{o['node_type']}: ${o['cost_usd']:.3f}; regret {out['regret']:.1%}")
    else:
        lines.append("no grid row meets the SLA")
    _emit(out, as_json, "\n".join(lines))


@app.command("simulate")
def simulate_cmd(
    profile: str = typer.Option(..., "--profile", help="simulator profile name or path"),
    runs: int = typer.Option(10, "--runs", help="total runs including the baseline"),
    sla_minutes: float = typer.Option(..., "--sla-minutes", help="runtime SLA in minutes"),
    seeds: int = typer.Option(5, "--seeds", help="number of seeds (0..S-1)"),
    strategy: str = typer.Option("gradient", "--strategy", help="gradient | random | bo"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Benchmark a strategy over the simulator's job model (noise, drift, spot, OOM) with its oracle."""
    _single_thread_blas()
    from airflow_provider_gradient.bench.grid import GridError
    from airflow_provider_gradient.bench.simulate import SimulatorUnavailable, simulate_bench

    try:
        out = simulate_bench(profile, runs=runs, sla_minutes=sla_minutes, seeds=seeds, strategy=strategy)
    except SimulatorUnavailable as exc:
        _fail(exc, 1)
        return
    except (GridError, ValueError) as exc:
        _fail(exc)
        return
    s = out["summary"]
    med = "n/a" if s["median_regret"] is None else f"{s['median_regret']:.1%}"
    p90 = "n/a" if s["p90_regret"] is None else f"{s['p90_regret']:.1%}"
    _emit(out, as_json, f"{profile} {strategy}: median regret {med}, p90 {p90}, "
                        f"SLA violations after learning {s['sla_violation_rate']:.1%}, "
                        f"repeated memory failures {s['repeated_memory_failures']}")


@app.command("suite")
def suite_cmd(
    seeds: int = typer.Option(5, "--seeds", help="seeds per profile and SLA"),
    budget: int = typer.Option(10, "--budget", help="runs per replay including the baseline"),
    source: str = typer.Option("simulator", "--source", help="simulator | c3o | scout | c3o-growing"),
    data_dir: str = typer.Option("../shared/datasets", "--data-dir", help="folder with c3o/ and scout-hadoop/"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Jobs × baselines × seeds × SLA (1.0×, 1.5× baseline runtime) for gradient, bo and random: one table."""
    _single_thread_blas()
    from airflow_provider_gradient.bench.suite import format_table, run_suite

    try:
        out = run_suite(seeds=seeds, budget=budget, source=source, data_dir=data_dir)
    except ValueError as exc:  # GridError included
        _fail(exc)
        return
    _emit(out, as_json, format_table(out))
