"""The Gradient pages inside Airflow (HTML served by the plugin's FastAPI app under ``/gradient/ui``).

``router`` is included by ``plugins/app.py``; pages: projects (``/ui/``), project (``/ui/projects/{id}``),
Discover (``/ui/discover``), the task-instance tab (``/ui/ti?dag_id=&run_id=&task_id=``) and static files.
The router is imported on first access, so light submodules (``warmup``) can be imported without FastAPI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["router"]


def __getattr__(name: str) -> Any:
    if name == "router":
        from airflow_provider_gradient.plugins.ui import discover_page as _discover_page  # noqa: F401  (routes)
        from airflow_provider_gradient.plugins.ui.routes import router

        return router
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
