"""What a run was billed as: its Databricks compute type and region, read from what Databricks reported.

Databricks bills DBUs at a $/DBU that depends on the compute type: *jobs compute* (a cluster a job created,
``cluster_source`` ``JOB``), *Jobs Light* (a job cluster on the Databricks Light runtime, ``apache-spark-…``
Spark versions), *all-purpose compute* (an interactive cluster, ``cluster_source`` ``UI``/``API``, which is what a
task on an ``existing_cluster_id`` runs on), Delta Live Tables (``PIPELINE``), SQL (``SQL``) ... Photon multiplies
the DBUs of jobs and all-purpose compute. The region (and so the cloud prices) comes from the cluster's zone
(``aws_attributes.zone_id`` ``us-west-2a``, ``gcp_attributes.zone_id`` ``us-central1-a``) or the Spark event
log's ``clusterUsageTags.region``. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_gradient.core.cluster import is_photon

#: The compute type of a run whose compute could not be known (it is priced at the jobs rate and says so).
UNKNOWN_COMPUTE = "unknown"

#: ``clusters/get`` ``cluster_source`` -> compute type billed.
_BY_SOURCE = {
    "JOB": "jobs",
    "UI": "all_purpose",
    "API": "all_purpose",
    "PIPELINE": "dlt",
    "PIPELINE_MAINTENANCE": "dlt",
    "SQL": "sql",
    "MODELS": "model_serving",
}
#: an AWS (``us-west-2a``) or GCP (``us-central1-a``) zone: the region and the zone letter
_ZONE = re.compile(r"^(?P<region>[a-z]{2,}(?:-[a-z]+)+-?\d+)-?[a-z]$")


@dataclass(frozen=True, slots=True)
class ComputeUse:
    """The compute a run was billed as.

    :param compute_type: the catalog's compute type (``jobs``, ``jobs_light``, ``all_purpose``, ``dlt``, ``sql``
        ...) or :data:`UNKNOWN_COMPUTE`.
    :param photon: the cluster ran Photon (its DBUs are multiplied).
    :param source: where it was read, for the run record (``clusters/get cluster_source=JOB``).
    """

    compute_type: str
    photon: bool
    source: str

    @property
    def known(self) -> bool:
        """Whether the compute type was read from Databricks' answers (else it is priced at the jobs rate)."""
        return self.compute_type != UNKNOWN_COMPUTE

    @property
    def priced_as(self) -> str:
        """The compute type whose $/DBU prices the run (``jobs`` for an unknown one)."""
        return self.compute_type if self.known else "jobs"


def _light(spark_version: Any) -> bool:
    """Databricks Light runtime (``apache-spark-2.4.x-scala2.11``): billed as Jobs Light compute."""
    return str(spark_version or "").strip().lower().startswith("apache-spark-")


def compute_use(
    report: Mapping[str, Any] | None,
    submitted: Mapping[str, Any] | None = None,
    *,
    existing_cluster: bool = False,
) -> ComputeUse:
    """The compute type a run was billed as.

    Read, in order: a task on an ``existing_cluster_id`` (all-purpose), the cluster report's ``cluster_source``
    (``clusters/get``), else the submitted ``new_cluster`` (``runs/submit`` always creates a job cluster). A job
    cluster on a Databricks Light runtime is Jobs Light; Photon by ``runtime_engine`` or a ``-photon-`` version.

    :param report: the ``clusters/get`` answer (None or empty when it could not be read).
    :param submitted: the ``new_cluster`` that was submitted (None when the run used no new cluster).
    :param existing_cluster: the task ran on an ``existing_cluster_id``.
    """
    report = report or {}
    spec = {**(submitted or {}), **{k: v for k, v in report.items() if v is not None}}
    photon = is_photon(spec.get("runtime_engine"), spec.get("spark_version"))
    source = str(report.get("cluster_source") or "").strip().upper()
    if existing_cluster:
        return ComputeUse("all_purpose", photon, "task on existing_cluster_id (all-purpose cluster)")
    if source:
        ct = _BY_SOURCE.get(source)
        if ct is None:
            return ComputeUse(UNKNOWN_COMPUTE, photon, f"clusters/get cluster_source={source} is not a known source")
        if ct == "jobs" and _light(spec.get("spark_version")):
            ct = "jobs_light"
        return ComputeUse(ct, photon, f"clusters/get cluster_source={source}")
    if submitted:
        ct = "jobs_light" if _light(spec.get("spark_version")) else "jobs"
        return ComputeUse(ct, photon, "submitted new_cluster (a job cluster); clusters/get gave no cluster_source")
    return ComputeUse(UNKNOWN_COMPUTE, photon, "no cluster report and no submitted cluster")


def region_of_zone(zone: Any) -> str | None:
    """The region of an AWS/GCP availability zone (``us-west-2a`` -> ``us-west-2``, ``us-central1-a`` ->
    ``us-central1``); None for ``auto``, empty or anything else."""
    m = _ZONE.match(str(zone or "").strip().lower())
    return m.group("region") if m else None


_LOCATION = re.compile(r"^[a-z]+[a-z0-9]*$")


def reported_region(
    report: Mapping[str, Any] | None,
    eventlog_region: str | None = None,
    instance_zones: Sequence[str | None] = (),
) -> tuple[str | None, str]:
    """The region a cluster ran in, from what Databricks and the cloud reported: its zone
    (``aws_attributes.zone_id`` / ``gcp_attributes.zone_id``, unless ``auto``), else its instances' zone (EC2
    availability zone, Azure VM location), else the event log's ``clusterUsageTags.region``.

    :param report: the ``clusters/get`` answer (or the submitted ``new_cluster``).
    :param eventlog_region: ``AppSummary.cluster.region`` of the run's event log.
    :param instance_zones: the zone of each cloud instance (``us-west-2a``) or Azure location (``eastus``).
    :return: (region or None, where it was read).
    """
    for block in ("aws_attributes", "gcp_attributes"):
        attrs = (report or {}).get(block)
        if isinstance(attrs, Mapping):
            region = region_of_zone(attrs.get("zone_id"))
            if region:
                return region, f"{block}.zone_id={attrs.get('zone_id')}"
    for zone in instance_zones:
        z = str(zone or "").strip().lower()
        region = region_of_zone(z) or (z if _LOCATION.match(z) else None)
        if region:
            return region, f"cloud instance zone {z}"
    if eventlog_region and str(eventlog_region).strip():
        return str(eventlog_region).strip().lower(), "event log clusterUsageTags.region"
    return None, "not reported (no zone, no instance zone, no event-log region)"
