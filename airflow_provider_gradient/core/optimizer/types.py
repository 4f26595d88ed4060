"""Value objects of the optimiser: cluster shapes, observations, search space, settings, recommendation.

All are frozen dataclasses; the optimiser is a pure function over them (see ``recommend``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from airflow_provider_gradient.core.cluster import SHAPE_FIELDS, Cluster, ClusterError

Phase = Literal["learning", "optimizing"]
FailureKind = Literal["oom", "spot", "timeout", "other"]
FAILURE_KINDS: tuple[str, ...] = ("oom", "spot", "timeout", "other")


class OptimizerError(ValueError):
    """Bad input to the optimiser (names the offending field)."""


@dataclass(frozen=True, slots=True)
class ClusterShape:
    """The optimiser-relevant part of a Databricks ``new_cluster``: a view of a
    :class:`~airflow_provider_gradient.core.cluster.Cluster` (read and written through it).

    Exactly one of ``num_workers`` (fixed size) or ``autoscale_min``/``autoscale_max`` is set.

    :param node_type_id: worker node type, e.g. ``r5.xlarge``.
    :param driver_node_type_id: driver node type (defaults to the worker type when empty).
    :param num_workers: fixed number of workers, or None for autoscale.
    :param autoscale_min: autoscale lower bound (None for fixed size).
    :param autoscale_max: autoscale upper bound (None for fixed size).
    :param spot: workers on spot (with fallback) instead of on-demand.
    :param first_on_demand: how many nodes (driver first) stay on-demand when ``spot``.
    :param photon: Photon runtime engine.
    :param ebs_volume_count: EBS volumes per node (AWS), 0 when unused.
    :param ebs_volume_size_gb: size of each EBS volume.
    :param observed_workers: for an autoscaled run: the time-averaged worker count the cluster really had
        (from its node timeline); modelling uses it instead of the range's midpoint. Not part of the cluster
        spec (:meth:`to_databricks` ignores it).
    """

    node_type_id: str
    driver_node_type_id: str = ""
    num_workers: int | None = None
    autoscale_min: int | None = None
    autoscale_max: int | None = None
    spot: bool = False
    first_on_demand: int = 1
    photon: bool = False
    ebs_volume_count: int = 0
    ebs_volume_size_gb: int = 0
    observed_workers: float | None = None

    def __post_init__(self) -> None:
        if not self.node_type_id:
            raise OptimizerError("ClusterShape.node_type_id must not be empty")
        if self.num_workers is None and (self.autoscale_min is None or self.autoscale_max is None):
            raise OptimizerError("ClusterShape needs num_workers or autoscale_min/autoscale_max")
        if self.num_workers is not None and self.num_workers < 0:
            raise OptimizerError(f"ClusterShape.num_workers must be >= 0, got {self.num_workers}")
        if self.num_workers is None:
            assert self.autoscale_min is not None and self.autoscale_max is not None
            if self.autoscale_min < 0 or self.autoscale_max < self.autoscale_min:
                raise OptimizerError(
                    f"ClusterShape autoscale range invalid: min={self.autoscale_min} max={self.autoscale_max}"
                )
        if not self.driver_node_type_id:
            object.__setattr__(self, "driver_node_type_id", self.node_type_id)

    @property
    def is_autoscale(self) -> bool:
        """True when the shape uses autoscale instead of a fixed size."""
        return self.num_workers is None

    @property
    def effective_workers(self) -> float:
        """Workers used for modelling: the fixed size; for autoscale the observed time-averaged worker count
        when known (clamped to the range), else the range's midpoint."""
        if self.num_workers is not None:
            return float(self.num_workers)
        assert self.autoscale_min is not None and self.autoscale_max is not None
        if self.observed_workers is not None:
            return float(min(max(self.observed_workers, self.autoscale_min), self.autoscale_max))
        return (self.autoscale_min + self.autoscale_max) / 2.0

    def to_databricks(self, base: Mapping[str, Any] | None = None, cloud: str = "aws") -> dict[str, Any]:
        """Merge this shape into a Databricks ``new_cluster`` dict (``base`` is not modified).

        Written through :class:`~airflow_provider_gradient.core.cluster.Cluster`: node types, size, Photon
        (``runtime_engine``), the cloud's availability/``first_on_demand`` and, on AWS, the EBS volumes.

        :param base: the user's original ``new_cluster`` (other fields are kept).
        :param cloud: ``aws``, ``azure`` or ``gcp`` (selects the attributes block).
        :raises OptimizerError: ``base`` is not a valid cluster spec (names the field).
        """
        try:
            c = Cluster.from_databricks(base, strict=False) if base else Cluster()
        except ClusterError as exc:
            raise OptimizerError(str(exc)) from exc
        return c.reshaped(cloud, **{f: getattr(self, f) for f in SHAPE_FIELDS}).to_databricks()

    @classmethod
    def from_cluster(cls, cluster: Cluster) -> ClusterShape:
        """The optimiser's view of a :class:`~airflow_provider_gradient.core.cluster.Cluster`.

        :raises OptimizerError: no node type or no size.
        """
        if not cluster.node_type_id:
            raise OptimizerError("new_cluster.node_type_id is missing")
        if cluster.num_workers is None and not cluster.is_autoscale:
            raise OptimizerError("new_cluster needs num_workers or autoscale")
        return cls(**cluster.shape())

    @classmethod
    def from_databricks(cls, new_cluster: Mapping[str, Any], cloud: str = "aws") -> ClusterShape:
        """Read a shape from a Databricks ``new_cluster`` dict (rules: :mod:`airflow_provider_gradient.core.cluster`,
        e.g. Photon by ``runtime_engine`` or a ``-photon-`` Spark version).

        :param new_cluster: the cluster spec (``node_type_id`` required).
        :param cloud: ``aws``, ``azure`` or ``gcp`` (kept for callers; the spec's own attributes block is read).
        :raises OptimizerError: an invalid spec (names the field).
        """
        try:
            cluster = Cluster.from_databricks(new_cluster, strict=False)
        except ClusterError as exc:
            raise OptimizerError(str(exc)) from exc
        return cls.from_cluster(cluster)


