"""The REST API of the plugin: JSON under ``/gradient/api/v1`` (``router``; the pages' read model:
``read_router``), errors mapped to HTTP codes."""

from __future__ import annotations

from airflow_provider_gradient.plugins.api.errors import install_error_handlers
from airflow_provider_gradient.plugins.api.read_routes import router as read_router
from airflow_provider_gradient.plugins.api.routes import router

__all__ = ["install_error_handlers", "read_router", "router"]
