"""The side-by-side suite: every simulator profile × seeds × SLA (1.0×, 1.5× the baseline's runtime), budget N,
for ``gradient``, ``bo`` and ``random`` on the same grids in one run; plus summary statistics and a table.

Scoring: ``regret`` is ``final_cost / oracle_cost − 1``; a final recommendation that misses the SLA (or
fails) is scored as ``max(regret, 1.0)`` (a 100 % penalty), so a cheap-but-too-slow answer never looks good.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from airflow_provider_gradient.bench.replay import replay
from airflow_provider_gradient.bench.strategies import STRATEGIES

SLA_FACTORS: tuple[float, ...] = (1.0, 1.5)
MISS_PENALTY = 1.0


def scored_regret(result: dict[str, Any]) -> float | None:
    """Regret with the SLA-miss penalty (None when no grid row meets the SLA)."""
    if result.get("regret") is None:
        return None
    r = float(result["regret"])
    return r if result["final_meets_sla"] else max(r, MISS_PENALTY)


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median/p90/mean scored regret, SLA-violation rate after learning, failures, repeated memory failures."""
    regs = np.array([r for r in (scored_regret(x) for x in results) if r is not None], dtype=float)
    after = sum(int(x["runs_after_learning"]) for x in results)
    viol = sum(int(x["sla_violations_after_learning"]) for x in results)
    return {
        "cases": len(results),
        "median_regret": float(np.median(regs)) if regs.size else None,
        "p90_regret": float(np.percentile(regs, 90)) if regs.size else None,
        "mean_regret": float(regs.mean()) if regs.size else None,
        "final_misses": sum(1 for x in results if x.get("oracle") and not x["final_meets_sla"]),
        "sla_violations_after_learning": viol,
        "runs_after_learning": after,
        "sla_violation_rate": viol / after if after else 0.0,
        "failures": sum(int(x["failures"]) for x in results),
        "repeated_memory_failures": sum(int(x["repeated_memory_failures"]) for x in results),
        "search_cost_usd": float(sum(float(x["search_cost_usd"]) for x in results)),
    }


def run_suite(
    *,
    seeds: int = 5,
    budget: int = 10,
    profiles: Sequence[str] | None = None,
    strategies: Sequence[str] = STRATEGIES,
    sla_factors: Sequence[float] = SLA_FACTORS,
    source: str = "auto",
) -> dict[str, Any]:
    """Run the suite; return per-case results and summaries per (profile, strategy) and overall.

    :param seeds: seeds per profile (grids are measured per seed).
    :param budget: runs per replay, including the baseline.
    :param profiles: simulator profiles (default: all shipped).
    :param strategies: strategies to compare.
    :param sla_factors: SLA as multiples of the baseline's measured runtime.
    :param source: ``simulator`` / ``auto`` (grids from the simulator's job models).
    """
    if source not in ("auto", "simulator"):
        raise ValueError(f"--source must be 'simulator' or 'auto', got {source!r}")
    if seeds < 1 or budget < 1:
        raise ValueError("seeds and budget must be >= 1")
    from airflow_provider_gradient.bench.simgrid import build_sim_grid, price_catalog
    from airflow_provider_gradient.simulator.profiles import list_profiles

    names = list(profiles or list_profiles())
    cat = price_catalog()
    cases: list[dict[str, Any]] = []
    for prof in names:
        for seed in range(seeds):
            g = build_sim_grid(prof, seed, catalog=cat)
            base_row = g.row(*g.baseline)
            if not base_row.succeeded:
                continue
            for f in sla_factors:
                sla_min = f * base_row.runtime_s / 60.0
                for strat in strategies:
                    res = replay(g.rows, g.catalog, g.baseline, sla_min, budget, strategy=strat, seed=seed)
                    res["profile"], res["sla_factor"] = prof, f
                    res["scored_regret"] = scored_regret(res)
                    cases.append(res)
    table: dict[str, dict[str, Any]] = {}
    for prof in names + ["overall"]:
        for strat in strategies:
            sel = [c for c in cases if c["strategy"] == strat and (prof == "overall" or c["profile"] == prof)]
            table.setdefault(prof, {})[strat] = summarize(sel)
    return {"budget": budget, "seeds": seeds, "sla_factors": list(sla_factors), "strategies": list(strategies),
            "profiles": names, "summary": table, "cases": cases}


def _pct(x: float | None) -> str:
    return "   n/a" if x is None else f"{x * 100:5.1f}%"


def format_table(out: dict[str, Any]) -> str:
    """The suite's table: one line per (profile, strategy)."""
    head = (f"{'profile':<20} {'strategy':<9} {'median':>7} {'p90':>7} {'mean':>7} {'SLAviol':>8} "
            f"{'misses':>6} {'fail':>5} {'memrep':>6} {'search$':>9}")
    lines = [f"budget {out['budget']}, seeds {out['seeds']}, SLA × {out['sla_factors']} of baseline runtime; "
             f"regret = final/oracle − 1 (final missing the SLA scored ≥ 100 %)", head, "-" * len(head)]
    for prof, per in out["summary"].items():
        if prof == "overall":
            lines.append("-" * len(head))
        for strat, s in per.items():
            lines.append(
                f"{prof:<20} {strat:<9} {_pct(s['median_regret']):>7} {_pct(s['p90_regret']):>7} "
                f"{_pct(s['mean_regret']):>7} {_pct(s['sla_violation_rate']):>8} {s['final_misses']:>6} "
                f"{s['failures']:>5} {s['repeated_memory_failures']:>6} {s['search_cost_usd']:>9.2f}"
            )
    return "\n".join(lines)
