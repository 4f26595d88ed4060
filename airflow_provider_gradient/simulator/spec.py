"""The cluster a run is simulated on: the model-relevant part of a Databricks ``new_cluster``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_gradient.core.cluster import SHAPE_FIELDS, Cluster, ClusterError

__all__ = ["ClusterSpec", "ClusterSpecError"]


class ClusterSpecError(ValueError):
    """The cluster spec is not simulable (names the field)."""


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """The cluster a run is simulated on (the model-relevant part of a Databricks ``new_cluster``): a view of a
    :class:`~airflow_provider_gradient.core.cluster.Cluster`, read and written through it.

    :param node_type_id: worker node type.
    :param driver_node_type_id: driver node type ("" = same as workers).
    :param num_workers: fixed worker count (None when autoscaling).
    :param autoscale_min: autoscale lower bound.
    :param autoscale_max: autoscale upper bound.
    :param spot: workers on spot (with fallback).
    :param first_on_demand: nodes (driver first) kept on-demand when ``spot``.
    :param photon: Photon runtime engine.
    :param ebs_volume_count: EBS volumes per node.
    :param ebs_volume_size_gb: size of each EBS volume.
    :param cloud: ``aws`` / ``azure`` / ``gcp``.
    :param region: cloud region.
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
    cloud: str = "aws"
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        if not self.node_type_id:
            raise ClusterSpecError("node_type_id must not be empty")
        if self.num_workers is None:
            if self.autoscale_min is None or self.autoscale_max is None:
                raise ClusterSpecError("num_workers or autoscale min/max is required")
            if self.autoscale_min < 0 or self.autoscale_max < max(1, self.autoscale_min):
                raise ClusterSpecError(f"bad autoscale range {self.autoscale_min}..{self.autoscale_max}")
        elif self.num_workers < 0:
            raise ClusterSpecError(f"num_workers must be >= 0, got {self.num_workers}")
        if (self.autoscale_max or self.num_workers or 0) > 10000:
            raise ClusterSpecError("more than 10000 workers is not simulable")
        if not self.driver_node_type_id:
            object.__setattr__(self, "driver_node_type_id", self.node_type_id)

    @property
    def min_workers(self) -> int:
        """Workers at start (fixed size or autoscale minimum)."""
        return self.num_workers if self.num_workers is not None else int(self.autoscale_min or 0)

    @property
    def max_workers(self) -> int:
        """Most workers the cluster can have."""
        return self.num_workers if self.num_workers is not None else int(self.autoscale_max or 0)

    @property
    def is_autoscale(self) -> bool:
        """True for an autoscaling cluster."""
        return self.num_workers is None

    def label(self) -> str:
        """Short human label, e.g. ``r5.xlarge x8 spot photon``."""
        size = f"x{self.num_workers}" if self.num_workers is not None else f"x{self.autoscale_min}-{self.autoscale_max}"
        extra = (" spot" if self.spot else "") + (" photon" if self.photon else "")
        return f"{self.node_type_id} {size}{extra}"

    @classmethod
    def from_cluster(cls, cluster: Cluster, cloud: str = "aws", region: str = "us-east-1") -> ClusterSpec:
        """The emulator's view of a :class:`~airflow_provider_gradient.core.cluster.Cluster` (no size = 0 workers).

        :raises ClusterSpecError: no node type, or a size the emulator cannot simulate.
        """
        if not cluster.node_type_id:
            raise ClusterSpecError("new_cluster.node_type_id is required")
        shape = cluster.shape()
        if not cluster.is_autoscale:
            shape["num_workers"] = cluster.num_workers or 0
        return cls(**shape, cloud=cloud, region=region)

    @classmethod
    def from_new_cluster(cls, new_cluster: Mapping[str, Any], cloud: str = "aws", region: str = "us-east-1") -> ClusterSpec:
        """Read a Databricks ``new_cluster`` dict (rules: :mod:`airflow_provider_gradient.core.cluster`).

        :param new_cluster: the cluster spec as submitted.
        :param cloud: ``aws``, ``azure`` or ``gcp`` (the emulated workspace's cloud).
        :param region: cloud region.
        :raises ClusterSpecError: missing node type or a bad field (named).
        """
        try:
            cluster = Cluster.from_databricks(new_cluster, strict=False)
        except ClusterError as exc:
            raise ClusterSpecError(str(exc)) from exc
        return cls.from_cluster(cluster, cloud, region)

    def to_cluster(self, spark_version: str = "15.4.x-scala2.12") -> Cluster:
        """This spec as a :class:`~airflow_provider_gradient.core.cluster.Cluster`."""
        return Cluster(spark_version=spark_version).reshaped(self.cloud, **{f: getattr(self, f) for f in SHAPE_FIELDS})

    def to_new_cluster(self, spark_version: str = "15.4.x-scala2.12") -> dict[str, Any]:
        """The Databricks ``new_cluster`` dict for this spec."""
        return self.to_cluster(spark_version).to_databricks()
