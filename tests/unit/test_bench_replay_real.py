"""The replay contract's extensions: repetitions drawn by seed, failures of unknown cause, input sizes; and the
real-data suites (C3O, Scout) read from ``../shared/datasets`` when it is there."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airflow_provider_gradient.bench.grid import (
    GridError,
    GridRow,
    configs,
    load_catalog_json,
    load_grid_csv,
    oracle,
)
from airflow_provider_gradient.bench.replay import replay, size_schedule
from airflow_provider_gradient.cli import app

CATALOG = {
    "dbu_usd": 0.15,
    "node_types": [
        {"name": "m5.xlarge", "vcpus": 4, "memory_gb": 16, "hourly_usd": 0.192, "dbu_per_hour": 0.69},
        {"name": "r5.xlarge", "vcpus": 4, "memory_gb": 32, "hourly_usd": 0.252, "dbu_per_hour": 0.9},
    ],
}
DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def _write(tmp_path: Path, rows: list[list[object]], header: list[str]) -> tuple[Path, Path]:
    grid = tmp_path / "grid.csv"
    with grid.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps(CATALOG))
    return grid, cat


def _rep_grid(tmp_path: Path) -> tuple[Path, Path]:
    rows: list[list[object]] = []
    for node, speed in (("m5.xlarge", 1.0), ("r5.xlarge", 0.9)):
        for n in (2, 4, 8):
            base = speed * (60 + 9600 / n)
            for k, f in enumerate((0.97, 1.0, 1.03, 1.6, 0.99)):  # one slow outlier per configuration
                rows.append([node, n, round(base * f, 3), "true", k])
    return _write(tmp_path, rows, ["node_type", "workers", "runtime_s", "succeeded", "rep"])


def test_repetitions_are_kept_and_judged_by_their_median(tmp_path: Path) -> None:
    grid, cat = _rep_grid(tmp_path)
    rows = load_grid_csv(grid)
    assert len(rows) == 30
    cfg = configs(rows)[("m5.xlarge", 4, None)]
    assert len(cfg.rows) == 5 and cfg.succeeded
    assert cfg.runtime_s == pytest.approx(1.0 * (60 + 2400))  # the median, not the outlier-pulled mean
    found = oracle(rows, load_catalog_json(cat), 10_000.0)
    assert found is not None and found[0].runtime_s == pytest.approx(configs(rows)[(found[0].node_type,
                                                                                   found[0].workers, None)].runtime_s)


@pytest.mark.parametrize("strategy", ["gradient", "bo", "random"])
def test_each_run_draws_one_repetition_by_seed(tmp_path: Path, strategy: str) -> None:
    grid, cat = _rep_grid(tmp_path)
    rows, catalog = load_grid_csv(grid), load_catalog_json(cat)
    by_cfg: dict[tuple[str, int], set[float]] = {}
    for r in rows:
        by_cfg.setdefault(r.key, set()).add(r.runtime_s)
    outs = [replay(rows, catalog, ("m5.xlarge", 4), 45.0, 6, strategy=strategy, seed=s) for s in range(6)]
    for out in outs:
        for run in out["runs"]:
            assert run["runtime_s"] in by_cfg[(run["node_type"], run["workers"])]
        # the final is scored on the median of its configuration, whatever was drawn
        f = configs(rows)[(out["final"]["node_type"], out["final"]["workers"], None)]
        assert out["final_runtime_s"] == pytest.approx(f.runtime_s)
    again = replay(rows, catalog, ("m5.xlarge", 4), 45.0, 6, strategy=strategy, seed=3)
    assert again["runs"] == outs[3]["runs"], "same seed, same draws"
    baselines = {out["runs"][0]["runtime_s"] for out in outs}
    assert len(baselines) > 1, "different seeds draw different repetitions of the baseline"


def test_failures_without_a_kind_are_unknown_and_never_repeated(tmp_path: Path) -> None:
    rows: list[list[object]] = []
    for node in ("m5.xlarge", "r5.xlarge"):
        for n in (2, 4, 6, 8, 12, 16):
            ok = not (node == "m5.xlarge" and n <= 4)
            rows.append([node, n, 60 + 9600 / n if ok else 7200, "true" if ok else "false"])
    grid, cat = _write(tmp_path, rows, ["node_type", "workers", "runtime_s", "succeeded"])
    loaded = load_grid_csv(grid)
    assert all(r.failure_kind is None for r in loaded if not r.succeeded), "no kind in the CSV: unknown cause"
    for strategy in ("gradient",):
        for base in (("m5.xlarge", 4), ("m5.xlarge", 8)):
            out = replay(loaded, load_catalog_json(cat), base, 40.0, 10, strategy=strategy)
            assert out["repeated_failures"] == 0
            keys = [(r["node_type"], r["workers"]) for r in out["runs"] if not r["succeeded"]]
            assert len(keys) == len(set(keys))
            assert out["final_meets_sla"]


def test_bad_failure_kind_and_mixed_sizes_are_named(tmp_path: Path) -> None:
    grid, _ = _write(tmp_path, [["m5.xlarge", 2, 10, "false", "memory"]],
                     ["node_type", "workers", "runtime_s", "succeeded", "failure_kind"])
    with pytest.raises(GridError, match="failure_kind"):
        load_grid_csv(grid)
    grid, _ = _write(tmp_path, [["m5.xlarge", 2, 10, "true", "5"], ["m5.xlarge", 4, 10, "true", ""]],
                     ["node_type", "workers", "runtime_s", "succeeded", "input_size"])
    with pytest.raises(GridError, match="input_size"):
        load_grid_csv(grid)


def _size_grid(tmp_path: Path) -> tuple[Path, Path]:
    rows: list[list[object]] = []
    for size in (10, 20, 40):
        for node, speed in (("m5.xlarge", 1.0), ("r5.xlarge", 0.85)):
            for n in (2, 4, 8, 16):
                rows.append([node, n, round(speed * (30 + 100 * size / n), 2), "true", size])
    return _write(tmp_path, rows, ["node_type", "workers", "runtime_s", "succeeded", "input_size"])


def test_input_size_schedule_draws_each_run_at_its_size(tmp_path: Path) -> None:
    grid, cat = _size_grid(tmp_path)
    rows, catalog = load_grid_csv(grid), load_catalog_json(cat)
    assert size_schedule(rows, [10, 20, 40], 5) == [10, 20, 40, 40, 40]
    with pytest.raises(GridError, match="several input sizes"):
        replay(rows, catalog, ("m5.xlarge", 4), 20.0, 5)
    with pytest.raises(GridError, match="not in the grid"):
        replay(rows, catalog, ("m5.xlarge", 4), 20.0, 5, input_sizes=[10, 30])
    out = replay(rows, catalog, ("m5.xlarge", 4), 20.0, 6, input_sizes=[10, 20, 40])
    assert [r["input_size"] for r in out["runs"]] == [10, 20, 40, 40, 40, 40]
    for r in out["runs"]:
        assert r["runtime_s"] == configs(rows)[(r["node_type"], r["workers"], r["input_size"])].runtime_s
    assert out["final"]["input_size"] == 40
    orc = oracle(rows, catalog, 20.0 * 60, 40.0)
    assert orc is not None and out["oracle"]["cost_usd"] == pytest.approx(orc[1])
    res = CliRunner().invoke(app, ["bench", "replay", "--grid", str(grid), "--catalog", str(cat), "--baseline",
                                   "m5.xlarge:4", "--sla-minutes", "20", "--budget", "6",
                                   "--input-sizes", "10,20,40", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["final"]["input_size"] == 40


def test_gradient_sizes_the_final_for_the_grown_input(tmp_path: Path) -> None:
    grid, cat = _size_grid(tmp_path)
    rows, catalog = load_grid_csv(grid), load_catalog_json(cat)
    out = replay(rows, catalog, ("m5.xlarge", 8), 15.0, 10, input_sizes=[10, 10, 20, 20, 40])
    assert out["final_meets_sla"], out["final"]
    assert out["regret"] is not None and out["regret"] <= 0.25


@pytest.mark.skipif(not (DATASETS / "c3o").is_dir(), reason="../shared/datasets not present")
def test_real_suites_load_from_the_shared_datasets() -> None:
    from airflow_provider_gradient.bench.datasets import c3o_cases, c3o_growing_cases, scout_cases

    c3o = c3o_cases(DATASETS / "c3o")
    assert len(c3o) == 15 and all(c.baselines for c in c3o)
    assert all(len(cfg.rows) == 5 for c in c3o for cfg in configs(c.rows).values())
    grow = c3o_growing_cases(DATASETS / "c3o")
    assert all(c.input_sizes and len(c.input_sizes) >= 3 for c in grow)
    scout = scout_cases(DATASETS / "scout-hadoop" / "runs.csv")
    assert len(scout) == 6 and all(len(c.rows) == 39 for c in scout)
    assert sum(1 for c in scout for r in c.rows if not r.succeeded) == 7
    assert all(r.failure_kind is None for c in scout for r in c.rows)


def test_grid_row_key() -> None:
    assert GridRow("m5.xlarge", 4, 1.0, True).key == ("m5.xlarge", 4)
