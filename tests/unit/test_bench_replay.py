"""``gradient bench replay``: the contract, end to end through the CLI, on a tiny generated grid."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from airflow_provider_gradient.bench.grid import GridError, load_catalog_json, load_grid_csv
from airflow_provider_gradient.bench.replay import replay
from airflow_provider_gradient.cli import app

CATALOG = {
    "dbu_usd": 0.15,
    "node_types": [
        {"name": "c5.xlarge", "vcpus": 4, "memory_gb": 8, "hourly_usd": 0.17, "dbu_per_hour": 0.61},
        {"name": "m5.xlarge", "vcpus": 4, "memory_gb": 16, "hourly_usd": 0.192, "dbu_per_hour": 0.69},
        {"name": "r5.xlarge", "vcpus": 4, "memory_gb": 32, "hourly_usd": 0.252, "dbu_per_hour": 0.9},
    ],
}
SPEED = {"c5.xlarge": 0.9, "m5.xlarge": 1.0, "r5.xlarge": 0.95}


def _write(tmp_path: Path) -> tuple[Path, Path]:
    """A 3×5 grid: Amdahl scaling, c5 runs out of memory below 8 workers, a non-monotone bump at 12."""
    grid = tmp_path / "grid.csv"
    with grid.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["node_type", "workers", "runtime_s", "succeeded", "note"])
        for node, speed in SPEED.items():
            for n in (2, 4, 8, 12, 16):
                rt = speed * (120 + 24000 / (4 * n)) * (1.08 if n == 12 else 1.0)
                ok = not (node == "c5.xlarge" and n < 8)
                w.writerow([node, n, f"{rt if ok else rt * 0.3:.1f}", "true" if ok else "false", "x"])
    cat = tmp_path / "catalog.json"
    cat.write_text(json.dumps(CATALOG))
    return grid, cat


def _cost(node: str, w: int, rt: float) -> float:
    n = next(x for x in CATALOG["node_types"] if x["name"] == node)  # type: ignore[index]
    return rt / 3600 * w * (n["hourly_usd"] + n["dbu_per_hour"] * CATALOG["dbu_usd"])  # type: ignore[operator]


@pytest.mark.parametrize("strategy", ["gradient", "bo", "random"])
def test_replay_cli_follows_the_contract(tmp_path: Path, strategy: str) -> None:
    grid, cat = _write(tmp_path)
    res = CliRunner().invoke(app, ["bench", "replay", "--grid", str(grid), "--catalog", str(cat), "--baseline",
                                   "m5.xlarge:8", "--sla-minutes", "12", "--budget", "5", "--seed", "1",
                                   "--strategy", strategy, "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    rows = {(r.node_type, r.workers): r for r in load_grid_csv(grid)}
    assert len(out["runs"]) == 5
    assert (out["runs"][0]["node_type"], out["runs"][0]["workers"]) == ("m5.xlarge", 8)
    for r in out["runs"]:
        g = rows[(r["node_type"], r["workers"])]
        assert r["runtime_s"] == g.runtime_s and r["succeeded"] == g.succeeded
        assert r["cost_usd"] == pytest.approx(_cost(g.node_type, g.workers, g.runtime_s))
        assert r["phase"]
    feas = [(_cost(k[0], k[1], r.runtime_s), k) for k, r in rows.items() if r.succeeded and r.runtime_s <= 720]
    oc, ok_key = min(feas)
    assert (out["oracle"]["node_type"], out["oracle"]["workers"]) == ok_key
    assert out["oracle"]["cost_usd"] == pytest.approx(oc)
    f = rows[(out["final"]["node_type"], out["final"]["workers"])]
    assert out["final_meets_sla"] == (f.succeeded and f.runtime_s <= 720)
    assert out["final_cost_usd"] == pytest.approx(_cost(f.node_type, f.workers, f.runtime_s))
    assert out["regret"] == pytest.approx(out["final_cost_usd"] / oc - 1)
    assert out["failures"] == sum(1 for r in out["runs"] if not r["succeeded"])
    assert out["search_cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in out["runs"]))
    assert 0 <= out["sla_violations_after_learning"] <= len(out["runs"])


def test_gradient_finds_a_good_shape_without_repeating_memory_failures(tmp_path: Path) -> None:
    grid, cat = _write(tmp_path)
    out = replay(load_grid_csv(grid), load_catalog_json(cat), ("m5.xlarge", 8), 12.0, 8)
    assert out["final_meets_sla"]
    assert out["regret"] <= 0.15
    assert out["repeated_memory_failures"] == 0


def test_no_row_meets_the_sla_is_reported_honestly(tmp_path: Path) -> None:
    grid, cat = _write(tmp_path)
    out = replay(load_grid_csv(grid), load_catalog_json(cat), ("m5.xlarge", 8), 1.0, 5)
    assert out["oracle"] is None and out["regret"] is None
    assert out["final_meets_sla"] is False


def test_bad_input_exits_2_with_a_named_error(tmp_path: Path) -> None:
    grid, cat = _write(tmp_path)
    r = CliRunner().invoke(app, ["bench", "replay", "--grid", str(grid), "--catalog", str(cat), "--baseline",
                                 "x1.huge:8", "--sla-minutes", "12", "--json"])
    assert r.exit_code == 2
    assert "error: GridError:" in r.stderr and "x1.huge:8" in r.stderr
    r = CliRunner().invoke(app, ["bench", "replay", "--grid", str(tmp_path / "missing.csv"), "--catalog", str(cat),
                                 "--baseline", "m5.xlarge:8", "--sla-minutes", "12"])
    assert r.exit_code == 2 and "missing.csv" in r.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("node_type,workers\nm5.xlarge,2\n")
    with pytest.raises(GridError, match="columns"):
        load_grid_csv(bad)
    (tmp_path / "cat.json").write_text("{\"node_types\": []}")
    with pytest.raises(GridError, match="dbu_usd"):
        load_catalog_json(tmp_path / "cat.json")
