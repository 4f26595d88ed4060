"""``gradient bench simulate``: strategies in a closed loop over the simulator's job model.

Run ``i`` of a seed is simulated at ``run_index=i`` (so input drift, noise, spot losses and OOM all apply);
the final recommendation is scored noise-free at the next run index against the simulator's ``oracle`` on the
same search space, both priced by the simulator's ``price`` (node timeline: workers, driver and start-up).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_gradient.bench.grid import GridError, GridRow
from airflow_provider_gradient.bench.replay import DEFAULT_LEARNING_RUNS, make_strategy, repeated_failures
from airflow_provider_gradient.bench.suite import summarize


class SimulatorUnavailable(RuntimeError):
    """The simulator package (job models) cannot be imported."""


def simulate_bench(profile: str, *, runs: int, sla_minutes: float, seeds: int,
                   strategy: str = "gradient") -> dict[str, Any]:
    """Run ``strategy`` for ``runs`` runs on ``seeds`` seeds of a simulator profile.

    :param profile: profile name or path.
    :param runs: runs per seed, including the baseline.
    :param sla_minutes: runtime SLA.
    :param seeds: number of seeds.
    :param strategy: ``gradient`` / ``bo`` / ``random``.
    """
    try:
        from airflow_provider_gradient.bench.simgrid import GRID_WORKERS, price_catalog
        from airflow_provider_gradient.simulator.models import ClusterSpec, simulate
        from airflow_provider_gradient.simulator.oracle import oracle as sim_oracle
        from airflow_provider_gradient.simulator.oracle import price as sim_price
        from airflow_provider_gradient.simulator.profiles import load_profile
    except ImportError as exc:  # pragma: no cover - the simulator ships with the package
        raise SimulatorUnavailable(f"simulator models not importable: {exc}") from exc
    if runs < 1 or seeds < 1 or sla_minutes <= 0:
        raise GridError("--runs and --seeds must be >= 1 and --sla-minutes > 0")
    p = load_profile(profile)
    b = dict(p.baseline or {})
    base = (str(b.get("node_type_id") or "m5.xlarge"), int(b.get("num_workers") or 8))
    cat = price_catalog()
    if base[0] not in cat.nodes:
        cat = price_catalog(tuple(cat.nodes) + (base[0],))
    ws = sorted(set(GRID_WORKERS) | {base[1]})
    keys = [(n, w) for n in cat.nodes for w in ws]
    cand_rows = [GridRow(n, w, 0.0, True) for n, w in keys]
    from airflow_provider_gradient.bench.grid import grid_space

    space = grid_space(cand_rows, cat)
    sla_s = sla_minutes * 60.0
    try:
        orc = sim_oracle(p, space, sla_minutes, run_index=runs)
    except ValueError as exc:
        if not str(exc).startswith("no config"):
            raise
        orc = None  # no configuration meets the SLA: regret is undefined, finals are judged on the SLA only
    cases = []
    for seed in range(seeds):
        strat = make_strategy(strategy, cand_rows, cat, base, sla_s, seed)
        done: list[GridRow] = []
        phases: list[str] = []
        costs: list[float] = []
        for i in range(runs):
            node, w, phase = (base[0], base[1], "learning") if i == 0 else strat.next(done)
            r = simulate(p, ClusterSpec(node, num_workers=w), run_index=i, seed=seed)
            done.append(GridRow(node, w, float(r.runtime_s), bool(r.succeeded),
                                None if r.succeeded else (r.failure_kind or "other"), float(r.input_bytes)))
            phases.append(phase)
            costs.append(float(sim_price(r).total_usd))
        fnode, fw = strat.final(done)
        fr = simulate(p, ClusterSpec(fnode, num_workers=fw), run_index=runs, noise=False)
        f_cost = float(sim_price(fr).total_usd)
        learning_n = sum(1 for x in phases if x == "learning") if strategy == "gradient" else DEFAULT_LEARNING_RUNS
        after = done[learning_n:]
        cases.append({
            "seed": seed,
            "runs": [{"node_type": d.node_type, "workers": d.workers, "runtime_s": d.runtime_s,
                      "succeeded": d.succeeded, "cost_usd": c, "phase": ph}
                     for d, c, ph in zip(done, costs, phases, strict=True)],
            "final": {"node_type": fnode, "workers": fw},
            "final_cost_usd": f_cost,
            "final_runtime_s": float(fr.runtime_s),
            "final_meets_sla": bool(fr.succeeded and fr.runtime_s <= sla_s),
            "oracle": None if orc is None else {
                "node_type": orc.spec.node_type_id, "workers": orc.spec.num_workers,
                "cost_usd": float(orc.cost_usd), "runtime_s": float(orc.runtime_s)},
            "regret": None if orc is None else f_cost / float(orc.cost_usd) - 1.0,
            "failures": sum(1 for d in done if not d.succeeded),
            "repeated_memory_failures": repeated_failures(done, cat)[1],
            "sla_violations_after_learning": sum(1 for d in after if not d.succeeded or d.runtime_s > sla_s),
            "runs_after_learning": len(after),
            "search_cost_usd": sum(costs),
        })
    return {"profile": p.name, "strategy": strategy, "runs": runs, "sla_minutes": sla_minutes, "seeds": seeds,
            "cases": cases, "summary": summarize(cases)}
