"""The optimiser: learn each job's runtime vs cluster shape, recommend the cheapest shape meeting the SLA.

Pure (numpy/scipy/scikit-learn); no Airflow, no I/O. Entry point: :func:`recommend`.
"""

from __future__ import annotations

from airflow_provider_gradient.core.optimizer.engine import recommend
from airflow_provider_gradient.core.optimizer.types import (
    ClusterShape,
    NodeOption,
    Observation,
    OptimizerError,
    OptimizerSettings,
    Recommendation,
    SearchSpace,
)

__all__ = [
    "ClusterShape",
    "NodeOption",
    "Observation",
    "OptimizerError",
    "OptimizerSettings",
    "Recommendation",
    "SearchSpace",
    "recommend",
]
