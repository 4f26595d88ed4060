"""The cluster a run is simulated on: the model-relevant part of a Databricks ``new_cluster``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ClusterSpec", "ClusterSpecError"]


class ClusterSpecError(ValueError):
    """The cluster spec is not simulable (names the field)."""


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """The cluster a run is simulated on (the model-relevant part of a Databricks ``new_cluster``).

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
    def from_new_cluster(cls, new_cluster: Mapping[str, Any], cloud: str = "aws", region: str = "us-east-1") -> ClusterSpec:
        """Read a Databricks ``new_cluster`` dict.

        :param new_cluster: the cluster spec as submitted.
        :param cloud: ``aws``, ``azure`` or ``gcp`` (picks the attributes block).
        :param region: cloud region.
        :raises ClusterSpecError: missing node type or worker count.
        """
        if not isinstance(new_cluster, Mapping):
            raise ClusterSpecError("new_cluster must be an object")
        node = new_cluster.get("node_type_id")
        if not node or not isinstance(node, str):
            raise ClusterSpecError("new_cluster.node_type_id is required")
        auto = new_cluster.get("autoscale")
        try:
            if auto:
                nw, amin, amax = None, int(auto.get("min_workers", 1)), int(auto.get("max_workers", 1))
            else:
                nw, amin, amax = int(new_cluster.get("num_workers", 0) or 0), None, None
            attrs_key = {"azure": "azure_attributes", "gcp": "gcp_attributes"}.get(cloud, "aws_attributes")
            attrs = new_cluster.get(attrs_key) or {}
            availability = str(attrs.get("availability", "ON_DEMAND")).upper()
            engine = str(new_cluster.get("runtime_engine", "")).upper()
            photon = engine == "PHOTON" or "photon" in str(new_cluster.get("spark_version", "")).lower()
            return cls(
                node_type_id=node,
                driver_node_type_id=str(new_cluster.get("driver_node_type_id") or node),
                num_workers=nw,
                autoscale_min=amin,
                autoscale_max=amax,
                spot=availability.startswith(("SPOT", "PREEMPTIBLE")),
                first_on_demand=int(attrs.get("first_on_demand", 1) or 0),
                photon=photon,
                ebs_volume_count=int(attrs.get("ebs_volume_count", 0) or 0),
                ebs_volume_size_gb=int(attrs.get("ebs_volume_size", 0) or 0),
                cloud=cloud,
                region=region,
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ClusterSpecError):
                raise
            raise ClusterSpecError(f"bad new_cluster field: {exc}") from exc

    def to_new_cluster(self, spark_version: str = "15.4.x-scala2.12") -> dict[str, Any]:
        """The Databricks ``new_cluster`` dict for this spec."""
        out: dict[str, Any] = {
            "spark_version": spark_version,
            "node_type_id": self.node_type_id,
            "driver_node_type_id": self.driver_node_type_id,
            "runtime_engine": "PHOTON" if self.photon else "STANDARD",
        }
        if self.num_workers is not None:
            out["num_workers"] = self.num_workers
        else:
            out["autoscale"] = {"min_workers": self.autoscale_min, "max_workers": self.autoscale_max}
        if self.cloud == "azure":
            out["azure_attributes"] = {
                "availability": "SPOT_WITH_FALLBACK_AZURE" if self.spot else "ON_DEMAND_AZURE",
                "first_on_demand": self.first_on_demand,
            }
        else:
            attrs: dict[str, Any] = {
                "availability": "SPOT_WITH_FALLBACK" if self.spot else "ON_DEMAND",
                "first_on_demand": self.first_on_demand,
            }
            if self.ebs_volume_count:
                attrs.update(ebs_volume_count=self.ebs_volume_count, ebs_volume_size=self.ebs_volume_size_gb,
                             ebs_volume_type="GENERAL_PURPOSE_SSD")
            out["aws_attributes"] = attrs
        return out
