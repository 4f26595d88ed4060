"""Replay grids built from the simulator's job models: every (node type, workers) cell measured several times.

Each cell holds ``reps`` noisy runs (repetitions, as in real measured grids such as C3O), so the replay draws one
per run; every row also carries the cell's noise-free runtime, on which the replay judges the SLA, the oracle and
"meets the SLA" (noise-aware: the simulator knows the truth, so neither a lucky median of five draws nor a lucky
run decides); out-of-memory failures and non-monotone runtimes included.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_gradient.bench.grid import Catalog, Config, GridRow
from airflow_provider_gradient.core.optimizer.types import NodeOption

#: Node types of the simulator grids (AWS, three families × three sizes).
GRID_NODE_TYPES: tuple[str, ...] = (
    "c5.xlarge", "c5.2xlarge", "c5.4xlarge",
    "m5.xlarge", "m5.2xlarge", "m5.4xlarge",
    "r5.xlarge", "r5.2xlarge", "r5.4xlarge",
)
#: Worker counts of the simulator grids.
GRID_WORKERS: tuple[int, ...] = (2, 4, 6, 8, 10, 12, 16, 20, 24, 32)


@dataclass(frozen=True, slots=True)
class SimGrid:
    """A grid built from one simulator profile and seed.

    :param profile: profile name.
    :param seed: simulator seed.
    :param rows: measured rows.
    :param catalog: prices (on-demand cloud + jobs DBU, from the shipped price catalog).
    :param baseline: (node_type, workers) of the profile's baseline cluster.
    """

    profile: str
    seed: int
    rows: tuple[GridRow, ...]
    catalog: Catalog
    baseline: tuple[str, int]

    def row(self, node: str, workers: int) -> GridRow:
        """The first row of ``(node, workers)``."""
        for r in self.rows:
            if (r.node_type, r.workers) == (node, workers):
                return r
        raise KeyError(f"{workers}×{node} is not in the grid")

    def config(self, node: str, workers: int) -> Config:
        """All repetitions of ``(node, workers)`` (median runtime, majority outcome)."""
        rows = tuple(r for r in self.rows if (r.node_type, r.workers) == (node, workers))
        if not rows:
            raise KeyError(f"{workers}×{node} is not in the grid")
        return Config(node, workers, None, rows)


def price_catalog(node_types: tuple[str, ...] = GRID_NODE_TYPES, region: str = "us-east-1") -> Catalog:
    """A replay :class:`Catalog` from the shipped price catalog (AWS, on-demand, jobs compute)."""
    from airflow_provider_gradient.core.pricing import load_catalog

    cat = load_catalog()
    dbu = cat.dbu_rate_usd("aws", "Premium", "jobs")
    nodes = {}
    for name in node_types:
        nt = cat.node_type("aws", name)
        nodes[name] = NodeOption(name=name, family=nt.family, vcpus=nt.vcpus, memory_gb=nt.memory_gb,
                                 hourly_usd=cat.hourly_usd("aws", region, name), dbu_per_hour=nt.dbu_per_hour,
                                 spot_discount=nt.spot_discount)
    return Catalog(dbu_usd=dbu, nodes=nodes)


def build_sim_grid(profile: str, seed: int, *, catalog: Catalog | None = None,
                   workers: tuple[int, ...] = GRID_WORKERS, run_index: int = 0, reps: int = 5,
                   truth: bool = True) -> SimGrid:
    """Measure every cell of the grid ``reps`` times with the simulator (noise on, on-demand, no Photon).

    :param profile: simulator profile name.
    :param seed: seed (each cell and repetition gets its own noise draw).
    :param catalog: prices (default :func:`price_catalog`).
    :param workers: worker counts.
    :param run_index: run index (input size) of every cell.
    :param reps: repetitions per cell.
    :param truth: attach each cell's noise-free runtime (the replay then judges the oracle and the SLA on it, not
        on the median of ``reps`` noisy draws); False judges on the median, as for measured grids.
    """
    from airflow_provider_gradient.simulator.models import ClusterSpec, simulate
    from airflow_provider_gradient.simulator.profiles import load_profile

    cat = catalog or price_catalog()
    p = load_profile(profile)
    b = dict(p.baseline or {})
    base_node = str(b.get("node_type_id") or "m5.xlarge")
    base_w = int(b.get("num_workers") or (b.get("autoscale") or {}).get("max_workers") or 8)
    if base_node not in cat.nodes:
        cat = price_catalog(tuple(cat.nodes) + (base_node,))
    ws = sorted(set(workers) | {base_w})
    rows = []
    for ci, node in enumerate(cat.nodes):
        for w in ws:
            if node != base_node and w not in workers:
                continue
            spec = ClusterSpec(node, num_workers=w)
            true_t = float(simulate(p, spec, run_index=run_index, seed=seed, noise=False).runtime_s) if truth else None
            for k in range(reps):
                r = simulate(p, spec, run_index=run_index, seed=seed * 100003 + ci * 1009 + w + k * 7_000_003,
                             noise=True)
                rows.append(GridRow(node, w, float(r.runtime_s), bool(r.succeeded),
                                    None if r.succeeded else (r.failure_kind or "other"), None, true_t))
    return SimGrid(profile=p.name, seed=seed, rows=tuple(rows), catalog=cat, baseline=(base_node, base_w))
