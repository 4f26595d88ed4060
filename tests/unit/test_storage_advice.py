"""EBS sizing from disk use: grow when nearly full, add when spilling without a disk, shrink when idle."""

from __future__ import annotations

from airflow_provider_gradient.core.optimizer.storage import (
    DiskUse,
    apply_ebs_advice,
    has_local_disk,
    recommend_ebs,
)

GB = 1e9


def _cluster(node: str = "m5.xlarge", workers: int = 4, count: int = 0, size: int = 0) -> dict:
    attrs = {"availability": "ON_DEMAND"}
    if count:
        attrs.update(ebs_volume_count=count, ebs_volume_size=size)
    return {"node_type_id": node, "num_workers": workers, "aws_attributes": attrs}


def test_grows_a_nearly_full_disk() -> None:
    advice = recommend_ebs(_cluster(count=1, size=100), [DiskUse(disk_spilled_bytes=300 * GB, shuffle_write_bytes=100 * GB)])
    assert advice is not None and advice.volume_count == 1 and advice.volume_size_gb >= 2 * 100 + 20
    assert "nearly full" in advice.reason
    merged = apply_ebs_advice(_cluster(count=1, size=100), advice)
    assert merged["aws_attributes"]["ebs_volume_size"] == advice.volume_size_gb
    assert merged["aws_attributes"]["availability"] == "ON_DEMAND"


def test_adds_ebs_for_spill_only_without_local_disk() -> None:
    spill = [DiskUse(disk_spilled_bytes=200 * GB)]
    added = recommend_ebs(_cluster(), spill)
    assert added is not None and added.volume_count == 1 and added.volume_size_gb >= 100
    assert recommend_ebs(_cluster("m5d.xlarge"), spill) is None  # NVMe instance store
    assert recommend_ebs(_cluster(), [DiskUse(shuffle_write_bytes=5 * GB)]) is None  # no spill: leave it
    assert has_local_disk("r6gd.2xlarge") and has_local_disk("i3.xlarge") and not has_local_disk("m5.xlarge")


def test_shrinks_idle_disk_and_leaves_a_fitting_one() -> None:
    idle = recommend_ebs(_cluster(count=3, size=500), [DiskUse(shuffle_write_bytes=4 * GB)])
    assert idle is not None and (idle.volume_count, idle.volume_size_gb) == (1, 100)
    assert recommend_ebs(_cluster(count=1, size=100), [DiskUse(shuffle_write_bytes=100 * GB)]) is None
    assert recommend_ebs(_cluster(count=1, size=100), []) is None
