"""Spot evidence from real-shaped inputs: NODES_LOST events, EC2 state reasons, event-log counters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from small_logs import one_stage_summary

from airflow_provider_gradient.service.collected import CloudInstance
from airflow_provider_gradient.service.spot import spot_evidence

NODES_LOST = {"type": "NODES_LOST", "timestamp": 1, "details": {
    "current_num_workers": 6, "target_num_workers": 8,
    "reason": {"code": "SPOT_INSTANCE_TERMINATION", "type": "CLOUD_FAILURE", "parameters": {}}}}


def _instance(i: int, state_reason: str) -> CloudInstance:
    return CloudInstance(f"i-{i}", "m5.xlarge", "spot", 1, 2, "worker", state_reason)


def test_each_source_alone_and_together(tmp_path: Path) -> None:
    assert spot_evidence(events=[NODES_LOST]).interruptions == 2
    inst = [_instance(1, "Server.SpotInstanceTermination"), _instance(2, "Client.UserInitiatedShutdown")]
    assert spot_evidence(instances=inst).interruptions == 1
    summary = dataclasses.replace(one_stage_summary(tmp_path), executor_removed_reasons={"worker lost": 3},
                                  executor_lost_failures=12)
    assert spot_evidence(summary=summary, spot_cluster=True).interruptions == 3
    both = spot_evidence(events=[NODES_LOST], instances=inst, summary=summary)
    assert both.interruptions == 3 and len(both.sources) == 3  # the same nodes: the largest count, not the sum


def test_no_spot_signal_means_no_spot(tmp_path: Path) -> None:
    # a worker lost on an on-demand cluster, a resize, an OOM: none of them is a spot reclaim
    resize = {"type": "NODES_LOST", "details": {"current_num_workers": 3, "target_num_workers": 4}}
    summary = dataclasses.replace(one_stage_summary(tmp_path), executor_removed_reasons={"worker lost": 1},
                                  executor_lost_failures=4)
    assert spot_evidence(events=[resize], summary=summary, spot_cluster=False).interruptions == 0
    assert spot_evidence(texts=("java.lang.OutOfMemoryError: Java heap space",)).interruptions == 0
