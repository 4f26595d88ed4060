"""Local Databricks workspace emulator and job performance models (test bed and embedded demo backend).

Light to import: the REST server (FastAPI) lives in ``simulator.server`` and is imported only when served.
"""

from __future__ import annotations

from airflow_provider_gradient.simulator.models import (
    ClusterSpec,
    ClusterSpecError,
    Profile,
    ProfileError,
    SimResult,
    list_profiles,
    load_profile,
    simulate,
)
from airflow_provider_gradient.simulator.oracle import OracleResult, oracle, price

__all__ = [
    "ClusterSpec",
    "ClusterSpecError",
    "OracleResult",
    "Profile",
    "ProfileError",
    "SimResult",
    "list_profiles",
    "load_profile",
    "oracle",
    "price",
    "simulate",
]
