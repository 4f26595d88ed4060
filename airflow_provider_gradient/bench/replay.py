"""Replay a strategy on a recorded grid (the ``gradient bench replay`` contract).

Run 1 is the baseline; runs 2..N are chosen by the strategy and replay the grid row (runtime, outcome; a failed
row costs its runtime until failure); then the strategy's final recommendation is scored against the oracle
(the cheapest successful row within the SLA).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_gradient.bench.grid import Catalog, GridError, GridRow, grid_space, oracle
from airflow_provider_gradient.bench.strategies import (
    STRATEGIES,
    BOStrategy,
    GradientStrategy,
    RandomStrategy,
    Strategy,
)
from airflow_provider_gradient.core.optimizer import OptimizerSettings

#: Runs counted as "learning" for strategies that do not say (baseline + 3).
DEFAULT_LEARNING_RUNS = 4


def make_strategy(name: str, rows: Sequence[GridRow], catalog: Catalog, baseline: tuple[str, int], sla_s: float,
                  seed: int, settings: OptimizerSettings | None = None) -> Strategy:
    """Build the strategy called ``name`` (``gradient``, ``bo`` or ``random``)."""
    if name == "gradient":
        return GradientStrategy(grid_space(list(rows), catalog), sla_s, baseline, settings)
    if name == "bo":
        return BOStrategy(rows, catalog, sla_s, seed)
    if name == "random":
        return RandomStrategy(rows, catalog, sla_s, seed)
    raise GridError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


def _dominated(a: GridRow, b: GridRow, catalog: Catalog) -> bool:
    """True when ``a`` has no more memory per core and no more total memory than ``b``."""
    na, nb = catalog.nodes[a.node_type], catalog.nodes[b.node_type]
    return (na.memory_gb / na.vcpus <= nb.memory_gb / nb.vcpus + 1e-9
            and a.workers * na.memory_gb <= b.workers * nb.memory_gb + 1e-9)


def replay(
    rows: Sequence[GridRow],
    catalog: Catalog,
    baseline: tuple[str, int],
    sla_minutes: float,
    budget: int,
    *,
    strategy: str = "gradient",
    seed: int = 0,
    settings: OptimizerSettings | None = None,
) -> dict[str, Any]:
    """Replay ``strategy`` on the grid; return the contract's JSON-able result.

    :param rows: grid rows (the search space).
    :param catalog: prices.
    :param baseline: (node_type, workers) of run 1 (must be a grid row).
    :param sla_minutes: SLA.
    :param budget: total runs including the baseline (≥ 1).
    :param strategy: ``gradient``, ``bo`` or ``random``.
    :param seed: RNG seed (random/bo; gradient is deterministic).
    :param settings: optimiser settings for ``gradient``.
    """
    if budget < 1:
        raise GridError(f"budget must be >= 1, got {budget}")
    if sla_minutes <= 0:
        raise GridError(f"sla-minutes must be > 0, got {sla_minutes}")
    by_key = {(r.node_type, r.workers): r for r in rows}
    if baseline not in by_key:
        raise GridError(f"baseline {baseline[0]}:{baseline[1]} is not a row of the grid")
    missing = sorted({r.node_type for r in rows} - set(catalog.nodes))
    if missing:
        raise GridError(f"grid node types missing from the catalog: {missing}")
    sla_s = sla_minutes * 60.0
    strat = make_strategy(strategy, rows, catalog, baseline, sla_s, seed, settings)
    done: list[GridRow] = [by_key[baseline]]
    phases = ["learning"]
    while len(done) < budget:
        node, w, phase = strat.next(done)
        row = by_key.get((node, w))
        if row is None:
            raise GridError(f"strategy {strategy} chose {node}:{w}, which is not a grid row")
        done.append(row)
        phases.append(phase)
    fnode, fw = strat.final(done)
    frow = by_key.get((fnode, fw))
    if frow is None:
        raise GridError(f"strategy {strategy} recommended {fnode}:{fw}, which is not a grid row")
    cost = [catalog.cost_usd(r.node_type, r.workers, r.runtime_s) for r in done]
    runs = [
        {"node_type": r.node_type, "workers": r.workers, "runtime_s": r.runtime_s, "succeeded": r.succeeded,
         "cost_usd": c, "phase": p}
        for r, c, p in zip(done, cost, phases, strict=True)
    ]
    learning_n = sum(1 for p in phases if p == "learning") if strategy == "gradient" else DEFAULT_LEARNING_RUNS
    after = done[learning_n:]
    violations = sum(1 for r in after if (not r.succeeded) or r.runtime_s > sla_s)
    repeated = 0
    ooms: list[GridRow] = []
    for r in done:
        if not r.succeeded and r.failure_kind == "oom":
            if any(_dominated(r, f, catalog) for f in ooms):
                repeated += 1
            ooms.append(r)
    f_cost = catalog.cost_usd(frow.node_type, frow.workers, frow.runtime_s)
    meets = frow.succeeded and frow.runtime_s <= sla_s
    orc = oracle(list(rows), catalog, sla_s)
    out: dict[str, Any] = {
        "strategy": strategy,
        "baseline": {"node_type": baseline[0], "workers": baseline[1]},
        "sla_minutes": sla_minutes,
        "budget": budget,
        "seed": seed,
        "runs": runs,
        "final": {"node_type": frow.node_type, "workers": frow.workers},
        "final_cost_usd": f_cost,
        "final_runtime_s": frow.runtime_s,
        "final_meets_sla": meets,
        "oracle": None,
        "regret": None,
        "failures": sum(1 for r in done if not r.succeeded),
        "repeated_memory_failures": repeated,
        "sla_violations_after_learning": violations,
        "runs_after_learning": len(after),
        "search_cost_usd": sum(cost),
    }
    if orc is not None:
        orow, ocost = orc
        out["oracle"] = {"node_type": orow.node_type, "workers": orow.workers, "cost_usd": ocost,
                         "runtime_s": orow.runtime_s}
        out["regret"] = f_cost / ocost - 1.0
    return out
