"""The Gradient store: SQLAlchemy 2 models, engines, repositories and Alembic migrations.

SQLite (default ``sqlite:///$AIRFLOW_HOME/gradient.db``, WAL) or PostgreSQL 15 (psycopg 3). No Airflow
import here: callers pass the URL.
"""

from __future__ import annotations

from airflow_provider_gradient.store.engine import Engines, default_store_url, get_engines, normalize_url
from airflow_provider_gradient.store.migrate import downgrade, ensure_schema, head_revision, upgrade
from airflow_provider_gradient.store.models import (
    Base,
    ProjectRow,
    RecommendationRow,
    RunRow,
    WorkspaceRow,
)

__all__ = [
    "Base",
    "Engines",
    "ProjectRow",
    "RecommendationRow",
    "RunRow",
    "WorkspaceRow",
    "default_store_url",
    "downgrade",
    "ensure_schema",
    "get_engines",
    "head_revision",
    "normalize_url",
    "upgrade",
]