@dataclass(frozen=True, slots=True)
class NodeOption:
    """One allowed node type with its prices.

    :param name: node type id.
    :param family: instance family, e.g. ``r5``.
    :param vcpus: vCPUs per node.
    :param memory_gb: memory per node.
    :param hourly_usd: on-demand cloud price per node-hour.
    :param dbu_per_hour: DBUs per node-hour.
    :param spot_discount: fraction saved on the cloud price with spot (0..1).
    :param arch: CPU architecture, ``x86_64`` or ``arm64`` (empty: read from the name, see
        :func:`~airflow_provider_gradient.core.pricing.arch.cpu_architecture`).
    """

    name: str
    family: str
    vcpus: int
    memory_gb: float
    hourly_usd: float
    dbu_per_hour: float
    spot_discount: float = 0.0
    arch: str = ""

    def __post_init__(self) -> None:
        if not self.arch:
            from airflow_provider_gradient.core.pricing.arch import cpu_architecture

            object.__setattr__(self, "arch", cpu_architecture(self.name, self.family))


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """What the optimiser may choose from.

    :param cloud: ``aws`` / ``azure`` / ``gcp``.
    :param region: cloud region (informational).
    :param node_types: allowed node types.
    :param dbu_usd: price of one DBU in USD.
    :param min_workers: smallest worker count.
    :param max_workers: largest worker count.
    :param allow_autoscale: autoscale shapes allowed.
    :param allow_spot: spot allowed.
    :param allow_photon: Photon allowed.
    :param worker_counts: when non-empty, the only worker counts allowed (e.g. a replay grid).
    :param allowed_shapes: when non-empty, the only (node_type, workers) pairs allowed.
    :param driver_billed: count the driver node in every cost (real clusters). False = workers only, as
        the replay contract prices a run.
    :param driver_rate_usd: $/hour (cloud + DBU) of a fixed driver node type; None = the driver follows
        the worker type (Databricks' default), so it costs one more worker-node hour per hour.
    """

    cloud: str
    region: str
    node_types: tuple[NodeOption, ...]
    dbu_usd: float
    min_workers: int = 1
    max_workers: int = 64
    allow_autoscale: bool = True
    allow_spot: bool = True
    allow_photon: bool = True
    worker_counts: tuple[int, ...] = ()
    allowed_shapes: tuple[tuple[str, int], ...] = ()
    driver_billed: bool = False
    driver_rate_usd: float | None = None

    def node(self, name: str) -> NodeOption:
        """The node option called ``name`` (raises OptimizerError naming it)."""
        for n in self.node_types:
            if n.name == name:
                return n
        raise OptimizerError(f"node type {name!r} is not in the search space")


