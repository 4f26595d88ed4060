"""The side-by-side suites: ``gradient``, ``bo`` and ``random`` on the same grids in one run.

Suites: ``simulator`` (every simulator profile × seeds, grids of 5 noisy repetitions per cell), ``c3o`` and
``scout`` (real measured runs, see :mod:`.datasets`) and ``c3o-growing`` (C3O with the input growing over the
runs). Every case is replayed at SLA = 1.0× and 1.5× the baseline's median runtime (at the last input size),
from several baselines, with budget N and ≥ 5 seeds (the seed draws the repetitions).

Scoring: ``regret`` is ``final_cost / oracle_cost − 1`` on medians (noise-aware; on the simulator grids, on each
cell's noise-free runtime, which the simulator knows); a final recommendation that
misses the SLA (or fails) is scored as ``max(regret, 1.0)`` (a 100 % penalty), so a cheap-but-too-slow answer
never looks good.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from airflow_provider_gradient.bench.grid import Catalog, GridRow, configs
from airflow_provider_gradient.bench.replay import replay
from airflow_provider_gradient.bench.strategies import STRATEGIES

SLA_FACTORS: tuple[float, ...] = (1.0, 1.5)
MISS_PENALTY = 1.0
SUITES: tuple[str, ...] = ("simulator", "c3o", "scout", "c3o-growing")
#: A final within this share of the oracle's cost counts as "near the oracle".
NEAR_ORACLE = 0.05


def scored_regret(result: dict[str, Any]) -> float | None:
    """Regret with the SLA-miss penalty (None when no grid row meets the SLA)."""
    if result.get("regret") is None:
        return None
    r = float(result["regret"])
    return r if result["final_meets_sla"] else max(r, MISS_PENALTY)


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median/p90/mean scored regret, share near the oracle, SLA-violation rates after learning, failures,
    repeated failures and cluster changes per 10 runs after learning."""
    regs = np.array([r for r in (scored_regret(x) for x in results) if r is not None], dtype=float)
    after = sum(int(x["runs_after_learning"]) for x in results)
    viol = sum(int(x["sla_violations_after_learning"]) for x in results)
    obs = sum(int(x.get("observed_sla_violations_after_learning", x["sla_violations_after_learning"]))
              for x in results)
    changes = sum(int(x.get("cluster_changes_after_learning", 0)) for x in results)
    return {
        "cases": len(results),
        "median_regret": float(np.median(regs)) if regs.size else None,
        "p90_regret": float(np.percentile(regs, 90)) if regs.size else None,
        "mean_regret": float(regs.mean()) if regs.size else None,
        "near_oracle": float((regs <= NEAR_ORACLE + 1e-12).mean()) if regs.size else None,
        "final_misses": sum(1 for x in results if x.get("oracle") and not x["final_meets_sla"]),
        "sla_violations_after_learning": viol,
        "runs_after_learning": after,
        "sla_violation_rate": viol / after if after else 0.0,
        "observed_violation_rate": obs / after if after else 0.0,
        "failures": sum(int(x["failures"]) for x in results),
        "repeated_failures": sum(int(x.get("repeated_failures", 0)) for x in results),
        "repeated_memory_failures": sum(int(x["repeated_memory_failures"]) for x in results),
        "changes_per_10": 10.0 * changes / after if after else 0.0,
        "search_cost_usd": float(sum(float(x["search_cost_usd"]) for x in results)),
    }


def _job_cases(source: str, seeds: int, budget: int, profiles: Sequence[str] | None,
               data_dir: Path | None) -> list[tuple[str, tuple[GridRow, ...], Catalog, tuple[str, int],
                                                    list[float] | None, int]]:
    """(job, rows, catalog, baseline, input sizes, seed) of a suite."""
    out: list[tuple[str, tuple[GridRow, ...], Catalog, tuple[str, int], list[float] | None, int]] = []
    if source == "simulator":
        from airflow_provider_gradient.bench.simgrid import build_sim_grid, price_catalog
        from airflow_provider_gradient.simulator.profiles import list_profiles

        cat = price_catalog()
        for prof in list(profiles or list_profiles()):
            for seed in range(seeds):
                g = build_sim_grid(prof, seed, catalog=cat)
                if g.config(*g.baseline).succeeded:
                    out.append((prof, g.rows, g.catalog, g.baseline, None, seed))
        return out
    from airflow_provider_gradient.bench.datasets import (
        GEN4_CATALOG,
        c3o_cases,
        c3o_growing_cases,
        rising_schedule,
        scout_cases,
    )

    root = data_dir or Path("../shared/datasets")
    if source == "c3o":
        cases = c3o_cases(root / "c3o")
    elif source == "c3o-growing":
        cases = c3o_growing_cases(root / "c3o")
    elif source == "scout":
        cases = scout_cases(root / "scout-hadoop" / "runs.csv")
    else:
        raise ValueError(f"unknown suite {source!r}; expected one of {', '.join(SUITES)}")
    for case in cases:
        if profiles and case.job not in profiles:
            continue
        sizes = rising_schedule(case.input_sizes, budget) if case.input_sizes else None
        for b in case.baselines:
            for seed in range(seeds):
                out.append((case.job, case.rows, GEN4_CATALOG, b, sizes, seed))
    return out


#: Bins of predicted P(meets SLA) for the calibration table.
CALIBRATION_BINS: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97, 1.0001)


