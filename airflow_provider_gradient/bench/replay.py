"""Replay a strategy on a recorded grid (the ``gradient bench replay`` contract).

Run 1 is the baseline; runs 2..N are chosen by the strategy. Each run of a configuration draws one of its
rows (repetitions) with the seed and replays it (runtime, outcome; a failed row costs its runtime until
failure). With input sizes (``input_sizes``: the size of run 1, 2, …, the last repeating), run ``i`` draws from
the rows at its size. The strategy's final recommendation is then scored at the last size against the oracle:
the cheapest configuration whose median runtime meets the SLA (noise-aware: a configuration meets the SLA
when its median does — its noise-free runtime when the grid knows it, as the simulator's grids do — so a lucky
draw is neither an oracle nor a pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from airflow_provider_gradient.bench.grid import (
    Catalog,
    Config,
    GridError,
    GridRow,
    configs,
    grid_space,
    oracle,
)
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


def repeated_failures(done: Sequence[GridRow], catalog: Catalog) -> tuple[int, int]:
    """(runs of a shape that had already failed — a spot loss allows one retry —, memory failures on a shape
    dominated in memory by an earlier one)."""
    repeated = repeated_mem = 0
    ooms: list[GridRow] = []
    failed: dict[tuple[str, int], int] = {}
    for r in done:
        prior = failed.get(r.key, 0)
        if prior and not (prior == 1 and r.failure_kind == "spot"):
            repeated += 1
        if not r.succeeded:
            if r.failure_kind == "oom":
                if any(_dominated(r, f, catalog) for f in ooms):
                    repeated_mem += 1
                ooms.append(r)
            failed[r.key] = prior + 1
    return repeated, repeated_mem


def size_schedule(rows: Sequence[GridRow], input_sizes: Sequence[float] | None, budget: int) -> list[float | None]:
    """Input size of each run: ``input_sizes`` (the last repeating), or None for a grid without sizes.

    :raises GridError: sizes given for a grid without ``input_size``, or missing for a grid with several sizes.
    """
    present = sorted({r.input_size for r in rows if r.input_size is not None})
    if input_sizes:
        if not present:
            raise GridError("--input-sizes given but the grid has no input_size column")
        missing = sorted({float(s) for s in input_sizes} - set(present))
        if missing:
            raise GridError(f"input sizes {missing} are not in the grid (it has {present})")
        return [float(input_sizes[min(i, len(input_sizes) - 1)]) for i in range(budget)]
    if len(present) > 1:
        raise GridError(f"the grid has several input sizes {present}: pass --input-sizes")
    return [present[0] if present else None] * budget


def _draw(cfg: Config, rng: np.random.Generator) -> GridRow:
    return cfg.rows[int(rng.integers(len(cfg.rows)))] if len(cfg.rows) > 1 else cfg.rows[0]


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
    input_sizes: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Replay ``strategy`` on the grid; return the contract's JSON-able result.

    :param rows: grid rows (the search space; repetitions allowed).
    :param catalog: prices.
    :param baseline: (node_type, workers) of run 1 (must be a grid configuration).
    :param sla_minutes: SLA.
    :param budget: total runs including the baseline (≥ 1).
    :param strategy: ``gradient``, ``bo`` or ``random``.
    :param seed: RNG seed (draws of repetitions; random/bo).
    :param settings: optimiser settings for ``gradient``.
    :param input_sizes: input size of run 1, 2, … (the last repeats); required when the grid has several sizes.
    """
    if budget < 1:
        raise GridError(f"budget must be >= 1, got {budget}")
    if sla_minutes <= 0:
        raise GridError(f"sla-minutes must be > 0, got {sla_minutes}")
    missing = sorted({r.node_type for r in rows} - set(catalog.nodes))
    if missing:
        raise GridError(f"grid node types missing from the catalog: {missing}")
    sizes = size_schedule(rows, input_sizes, budget)
    cfgs = configs(rows)
    if (baseline[0], baseline[1], sizes[0]) not in cfgs:
        raise GridError(f"baseline {baseline[0]}:{baseline[1]} is not a row of the grid"
                        + ("" if sizes[0] is None else f" at input size {sizes[0]:g}"))
    sla_s = sla_minutes * 60.0
    rng = np.random.default_rng([seed, 7919])
    strat = make_strategy(strategy, rows, catalog, baseline, sla_s, seed, settings)
    done: list[GridRow] = [_draw(cfgs[(baseline[0], baseline[1], sizes[0])], rng)]
    used: list[Config] = [cfgs[(baseline[0], baseline[1], sizes[0])]]
    phases = ["learning"]
    while len(done) < budget:
        node, w, phase = strat.next(done)
        cfg = cfgs.get((node, w, sizes[len(done)]))
        if cfg is None:
            raise GridError(f"strategy {strategy} chose {node}:{w}, which is not a grid row"
                            + ("" if sizes[len(done)] is None else f" at input size {sizes[len(done)]:g}"))
        done.append(_draw(cfg, rng))
        used.append(cfg)
        phases.append(phase)
    last = sizes[-1] if input_sizes else sizes[0]
    fnode, fw = strat.final(done)
    fcfg = cfgs.get((fnode, fw, last))
    if fcfg is None:
        raise GridError(f"strategy {strategy} recommended {fnode}:{fw}, which is not a grid row")
    cost = [catalog.cost_usd(r.node_type, r.workers, r.runtime_s) for r in done]
    runs = []
    for r, c, p in zip(done, cost, phases, strict=True):
        run: dict[str, Any] = {"node_type": r.node_type, "workers": r.workers, "runtime_s": r.runtime_s,
                               "succeeded": r.succeeded, "cost_usd": c, "phase": p}
        if r.input_size is not None:
            run["input_size"] = r.input_size
        runs.append(run)
    learning_n = sum(1 for p in phases if p == "learning") if strategy == "gradient" else DEFAULT_LEARNING_RUNS
    after = list(zip(done[learning_n:], used[learning_n:], strict=True))
    # noise-aware: a run after learning violates the SLA when it failed or its configuration's median misses it
    violations = sum(1 for r, cfg in after if (not r.succeeded) or (not cfg.succeeded) or cfg.runtime_s > sla_s)
    observed = sum(1 for r, _ in after if (not r.succeeded) or r.runtime_s > sla_s)
    repeated, repeated_mem = repeated_failures(done, catalog)
    f_cost = catalog.cost_usd(fcfg.node_type, fcfg.workers, fcfg.runtime_s)
    meets = fcfg.succeeded and fcfg.runtime_s <= sla_s
    orc = oracle(list(rows), catalog, sla_s, last)
    out: dict[str, Any] = {
        "strategy": strategy,
        "baseline": {"node_type": baseline[0], "workers": baseline[1]},
        "sla_minutes": sla_minutes,
        "budget": budget,
        "seed": seed,
        "runs": runs,
        "final": {"node_type": fcfg.node_type, "workers": fcfg.workers},
        "final_cost_usd": f_cost,
        "final_runtime_s": fcfg.runtime_s,
        "final_meets_sla": meets,
        "oracle": None,
        "regret": None,
        "failures": sum(1 for r in done if not r.succeeded),
        "repeated_failures": repeated,
        "repeated_memory_failures": repeated_mem,
        "sla_violations_after_learning": violations,
        "observed_sla_violations_after_learning": observed,
        "runs_after_learning": len(after),
        "cluster_changes_after_learning": sum(1 for a, b in zip(done[learning_n:], done[learning_n + 1:],
                                                                strict=False) if a.key != b.key),
        "search_cost_usd": sum(cost),
    }
    if last is not None:
        out["final"]["input_size"] = last
    # the model's P(meets SLA) of untried shapes at the end of learning, against what their medians do
    out["calibration"] = [
        [p, bool(cfg.succeeded and cfg.runtime_s <= sla_s)]
        for (node, w), p in getattr(strat, "calibration", [])
        if (cfg := cfgs.get((node, w, last))) is not None
    ]
    if orc is not None:
        ocfg, ocost = orc
        out["oracle"] = {"node_type": ocfg.node_type, "workers": ocfg.workers, "cost_usd": ocost,
                         "runtime_s": ocfg.runtime_s}
        out["regret"] = f_cost / ocost - 1.0
    return out
