"""The Gradient pages inside Airflow (HTML served by the plugin's FastAPI app under ``/gradient/ui``).

``router`` is included by ``plugins/app.py``; pages: projects (``/ui/``), project (``/ui/projects/{id}``),
Discover (``/ui/discover``), the task-instance tab (``/ui/ti?dag_id=&run_id=&task_id=``) and static files.
"""

from __future__ import annotations

from airflow_provider_gradient.plugins.ui import discover_page as _discover_page  # noqa: F401  (registers routes)
from airflow_provider_gradient.plugins.ui.routes import router

__all__ = ["router"]
