"""The Gradient service: use cases over the store, value objects in and out (no Airflow import).

from airflow_provider_gradient.service import GradientService
svc = GradientService.from_url("sqlite:////tmp/gradient.db")
"""

from __future__ import annotations

from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.errors import (
    AuthenticationError,
    ConflictError,
    GradientError,
    GradientValidationError,
    NotFoundError,
    OptimizerUnavailableError,
    PermissionDeniedError,
)
from airflow_provider_gradient.service.schemas import (
    ApplyChoice,
    ApplyChoiceIn,
    ApplyIn,
    Health,
    Project,
    ProjectIn,
    ProjectSettings,
    ProjectSettingsIn,
    Recommendation,
    RecommendationIn,
    RecordOutcome,
    Run,
    RunCost,
    RunIn,
    RunPricing,
    Workspace,
    WorkspaceIn,
)
from airflow_provider_gradient.service.service import GradientService
from airflow_provider_gradient.service.store_tx import StoreBusyError

__all__ = [
    "ApplyChoice",
    "ApplyChoiceIn",
    "ApplyIn",
    "AuthenticationError",
    "ConflictError",
    "GradientClient",
    "GradientError",
    "GradientService",
    "GradientValidationError",
    "Health",
    "NotFoundError",
    "OptimizerUnavailableError",
    "PermissionDeniedError",
    "Project",
    "ProjectIn",
    "ProjectSettings",
    "ProjectSettingsIn",
    "Recommendation",
    "RecommendationIn",
    "RecordOutcome",
    "Run",
    "RunCost",
    "RunIn",
    "RunPricing",
    "StoreBusyError",
    "Workspace",
    "WorkspaceIn",
]
