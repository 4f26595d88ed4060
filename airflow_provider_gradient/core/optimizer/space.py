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

    def __len__(self) -> int:
        return int(self.workers.shape[0])

    def index_of(self, node_type: str, workers: float) -> int | None:
        """Index of the candidate ``(node_type, workers)`` or None."""
        return self.lookup.get((node_type, int(round(workers))))

    def name(self, i: int) -> str:
        """Node type name of candidate ``i``."""
        return self.nodes[int(self.node_idx[i])].name


def build_candidates(space: SearchSpace, settings: OptimizerSettings, baseline: ClusterShape) -> Candidates:
    """Enumerate the candidates allowed by the space and the settings.

    The baseline's node type is always kept (even when its family is not in ``allowed_families``), and when
    ``optimize_instance_size`` is off only the baseline's node type is allowed.

    :param space: search space.
    :param settings: project settings.
    :param baseline: the user's cluster.
    """
    if not space.node_types:
        raise OptimizerError("SearchSpace.node_types is empty")
    names = {n.name for n in space.node_types}
    if baseline.node_type_id not in names:
        raise OptimizerError(f"baseline node type {baseline.node_type_id!r} is not in the search space")
    nodes: list[NodeOption] = []
    for n in space.node_types:
        if n.name == baseline.node_type_id:
            nodes.append(n)
        elif not settings.optimize_instance_size:
            continue
        elif settings.allowed_families and n.family not in settings.allowed_families:
            continue
        else:
            nodes.append(n)
    max_w = space.max_workers if settings.max_workers is None else min(space.max_workers, settings.max_workers)
    min_w = space.min_workers
    pairs: list[tuple[int, int]] = []
    index = {n.name: i for i, n in enumerate(nodes)}
    if space.allowed_shapes:
        for name, w in space.allowed_shapes:
            if name in index and (min_w <= w <= max_w or (name == baseline.node_type_id
                                                           and w == baseline.effective_workers)):
                pairs.append((index[name], int(w)))
    else:
        ladder = space.worker_counts or DEFAULT_WORKER_LADDER
        counts = sorted({int(w) for w in ladder if min_w <= w <= max_w})
        bw = int(round(baseline.effective_workers))
        for i in range(len(nodes)):
            for w in counts:
                pairs.append((i, w))
            if i == index[baseline.node_type_id] and bw not in counts and bw >= 0:
                pairs.append((i, bw))
    if not pairs:
        raise OptimizerError("no candidate cluster shapes: check max_workers / allowed_families / the space")
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
    )


def shape_features(space: SearchSpace, shape: ClusterShape) -> tuple[float, float, float, float]:
    """(cores, memory_gb, mem_per_core, vcpus) of a shape, for the model.

    :param space: search space (node facts).
    :param shape: the cluster.
    """
    node = space.node(shape.node_type_id)
    w = max(shape.effective_workers, 1.0)
    return w * node.vcpus, w * node.memory_gb, node.memory_gb / max(node.vcpus, 1), float(node.vcpus)
