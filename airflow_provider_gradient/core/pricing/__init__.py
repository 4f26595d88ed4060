"""Price catalog (cloud instance, DBU and disk prices) and the run cost model. Pure: no Airflow, no network."""

from __future__ import annotations

from airflow_provider_gradient.core.pricing.arch import ARM64, X86_64, cpu_architecture
from airflow_provider_gradient.core.pricing.basis import (
    UNKNOWN_COMPUTE,
    ComputeUse,
    compute_use,
    region_of_zone,
    reported_region,
)
from airflow_provider_gradient.core.pricing.catalog import (
    COMPUTE_TYPES,
    NodeType,
    PriceCatalog,
    load_catalog,
    merge_catalogs,
    normalize_cloud,
    normalize_compute_type,
    shipped_catalog_document,
)
from airflow_provider_gradient.core.pricing.cost import (
    EBS_VOLUME_TYPES,
    ClusterTimeline,
    NodeInterval,
    RunCost,
    VolumeInterval,
    compute_run_cost,
    dbu_usd_per_node_dbu,
    ebs_volume_type,
    estimate_cluster_cost,
    estimate_run_cost,
)
from airflow_provider_gradient.core.pricing.errors import (
    CatalogFormatError,
    PricingError,
    UnknownCloudError,
    UnknownNodeTypeError,
    UnknownPlanError,
    UnknownRegionError,
    UnknownVolumeTypeError,
)

__all__ = [
    "UNKNOWN_COMPUTE",
    "ComputeUse",
    "compute_use",
    "region_of_zone",
    "reported_region",
    "ARM64",
    "X86_64",
    "COMPUTE_TYPES",
    "CatalogFormatError",
    "ClusterTimeline",
    "NodeInterval",
    "NodeType",
    "PriceCatalog",
    "PricingError",
    "RunCost",
    "UnknownCloudError",
    "UnknownNodeTypeError",
    "UnknownPlanError",
    "UnknownRegionError",
    "UnknownVolumeTypeError",
    "VolumeInterval",
    "EBS_VOLUME_TYPES",
    "compute_run_cost",
    "dbu_usd_per_node_dbu",
    "ebs_volume_type",
    "estimate_cluster_cost",
    "cpu_architecture",
    "estimate_run_cost",
    "load_catalog",
    "merge_catalogs",
    "normalize_cloud",
    "normalize_compute_type",
    "shipped_catalog_document",
]