def calibration(results: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """Predicted P(meets SLA) of untried shapes at the end of learning vs the observed rate, per bin."""
    pts = [(float(p), bool(m)) for x in results for p, m in x.get("calibration", [])]
    out = []
    for lo, hi in zip(CALIBRATION_BINS[:-1], CALIBRATION_BINS[1:], strict=True):
        sel = [(p, m) for p, m in pts if lo <= p < hi]
        if sel:
            out.append({"lo": lo, "hi": min(hi, 1.0), "n": float(len(sel)),
                        "predicted": sum(p for p, _ in sel) / len(sel),
                        "observed": sum(1 for _, m in sel if m) / len(sel)})
    return out


def format_calibration(out: dict[str, Any], strategy: str = "gradient") -> str:
    """The calibration table of ``strategy`` (the model's P(meets SLA) against the observed rate)."""
    rows = calibration([c for c in out["cases"] if c["strategy"] == strategy])
    if not rows:
        return ""
    lines = [f"calibration of {strategy}'s P(typical runtime meets SLA) for untried shapes at the end of learning:",
             f"{'P bin':>11} {'n':>6} {'predicted':>10} {'observed':>9}"]
    lines += [f"{r['lo']:.2f}-{r['hi']:.2f} {int(r['n']):>6} {r['predicted']:>10.2f} {r['observed']:>9.2f}"
              for r in rows]
    return "\n".join(lines)


def run_suite(
    *,
    seeds: int = 5,
    budget: int = 10,
    profiles: Sequence[str] | None = None,
    strategies: Sequence[str] = STRATEGIES,
    sla_factors: Sequence[float] = SLA_FACTORS,
    source: str = "simulator",
    data_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run one suite; return per-case results and summaries per (job, strategy) and overall.

    :param seeds: seeds per job and baseline.
    :param budget: runs per replay, including the baseline.
    :param profiles: only these jobs (simulator profiles / data-set job names); default all.
    :param strategies: strategies to compare.
    :param sla_factors: SLA as multiples of the baseline's median runtime (at the last input size).
    :param source: ``simulator`` (``auto`` is an alias), ``c3o``, ``scout`` or ``c3o-growing``.
    :param data_dir: folder holding ``c3o/`` and ``scout-hadoop/`` (default ``../shared/datasets``).
    """
    if source == "auto":
        source = "simulator"
    if source not in SUITES:
        raise ValueError(f"--source must be one of {', '.join(SUITES)}, got {source!r}")
    if seeds < 1 or budget < 1:
        raise ValueError("seeds and budget must be >= 1")
    jobs = _job_cases(source, seeds, budget, profiles, Path(data_dir) if data_dir else None)
    cases: list[dict[str, Any]] = []
    for job, rows, cat, base, sizes, seed in jobs:
        last = sizes[-1] if sizes else next(iter({r.input_size for r in rows}))
        base_cfg = configs(rows).get((base[0], base[1], last))
        if base_cfg is None or not base_cfg.succeeded:
            continue
        for f in sla_factors:
            sla_min = f * base_cfg.runtime_s / 60.0
            for strat in strategies:
                res = replay(rows, cat, base, sla_min, budget, strategy=strat, seed=seed, input_sizes=sizes)
                res["profile"], res["sla_factor"], res["suite"] = job, f, source
                res["scored_regret"] = scored_regret(res)
                cases.append(res)
    names = list(dict.fromkeys(c["profile"] for c in cases))
    table: dict[str, dict[str, Any]] = {}
    for prof in names + ["overall"]:
        for strat in strategies:
            sel = [c for c in cases if c["strategy"] == strat and (prof == "overall" or c["profile"] == prof)]
            table.setdefault(prof, {})[strat] = summarize(sel)
    return {"suite": source, "budget": budget, "seeds": seeds, "sla_factors": list(sla_factors),
            "strategies": list(strategies), "profiles": names, "summary": table, "cases": cases}


def _pct(x: float | None) -> str:
    return "   n/a" if x is None else f"{x * 100:5.1f}%"


def format_table(out: dict[str, Any]) -> str:
    """The suite's table: one line per (job, strategy)."""
    w = max([20] + [len(p) for p in out["summary"]])
    head = (f"{'job':<{w}} {'strategy':<9} {'median':>7} {'p90':>7} {'mean':>7} {'≤5%':>6} {'SLAviol':>8} "
            f"{'obsviol':>8} {'misses':>6} {'fail':>5} {'repfail':>7} {'chg/10':>6} {'search$':>9}")
    lines = [f"suite {out.get('suite', 'simulator')}: budget {out['budget']}, seeds {out['seeds']}, SLA × "
             f"{out['sla_factors']} of the baseline's median runtime; regret = final/oracle − 1 on medians "
             f"(a final missing the SLA scored ≥ 100 %)", head, "-" * len(head)]
    for prof, per in out["summary"].items():
        if prof == "overall":
            lines.append("-" * len(head))
        for strat, s in per.items():
            lines.append(
                f"{prof:<{w}} {strat:<9} {_pct(s['median_regret']):>7} {_pct(s['p90_regret']):>7} "
                f"{_pct(s['mean_regret']):>7} {_pct(s['near_oracle']):>6} {_pct(s['sla_violation_rate']):>8} "
                f"{_pct(s['observed_violation_rate']):>8} {s['final_misses']:>6} {s['failures']:>5} "
                f"{s['repeated_failures']:>7} {s['changes_per_10']:>6.1f} {s['search_cost_usd']:>9.2f}"
            )
    return "\n".join(lines)
