"""EBS sizing for a recommended AWS cluster (pure: no I/O).

Spark writes shuffle files and spilled data to the workers' local disks; on nodes without an instance
store those are the cluster's EBS volumes (``aws_attributes.ebs_volume_count`` x ``ebs_volume_size`` per
node). :func:`recommend_ebs` sizes them from what past runs wrote to disk (event-log ``disk_spilled_bytes``
+ ``shuffle_write_bytes``) spread over the recommended workers, with headroom:

- disk close to full (use above ``FULL_FRACTION`` of it), or spill to disk on a node without any disk:
  grow to the need;
- disk mostly idle (use below ``IDLE_FRACTION``): shrink to one volume of the need (at least the
  Databricks minimum of 100 GB for general purpose SSD);
- otherwise leave it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_gradient.core.cluster import Cluster

__all__ = ["DiskUse", "EbsAdvice", "apply_ebs_advice", "has_local_disk", "recommend_ebs"]

GB = 1e9
HEADROOM = 2.0
BASE_GB = 20.0  # logs, libraries, Spark's own files
FULL_FRACTION = 0.8
IDLE_FRACTION = 0.25
MIN_VOLUME_GB = 100  # Databricks: general purpose SSD volumes are 100..4096 GB
MAX_VOLUME_GB = 4096
STEP_GB = 50


@dataclass(frozen=True, slots=True)
class DiskUse:
    """What one successful run wrote to local disk.

    :param disk_spilled_bytes: bytes spilled to disk (event log).
    :param shuffle_write_bytes: shuffle bytes written (event log).
    """

    disk_spilled_bytes: float = 0.0
    shuffle_write_bytes: float = 0.0

    @property
    def bytes(self) -> float:
        return max(0.0, self.disk_spilled_bytes) + max(0.0, self.shuffle_write_bytes)


@dataclass(frozen=True, slots=True)
class EbsAdvice:
    """EBS volumes per node and why."""

    volume_count: int
    volume_size_gb: int
    reason: str


def has_local_disk(node_type_id: str) -> bool:
    """Whether an AWS node type has an NVMe instance store (``m5d``, ``r6gd``, ``i3`` ...)."""
    family = str(node_type_id).split(".", 1)[0].lower()
    return family.startswith(("i3", "i4", "im4", "is4")) or (len(family) > 2 and family.endswith("d"))


def _round_up(gb: float) -> int:
    return int(max(MIN_VOLUME_GB, math.ceil(gb / STEP_GB) * STEP_GB))


def recommend_ebs(cluster: Mapping[str, Any], history: Sequence[DiskUse]) -> EbsAdvice | None:
    """EBS volumes per node for ``cluster`` (a Databricks ``new_cluster``), or None to leave them.

    :param cluster: the recommended cluster (its ``aws_attributes`` carry today's EBS volumes).
    :param history: disk use of past successful runs (any cluster: bytes written do not depend on the shape).
    :raises ClusterError: ``cluster`` is not a valid cluster spec (names the field).
    """
    if not history:
        return None
    c = Cluster.from_databricks(cluster, strict=False)
    count, size = c.ebs_volume_count, c.ebs_volume_size_gb
    have = count * size
    written = max(u.bytes for u in history) / GB
    spilled = max(u.disk_spilled_bytes for u in history) / GB
    per_node = written / max(1, c.max_workers)
    need = per_node * HEADROOM + BASE_GB
    seen = f"past runs wrote up to {written:.0f} GB to local disk (shuffle + spill), {per_node:.0f} GB per worker"
    if have <= 0:
        if spilled <= 0 or has_local_disk(c.node_type_id):
            return None
        vols = max(1, math.ceil(need / MAX_VOLUME_GB))
        return EbsAdvice(vols, _round_up(need / vols), f"spill to disk on nodes without local disk: {seen}")
    if per_node > FULL_FRACTION * have:
        vols = max(count, math.ceil(need / MAX_VOLUME_GB))
        target = _round_up(need / vols)
        if vols * target <= have:
            return None
        return EbsAdvice(vols, min(MAX_VOLUME_GB, target),
                         f"EBS nearly full: {seen} of {count}x{size} GB; growing to {vols}x{min(MAX_VOLUME_GB, target)} GB")
    if per_node < IDLE_FRACTION * have:
        target = _round_up(need)
        if target >= have:
            return None
        return EbsAdvice(1, target, f"EBS mostly idle: {seen} of {count}x{size} GB; shrinking to 1x{target} GB")
    return None


def apply_ebs_advice(cluster: Mapping[str, Any], advice: EbsAdvice) -> dict[str, Any]:
    """``cluster`` with the advised EBS volumes (other ``aws_attributes`` kept).

    :raises ClusterError: ``cluster`` is not a valid cluster spec (names the field).
    """
    c = Cluster.from_databricks(cluster, strict=False)
    return c.with_ebs(advice.volume_count, advice.volume_size_gb).to_databricks()
