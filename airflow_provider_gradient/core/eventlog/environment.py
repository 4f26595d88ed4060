"""Facts from the environment: platform detection, Databricks cluster facts, the Spark properties we keep."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_gradient.core.cluster import is_photon
from airflow_provider_gradient.core.eventlog.summary import DatabricksClusterFacts
from airflow_provider_gradient.core.redact import redact_properties

_TAG = "spark.databricks.clusterUsageTags."

#: Spark properties carried in the summary (redacted by Spark's rule before they are kept).
KEPT_PROPERTIES: frozenset[str] = frozenset(
    {
        "spark.master",
        "spark.submit.deployMode",
        "spark.executor.cores",
        "spark.executor.memory",
        "spark.executor.memoryOverhead",
        "spark.executor.instances",
        "spark.driver.cores",
        "spark.driver.memory",
        "spark.task.cpus",
        "spark.default.parallelism",
        "spark.sql.shuffle.partitions",
        "spark.sql.adaptive.enabled",
        "spark.dynamicAllocation.enabled",
        "spark.dynamicAllocation.minExecutors",
        "spark.dynamicAllocation.maxExecutors",
        "spark.memory.fraction",
        "spark.memory.offHeap.enabled",
        "spark.memory.offHeap.size",
        "spark.databricks.photon.enabled",
        "spark.databricks.clusterUsageTags.sparkVersion",
        "spark.eventLog.compress",
        "spark.eventLog.compression.codec",
        "spark.eventLog.rolling.enabled",
    }
)


def as_str_map(value: object) -> dict[str, str]:
    """A Spark properties block as ``{str: str}`` (dict form, or a list of ``[key, value]`` pairs)."""
    out: dict[str, str] = {}
    items: list[tuple[Any, Any]]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(p[0], p[1]) for p in value if isinstance(p, list | tuple) and len(p) == 2]
    else:
        return out
    for k, v in items:
        if isinstance(k, str) and isinstance(v, str | int | float | bool):
            out[k] = str(v)
    return out


def kept_properties(props: Mapping[str, str]) -> dict[str, str]:
    """The properties we keep in the summary, redacted."""
    return redact_properties({k: v for k, v in props.items() if k in KEPT_PROPERTIES})


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except (ValueError, OverflowError):
        return None


def _str(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def cluster_facts(props: Mapping[str, str]) -> DatabricksClusterFacts | None:
    """Databricks cluster facts from ``clusterUsageTags`` properties; None when there are none."""
    tags = redact_properties({k[len(_TAG) :]: v for k, v in props.items() if k.startswith(_TAG)})
    if not tags:
        return None

    def g(*names: str) -> str | None:
        for n in names:
            if _str(tags.get(n)) is not None:
                return _str(tags.get(n))
        return None

    engine = g("runtimeEngine")
    dbr = g("sparkVersion", "effectiveSparkVersion")
    photon = is_photon(engine, dbr)
    if (props.get("spark.databricks.photon.enabled") or "").lower() == "true" and engine is None:
        photon = True
    return DatabricksClusterFacts(
        cluster_id=g("clusterId"),
        cluster_name=g("clusterName"),
        cloud=g("cloudProvider"),
        region=g("region", "dataPlaneRegion"),
        zone=g("containerZoneId"),
        node_type=g("clusterNodeType") or _str(props.get("spark.databricks.workerNodeTypeId")),
        driver_node_type=g("driverNodeType") or _str(props.get("spark.databricks.driverNodeTypeId")),
        workers=_int(g("clusterWorkers")),
        target_workers=_int(g("clusterTargetWorkers")),
        min_workers=_int(g("clusterMinWorkers")),
        max_workers=_int(g("clusterMaxWorkers")),
        scaling_type=g("clusterScalingType"),
        availability=g("clusterAvailability"),
        first_on_demand=_int(g("clusterFirstOnDemand")),
        spot_bid_price_percent=_int(g("clusterSpotBidPricePercent")),
        runtime_engine=engine,
        photon=photon,
        databricks_runtime=dbr,
        ebs_volume_type=g("clusterEbsVolumeType"),
        ebs_volume_count=_int(g("clusterEbsVolumeCount")),
        ebs_volume_size_gb=_int(g("clusterEbsVolumeSize")),
        sku=g("clusterSku"),
    )


def detect_platform(
    props: Mapping[str, str], system: Mapping[str, str], app_id: str | None, databricks_header: bool
) -> str:
    """One of databricks / emr / k8s / yarn / standalone / local / unknown.

    :param props: Spark properties.
    :param system: JVM system properties (EMR sets ``EMR_CLUSTER_ID`` there).
    :param app_id: the application id (``application_*`` is YARN, ``local-*`` local mode).
    :param databricks_header: a DBCEventLoggingListenerMetadata line was seen.
    """
    if databricks_header or any(k.startswith(_TAG) for k in props):
        return "databricks"
    emr_markers = ("/usr/share/aws/emr", "/usr/lib/emr", "amzn-emr")
    if (
        "EMR_CLUSTER_ID" in system
        or any(k.startswith("spark.emr.") for k in props)
        or any(m in v for v in props.values() for m in emr_markers)
    ):
        return "emr"
    master = (props.get("spark.master") or "").strip().lower()
    app = app_id or props.get("spark.app.id") or ""
    if master.startswith("k8s://") or app.startswith("spark-") and "spark.kubernetes.namespace" in props:
        return "k8s"
    if master.startswith("yarn") or app.startswith("application_"):
        return "yarn"
    if master.startswith(("spark://", "local-cluster", "mesos://")) or app.startswith("app-"):
        return "standalone"
    if master.startswith("local") or app.startswith("local-"):
        return "local"
    return "unknown"
