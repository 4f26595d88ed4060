"""Candidate enumeration over a :class:`SearchSpace`: node types × worker counts as numpy arrays, with prices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from airflow_provider_gradient.core.optimizer.types import (
    ClusterShape,
    NodeOption,
    OptimizerError,
    OptimizerSettings,
    SearchSpace,
)

#: Worker counts tried when the space does not list them (a geometric-ish ladder).
DEFAULT_WORKER_LADDER: tuple[int, ...] = (
    1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 160, 192, 256,
)


def node_rate_usd(node: NodeOption, dbu_usd: float, spot: bool = False) -> float:
    """Price of one node-hour (cloud + DBU).

    :param node: the node type.
    :param dbu_usd: $ per DBU.
    :param spot: apply the spot discount to the cloud part.
    """
    cloud = node.hourly_usd * (1.0 - node.spot_discount) if spot else node.hourly_usd
    return cloud + node.dbu_per_hour * dbu_usd


def shape_cost_usd(space: SearchSpace, shape: ClusterShape, runtime_s: float) -> float:
    """Cost of running ``shape`` for ``runtime_s`` (workers only, like the replay contract).

    :param space: search space (prices).
    :param shape: the cluster.
    :param runtime_s: wall time.
    """
    node = space.node(shape.node_type_id)
    rate = shape.effective_workers * node_rate_usd(node, space.dbu_usd, shape.spot)
    return runtime_s / 3600.0 * (rate + driver_rate_usd(space, node))


def driver_rate_usd(space: SearchSpace, worker: NodeOption) -> float:
    """$/hour of the driver of a cluster whose workers are ``worker`` (0 when the space prices workers only).

    :param space: search space (``driver_billed``, ``driver_rate_usd``).
    :param worker: the worker node type (the driver's type unless a fixed driver is set).
    """
    if not space.driver_billed:
        return 0.0
    if space.driver_rate_usd is not None:
        return float(space.driver_rate_usd)
    return node_rate_usd(worker, space.dbu_usd)


@dataclass(frozen=True, slots=True)
class Candidates:
    """Arrays describing every allowed (node type, workers) pair.

    :param nodes: node options, indexed by ``node_idx``.
    :param node_idx: node index per candidate.
    :param workers: worker count per candidate.
    :param cores: total worker vCPUs.
    :param memory_gb: total worker memory.
    :param mem_per_core: GB per vCPU of the node type.
    :param vcpus: vCPUs per node.
    :param rate_usd: $/hour of the whole candidate cluster (workers × node rate, on-demand, plus the
        driver when the space bills it).
    :param lookup: ``(node type, workers)`` → candidate index.
    :param excluded: candidates kept only to place measured runs (the baseline's shape when its family is not
        in ``allowed_families``): never recommended.
    """

    nodes: tuple[NodeOption, ...]
    node_idx: np.ndarray
    workers: np.ndarray
    cores: np.ndarray
    memory_gb: np.ndarray
    mem_per_core: np.ndarray
    vcpus: np.ndarray
    rate_usd: np.ndarray
    lookup: dict[tuple[str, int], int]
    excluded: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.workers.shape[0])

    def index_of(self, node_type: str, workers: float) -> int | None:
        """Index of the candidate ``(node_type, workers)`` or None."""
        return self.lookup.get((node_type, int(round(workers))))

    def name(self, i: int) -> str:
        """Node type name of candidate ``i``."""
        return self.nodes[int(self.node_idx[i])].name


def allowed_node(node: NodeOption, settings: OptimizerSettings, baseline: NodeOption) -> bool:
    """Whether the settings allow recommending ``node`` for a cluster whose baseline workers are ``baseline``.

    Only the baseline's own type when ``optimize_instance_size`` is off; the families in ``allowed_families``
    (any when empty); the baseline's CPU architecture unless ``allow_arm`` (x86 ↔ ARM changes break
    architecture-specific libraries and init scripts).

    :param node: a node type of the space.
    :param settings: project settings.
    :param baseline: the baseline's worker node type.
    """
    if not settings.optimize_instance_size and node.name != baseline.name:
        return False
    if settings.allowed_families and node.family.lower() not in {f.lower() for f in settings.allowed_families}:
        return False
    return settings.allow_arm or node.arch == baseline.arch


#: Autoscaled clusters: every worker count up to this is a candidate (averages are not on the ladder).
DENSE_AUTOSCALE_MAX = 64


def build_candidates(space: SearchSpace, settings: OptimizerSettings, baseline: ClusterShape) -> Candidates:
    """Enumerate the candidates allowed by the space and the settings.

    The baseline's node type must be in the space. Node types the settings do not allow (see
    :func:`allowed_node`) are left out; the baseline's own shape stays as a candidate so its run can be measured
    and modelled, but is marked ``excluded`` (never recommended) when its node type is not allowed. Autoscaled
    baselines get every worker count up to :data:`DENSE_AUTOSCALE_MAX` (measured runs sit at their average size).

    :param space: search space.
    :param settings: project settings.
    :param baseline: the user's cluster.
    """
    if not space.node_types:
        raise OptimizerError("SearchSpace.node_types is empty")
    base_node = next((n for n in space.node_types if n.name == baseline.node_type_id), None)
    if base_node is None:
        raise OptimizerError(f"baseline node type {baseline.node_type_id!r} is not in the search space")
    base_allowed = allowed_node(base_node, settings, base_node)
    nodes: list[NodeOption] = [n for n in space.node_types
                               if n.name == base_node.name or allowed_node(n, settings, base_node)]
    max_w = space.max_workers if settings.max_workers is None else min(space.max_workers, settings.max_workers)
    min_w = space.min_workers
    pairs: list[tuple[int, int]] = []
    index = {n.name: i for i, n in enumerate(nodes)}
    b_idx = index[base_node.name]
    bw = int(round(baseline.effective_workers))
    if space.allowed_shapes:
        for name, w in space.allowed_shapes:
            if name not in index:
                continue
            if name == base_node.name and not base_allowed:
                if w == baseline.effective_workers:
                    pairs.append((index[name], int(w)))
            elif min_w <= w <= max_w or (name == base_node.name and w == baseline.effective_workers):
                pairs.append((index[name], int(w)))
    else:
        ladder = space.worker_counts or DEFAULT_WORKER_LADDER
        if baseline.is_autoscale and space.allow_autoscale and settings.maintain_scaling_type and not space.worker_counts:
            ladder = tuple(sorted(set(ladder) | set(range(1, DENSE_AUTOSCALE_MAX + 1))))
        counts = sorted({int(w) for w in ladder if min_w <= w <= max_w})
        for i in range(len(nodes)):
            if i == b_idx and not base_allowed:
                pairs.append((i, max(bw, 0)))
                continue
            for w in counts:
                pairs.append((i, w))
            if i == b_idx and bw not in counts and bw >= 0:
                pairs.append((i, bw))
    if not pairs or (not base_allowed and all(p[0] == b_idx for p in pairs)):
        raise OptimizerError("no candidate cluster shapes: check max_workers / allowed_families / allow_arm / the space")
    pairs = sorted(set(pairs))
    node_idx = np.array([p[0] for p in pairs], dtype=np.int64)
    workers = np.array([p[1] for p in pairs], dtype=np.float64)
    vcpus = np.array([nodes[i].vcpus for i in node_idx], dtype=np.float64)
    mem = np.array([nodes[i].memory_gb for i in node_idx], dtype=np.float64)
    rate = np.array([node_rate_usd(nodes[i], space.dbu_usd) for i in node_idx], dtype=np.float64)
    driver = np.array([driver_rate_usd(space, nodes[i]) for i in node_idx], dtype=np.float64)
    wk = np.maximum(workers, 1.0)
    return Candidates(
        nodes=tuple(nodes),
        node_idx=node_idx,
        workers=workers,
        cores=wk * vcpus,
        memory_gb=wk * mem,
        mem_per_core=mem / np.maximum(vcpus, 1.0),
        vcpus=vcpus,
        rate_usd=wk * rate + driver,
        lookup={(nodes[p[0]].name, p[1]): k for k, p in enumerate(pairs)},
        excluded=(node_idx == b_idx) if not base_allowed else np.zeros(len(pairs), dtype=bool),
    )


def shape_features(space: SearchSpace, shape: ClusterShape) -> tuple[float, float, float, float]:
    """(cores, memory_gb, mem_per_core, vcpus) of a shape, for the model.

    :param space: search space (node facts).
    :param shape: the cluster.
    """
    node = space.node(shape.node_type_id)
    w = max(shape.effective_workers, 1.0)
    return w * node.vcpus, w * node.memory_gb, node.memory_gb / max(node.vcpus, 1), float(node.vcpus)