@dataclass(frozen=True, slots=True)
class Observation:
    """One recorded run.

    :param shape: the cluster it ran on.
    :param runtime_s: wall time (until failure for a failed run).
    :param succeeded: run outcome.
    :param failure_kind: ``oom`` / ``spot`` / ``timeout`` / ``other`` or None.
    :param input_bytes: bytes read, if known.
    :param cost_usd: total cost, if known.
    :param started_ms: start time (epoch ms), for ordering.
    :param recommendation_id: recommendation it used, if any.
    :param metrics: AppSummary metrics (``memory_spilled_bytes``, ``peak_execution_memory_max_bytes`` ...).
    :param stages: per-stage summaries (``core.eventlog.StageSummary``) for task-level replay.
    """

    shape: ClusterShape
    runtime_s: float
    succeeded: bool
    failure_kind: str | None = None
    input_bytes: float | None = None
    cost_usd: float | None = None
    started_ms: int | None = None
    recommendation_id: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    stages: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.failure_kind is not None and self.failure_kind not in FAILURE_KINDS:
            raise OptimizerError(f"Observation.failure_kind must be one of {FAILURE_KINDS}, got {self.failure_kind!r}")
        if self.runtime_s < 0:
            raise OptimizerError(f"Observation.runtime_s must be >= 0, got {self.runtime_s}")
        if self.shape.is_autoscale and self.shape.observed_workers is None:
            from airflow_provider_gradient.core.optimizer.autoscale import observed_average_workers

            avg = observed_average_workers(self.metrics)
            if avg is not None:
                object.__setattr__(self, "shape", dataclasses.replace(self.shape, observed_workers=avg))


@dataclass(frozen=True, slots=True)
class OptimizerSettings:
    """Per-project optimiser settings.

    :param sla_minutes: runtime SLA, None for "no slower than the baseline".
    :param maintain_scaling_type: keep autoscale/fixed as in the baseline.
    :param optimize_instance_size: allow changing the node type.
    :param allowed_families: node families allowed (empty: all in the space).
    :param force_on_demand: never recommend spot.
    :param max_workers: cap on workers (None: the space's).
    :param max_change_factor: largest multiplicative step in workers (and node size) per recommendation.
    :param learning_runs: K, learning-phase runs (baseline included).
    :param sla_confidence: required P(runtime <= SLA) for an optimizing recommendation.
    :param explore: keep exploring promising untried shapes (off: only recommend an untried shape when it is
        confidently cheaper than the best one observed).
    :param allow_arm: allow node types of another CPU architecture than the baseline's (x86 ↔ ARM/Graviton).
        Off (default): the baseline's architecture is kept, since libraries, init scripts and some runtimes are
        architecture-specific.
    """

    sla_minutes: float | None = None
    maintain_scaling_type: bool = True
    optimize_instance_size: bool = True
    allowed_families: tuple[str, ...] = ()
    force_on_demand: bool = False
    max_workers: int | None = None
    max_change_factor: float = 2.0
    learning_runs: int = 4
    sla_confidence: float = 0.93
    explore: bool = True
    allow_arm: bool = False

    def __post_init__(self) -> None:
        if self.sla_minutes is not None and self.sla_minutes <= 0:
            raise OptimizerError(f"OptimizerSettings.sla_minutes must be > 0, got {self.sla_minutes}")
        if self.max_change_factor < 1.0:
            raise OptimizerError(f"OptimizerSettings.max_change_factor must be >= 1, got {self.max_change_factor}")
        if self.learning_runs < 1:
            raise OptimizerError(f"OptimizerSettings.learning_runs must be >= 1, got {self.learning_runs}")
        if not 0.5 <= self.sla_confidence < 1.0:
            raise OptimizerError(f"OptimizerSettings.sla_confidence must be in [0.5, 1), got {self.sla_confidence}")


@dataclass(frozen=True, slots=True)
class Recommendation:
    """The optimiser's answer.

    :param shape: recommended cluster shape.
    :param cluster: ``shape.to_databricks()`` (fields to merge into ``new_cluster``).
    :param phase: ``learning`` or ``optimizing``.
    :param learning_iteration: k of K during learning (0 when optimizing).
    :param learning_total: K.
    :param predicted_runtime_s: point prediction.
    :param runtime_low_s: lower end of the interval.
    :param runtime_high_s: upper end of the interval.
    :param predicted_cost_usd: point prediction.
    :param cost_low_usd: lower end.
    :param cost_high_usd: upper end.
    :param reason: human-readable explanation.
    """

    shape: ClusterShape
    cluster: dict[str, Any]
    phase: str
    learning_iteration: int
    learning_total: int
    predicted_runtime_s: float | None
    runtime_low_s: float | None
    runtime_high_s: float | None
    predicted_cost_usd: float | None
    cost_low_usd: float | None
    cost_high_usd: float | None
    reason: str
