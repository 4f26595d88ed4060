"""Cloud collectors: the VMs and disks a Databricks cluster used, from the cloud's own APIs.

AWS: ``describe_instances`` filtered on ``tag:ClusterId`` and ``describe_volumes`` (every page, results
accumulated, never overwritten per page) with credentials from an Airflow AWS connection. Azure: VMs
tagged ``ClusterId`` through azure-mgmt-compute with an azure-identity credential.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_gradient.service.collected import CloudInstance, CloudVolume

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.compute import ComputeManagementClient
    from botocore.client import BaseClient


def _ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


class AwsClusterCollector:
    """EC2 instances and EBS volumes of a Databricks cluster.

    :param aws_conn_id: Airflow AWS connection (credentials never leave it).
    :param region: the workspace's region.
    :param client: a ready boto3 EC2 client (tests / moto).
    """

    def __init__(
        self, aws_conn_id: str | None = "aws_default", region: str | None = None, client: BaseClient | None = None
    ) -> None:
        if client is None:
            from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

            client = AwsBaseHook(aws_conn_id=aws_conn_id, client_type="ec2", region_name=region).get_conn()
        self.client = client

    def instances(self, cluster_id: str) -> list[dict[str, Any]]:
        """Raw EC2 instance records tagged ``ClusterId=<cluster_id>`` (all pages)."""
        out: list[dict[str, Any]] = []
        paginator = self.client.get_paginator("describe_instances")
        for page in paginator.paginate(Filters=[{"Name": "tag:ClusterId", "Values": [cluster_id]}]):
            for reservation in page.get("Reservations") or []:
                out.extend(reservation.get("Instances") or [])
        return out

    def volumes(
        self, instance_ids: Iterable[str], cluster_id: str | None = None, volume_ids: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """Raw EBS volume records of a cluster (all pages, accumulated, one record per volume id).

        Found three ways, because a terminated cluster's volumes are detached (or gone) by the time a run
        is recorded: tagged ``ClusterId=<cluster_id>`` (Databricks tags its volumes like its instances),
        listed in the instances' block-device mappings, or still attached to one of ``instance_ids``.
        """
        found: dict[str, dict[str, Any]] = {}
        paginator = self.client.get_paginator("describe_volumes")
        if cluster_id:
            for page in paginator.paginate(Filters=[{"Name": "tag:ClusterId", "Values": [cluster_id]}]):
                found.update({v["VolumeId"]: v for v in page.get("Volumes") or []})
        for name, values in (("volume-id", sorted(set(volume_ids) - set(found))),
                             ("attachment.instance-id", sorted(set(instance_ids)))):
            for start in range(0, len(values), 199):  # filter values are capped at 200
                chunk = values[start : start + 199]
                for page in paginator.paginate(Filters=[{"Name": name, "Values": chunk}]):
                    found.update({v["VolumeId"]: v for v in page.get("Volumes") or []})
        return list(found.values())

    def collect(self, cluster_id: str, *, driver_instance_id: str | None = None) -> tuple[tuple[CloudInstance, ...], tuple[CloudVolume, ...]]:
        """Instances and volumes of a cluster as ``service.collected`` value objects."""
        raw = self.instances(cluster_id)
        insts = []
        for r in raw:
            tags = {t.get("Key"): t.get("Value") for t in r.get("Tags") or []}
            role = None
            if driver_instance_id:
                role = "driver" if r["InstanceId"] == driver_instance_id else "worker"
            else:
                role = _role_from_tags(tags)
            end = None
            state = (r.get("State") or {}).get("Name")
            if state in ("terminated", "shutting-down", "stopped"):
                end = _ms(r.get("_TerminatedTime")) or _parse_transition(r.get("StateTransitionReason"))
            insts.append(
                CloudInstance(
                    instance_id=r["InstanceId"],
                    instance_type=r.get("InstanceType", ""),
                    market="spot" if r.get("InstanceLifecycle") == "spot" else "on_demand",
                    start_ms=_ms(r.get("LaunchTime")) or 0,
                    end_ms=end,
                    role=role,
                    state_reason=(r.get("StateReason") or {}).get("Code") or None,
                    zone=(r.get("Placement") or {}).get("AvailabilityZone") or None,
                )
            )
        mapped = [str((m.get("Ebs") or {}).get("VolumeId")) for r in raw for m in r.get("BlockDeviceMappings") or []
                  if (m.get("Ebs") or {}).get("VolumeId")]
        vols = []
        for v in self.volumes([i.instance_id for i in insts], cluster_id, mapped):
            vols.append(
                CloudVolume(
                    volume_id=v["VolumeId"],
                    volume_type=v.get("VolumeType", "gp3"),
                    size_gb=float(v.get("Size", 0)),
                    start_ms=_ms(v.get("CreateTime")) or 0,
                    end_ms=None,
                )
            )
        return tuple(insts), tuple(vols)


def _role_from_tags(tags: dict[str, Any]) -> str | None:
    """driver/worker from instance tags (``databricks-instance-role``, ``DatabricksRole`` or the Name)."""
    for key in ("databricks-instance-role", "DatabricksRole"):
        value = str(tags.get(key) or "").lower()
        if value in ("driver", "worker"):
            return value
    name = str(tags.get("Name") or "")
    if "-driver" in name:
        return "driver"
    if "-worker" in name:
        return "worker"
    return None


def _parse_transition(reason: str | None) -> int | None:
    """End time from an EC2 ``StateTransitionReason`` like ``User initiated (2024-01-01 10:00:00 GMT)``."""
    if not reason or "(" not in reason:
        return None
    text = reason[reason.rfind("(") + 1 : reason.rfind(")")].replace(" GMT", "+00:00")
    try:
        return int(datetime.fromisoformat(text).timestamp() * 1000)
    except ValueError:
        return None


class AzureClusterCollector:
    """Azure VMs tagged ``ClusterId`` (Databricks managed resource group) and their disks.

    :param subscription_id: Azure subscription of the workspace's managed resource group.
    :param resource_group: the managed resource group.
    :param credential: azure-identity credential (None: ``DefaultAzureCredential``).
    """

    def __init__(
        self,
        subscription_id: str,
        resource_group: str,
        credential: TokenCredential | None = None,
        client: ComputeManagementClient | None = None,
    ) -> None:
        if client is None:
            from azure.mgmt.compute import ComputeManagementClient

            if credential is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            client = ComputeManagementClient(credential, subscription_id)
        self.client = client
        self.resource_group = resource_group

    @classmethod
    def from_connection(cls, azure_conn_id: str) -> AzureClusterCollector:
        """A collector from an Airflow ``azure`` connection: login = client id, password = client secret,
        extra ``tenantId``, ``subscriptionId`` and ``resource_group`` (the workspace's managed resource
        group). Without a client id/secret, ``DefaultAzureCredential`` (managed identity, environment)."""
        conn = _get_connection(azure_conn_id)
        extra = conn.extra_dejson if conn is not None else {}

        def pick(*keys: str) -> str | None:
            for k in keys:
                for name in (k, f"extra__azure__{k}"):
                    if extra.get(name):
                        return str(extra[name])
            return None

        subscription = pick("subscriptionId", "subscription_id")
        group = pick("resource_group", "resourceGroup", "managed_resource_group")
        if not subscription or not group:
            raise ValueError(f"azure connection {azure_conn_id!r} needs extra subscriptionId and resource_group "
                             "(the workspace's managed resource group)")
        tenant = pick("tenantId", "tenant_id")
        credential: Any = None
        if conn is not None and conn.login and conn.password and tenant:
            from azure.identity import ClientSecretCredential

            credential = ClientSecretCredential(tenant, conn.login, conn.password)
        return cls(subscription, group, credential)

    def collect(self, cluster_id: str, *, driver_instance_id: str | None = None) -> tuple[tuple[CloudInstance, ...], tuple[CloudVolume, ...]]:
        insts, vols = [], []
        for vm in self.client.virtual_machines.list(self.resource_group):
            tags = vm.tags or {}
            if tags.get("ClusterId") != cluster_id:
                continue
            created = _ms(getattr(vm, "time_created", None)) or 0
            spot = str(getattr(vm, "priority", "") or "").lower() == "spot"
            role = None
            if driver_instance_id:
                role = "driver" if vm.name == driver_instance_id else "worker"
            insts.append(CloudInstance(str(vm.name), vm.hardware_profile.vm_size, "spot" if spot else "on_demand", created, None, role,
                                       zone=str(getattr(vm, "location", "") or "") or None))
            os_disk = getattr(getattr(vm, "storage_profile", None), "os_disk", None)
            for disk in [os_disk, *(getattr(vm.storage_profile, "data_disks", None) or [])]:
                if disk is None or not getattr(disk, "disk_size_gb", None):
                    continue
                sku = str(getattr(getattr(disk, "managed_disk", None), "storage_account_type", "") or "Premium_LRS")
                vols.append(CloudVolume(f"{vm.name}/{disk.name}", "premium_ssd" if "premium" in sku.lower() else "standard_ssd",
                                        float(disk.disk_size_gb), created, None))
        return tuple(insts), tuple(vols)


def _get_connection(conn_id: str) -> Any | None:
    """The Airflow connection ``conn_id``, or None when it is not defined."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - AirflowNotFoundException and friends: not configured
        return None


def connection_exists(conn_id: str | None) -> bool:
    """Whether the Airflow connection is defined (so an absent ``aws_default`` means: no cloud facts)."""
    return bool(conn_id) and _get_connection(str(conn_id)) is not None


def cloud_collector(
    cloud: str, *, aws_conn_id: str | None = None, azure_conn_id: str | None = None, region: str | None = None
) -> AwsClusterCollector | AzureClusterCollector | None:
    """The collector of the project's cloud: EC2/EBS with ``aws_conn_id`` (AWS), VMs/disks with
    ``azure_conn_id`` (Azure); None when that connection is not given."""
    if str(cloud).lower() == "azure":
        return AzureClusterCollector.from_connection(azure_conn_id) if azure_conn_id else None
    return AwsClusterCollector(aws_conn_id, region) if aws_conn_id else None
