"""AWS mode: the emulator's clusters as EC2 instances + EBS volumes in moto (tagged like Databricks does).

Launch and termination times follow the simulated clock when moto runs in the same process (tests,
``--aws-endpoint embedded``); with an external moto server they carry moto's own wall-clock times.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from airflow_provider_gradient.simulator.models import SimResult

__all__ = ["AwsBackend", "start_embedded_moto"]

log = logging.getLogger(__name__)
AMI = "ami-12c6146b"


def start_embedded_moto() -> tuple[Any, str]:
    """Start a moto server in this process; returns ``(server, endpoint_url)``."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def _naive_utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).replace(tzinfo=None)


class AwsBackend:
    """Creates/terminates a cluster's instances and volumes, and stores S3 event logs, through boto3."""

    def __init__(self, endpoint: str, region: str = "us-east-1", faults: Any = None) -> None:
        import boto3

        kw: dict[str, Any] = {"endpoint_url": endpoint, "region_name": region,
                              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        self.endpoint, self.region, self.faults = endpoint, region, faults
        self.ec2 = boto3.client("ec2", **kw)
        self.s3 = boto3.client("s3", **kw)
        self.instances: dict[str, list[tuple[str, int]]] = {}  # cluster id -> [(instance id, node index)]

    def _throttled(self) -> bool:
        return bool(self.faults is not None and self.faults.take_aws_throttle())

    def launch(self, cluster: dict[str, Any], res: SimResult) -> bool:
        """Run one instance per node of the simulation (tags: Vendor, ClusterId, ClusterName, ...)."""
        if self._throttled():
            return False
        cid = cluster["cluster_id"]
        spec = res.spec
        ids: list[tuple[str, int]] = []
        base_tags = [{"Key": "Vendor", "Value": "Databricks"}, {"Key": "ClusterId", "Value": cid},
                     {"Key": "ClusterName", "Value": cluster["cluster_name"]}, {"Key": "Creator", "Value": "emulator@example.com"},
                     {"Key": "JobId", "Value": str(cluster["job_id"])}, {"Key": "RunName", "Value": cluster["cluster_name"]}]
        base_tags += [{"Key": str(k), "Value": str(v)} for k, v in (cluster["new_cluster"].get("custom_tags") or {}).items()]
        for node in res.nodes:
            tags = base_tags + [{"Key": "Name", "Value": f"workerenv-emulator-{cid}-{node.role}-{node.index}"},
                                {"Key": "databricks-instance-role", "Value": node.role}]
            kwargs: dict[str, Any] = {
                "ImageId": AMI, "MinCount": 1, "MaxCount": 1, "InstanceType": node.node_type,
                "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
            }
            if node.market == "spot":
                kwargs["InstanceMarketOptions"] = {"MarketType": "spot"}
            try:
                resp = self.ec2.run_instances(**kwargs)
            except Exception:  # noqa: BLE001 - moto may reject market options: retry as on-demand
                kwargs.pop("InstanceMarketOptions", None)
                resp = self.ec2.run_instances(**kwargs)
            iid = resp["Instances"][0]["InstanceId"]
            ids.append((iid, node.index))
            zone = resp["Instances"][0].get("Placement", {}).get("AvailabilityZone") or f"{self.region}a"
            for i in range(spec.ebs_volume_count if spec.ebs_volume_size_gb else 0):
                vol = self.ec2.create_volume(AvailabilityZone=zone, Size=spec.ebs_volume_size_gb, VolumeType="gp3",
                                             TagSpecifications=[{"ResourceType": "volume", "Tags": tags}])
                self.ec2.attach_volume(InstanceId=iid, VolumeId=vol["VolumeId"], Device=f"/dev/xvd{chr(ord('b') + i)}")
            self._patch_times(iid, cluster["created_ms"] + int(node.start_s * 1000), None)
        self.instances[cid] = ids
        return True

    def terminate(self, cluster: dict[str, Any], res: SimResult, end_ms: int) -> bool:
        """Terminate the cluster's instances (volumes go with them)."""
        if self._throttled():
            return False
        ids = self.instances.get(cluster["cluster_id"])
        if ids is None:
            found = self.ec2.describe_instances(Filters=[{"Name": "tag:ClusterId", "Values": [cluster["cluster_id"]]}])
            ids = [(i["InstanceId"], 0) for r in found["Reservations"] for i in r["Instances"]]
        if ids:
            self.ec2.terminate_instances(InstanceIds=[i for i, _ in ids])
        ends = {n.index: cluster["created_ms"] + int(n.end_s * 1000) for n in res.nodes}
        reclaimed = {n.index for n in res.nodes if n.removed_reason == "spot_interruption"}
        for iid, idx in ids:
            self._patch_times(iid, None, min(end_ms, ends.get(idx, end_ms)), spot_reclaimed=idx in reclaimed)
        return True

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        """Write an S3 object (creating the bucket on first use)."""
        try:
            self.s3.head_bucket(Bucket=bucket)
        except Exception:  # noqa: BLE001 - missing bucket: create it
            self.s3.create_bucket(Bucket=bucket)
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def _patch_times(self, instance_id: str, launch_ms: int | None, end_ms: int | None,
                     *, spot_reclaimed: bool = False) -> None:
        """Align moto's launch/termination times with the simulated clock (same-process moto only); a spot
        worker the market reclaimed gets EC2's ``Server.SpotInstanceTermination`` state reason."""
        try:
            from moto.backends import get_backend
            from moto.core import DEFAULT_ACCOUNT_ID
        except ImportError:
            return
        try:
            backend = get_backend("ec2")[DEFAULT_ACCOUNT_ID][self.region]
            inst = backend.get_instance(instance_id)
        except Exception:  # noqa: BLE001 - moto runs in another process: keep its wall-clock times
            return
        if launch_ms is not None:
            inst.launch_time = _naive_utc(launch_ms)
            for vol in backend.volumes.values():
                if getattr(getattr(vol, "attachment", None), "instance", None) is inst:
                    vol.create_time = _naive_utc(launch_ms)
        if end_ms is not None:
            when = _naive_utc(end_ms).strftime("%Y-%m-%d %H:%M:%S GMT")
            if spot_reclaimed:
                from moto.ec2.models.instances import StateReason

                inst._reason = f"Service initiated ({when})"
                inst.state_reason = StateReason("Server.SpotInstanceTermination: Spot instance termination",
                                                 "Server.SpotInstanceTermination")
            else:
                inst._reason = f"User initiated ({when})"
