"""Issue 15, item 4, end to end: a cluster with EBS volumes (emulator + moto) is recorded with a storage
cost > 0 -- its volumes are found by their ClusterId tag although they are detached by then -- and, the
event log showing the disk mostly idle, the recommendation shrinks the EBS volumes and says why."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.slow

APP_ID = "it_ebs.etl"
def test_ebs_cost_from_tagged_volumes_and_ebs_recommendation(one_task_dag: Any, emulator: Any, gradient_store: Any) -> None:
    import boto3

    from airflow_provider_gradient.hooks.collectors.cloud import AwsClusterCollector

    if not emulator.aws_endpoint:
        pytest.skip("emulator without moto")
    dag = one_task_dag("it_ebs", {"node_type_id": "m5.xlarge", "num_workers": 4, "aws_attributes": {
        "availability": "ON_DEMAND", "ebs_volume_count": 3, "ebs_volume_size": 500,
        "ebs_volume_type": "GENERAL_PURPOSE_SSD"}}, gradient_auto_apply=False, gradient_aws_conn_id="aws_default")
    dag.test()
    svc = gradient_store
    (run,) = svc.list_runs(APP_ID)
    assert run.outcome == "success" and run.log_status == "complete"
    assert run.cost is not None and run.cost.storage_usd > 0, run.cost
    # 5 nodes x 3 x 500 GB of gp3 ($0.08/GB-month) for about the run's node time
    hours = (run.end_ms - run.start_ms) / 3.6e6
    expected = 5 * 3 * 500 * 0.08 / 730 * hours
    assert 0.5 * expected < run.cost.storage_usd < 3 * expected, (run.cost.storage_usd, expected)

    # the collector finds the (now detached) volumes by the cluster's tag
    ec2 = boto3.client("ec2", endpoint_url=emulator.aws_endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    _instances, volumes = AwsClusterCollector(client=ec2).collect(str(run.cluster_id))
    assert len(volumes) == 15 and {v.size_gb for v in volumes} == {500.0}

    # the event log shows a few GB written to disk: 3x500 GB per node is idle -> one 100 GB volume
    rec = svc.latest_recommendation(APP_ID)
    assert rec is not None
    attrs = rec.cluster["aws_attributes"]
    assert (attrs["ebs_volume_count"], attrs["ebs_volume_size"]) == (1, 100), attrs
    assert "EBS mostly idle" in rec.reason
