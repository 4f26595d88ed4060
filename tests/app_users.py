"""The plugin app as a given Airflow user, without Airflow's authentication (in-process tests of pages and API)."""

from __future__ import annotations

from typing import Any


def as_admin(app: Any) -> Any:
    """``app`` with every user dependency (pages, page actions, REST API) answering an admin; returns ``app``."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.security import get_user

    from airflow_provider_gradient.plugins.ui import auth

    user = SimpleAuthManagerUser(username="admin", role="admin")
    for dep in (auth.page_user, auth.api_user, get_user):
        app.dependency_overrides[dep] = lambda: user
    return app
