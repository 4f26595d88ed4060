"""The plugin's FastAPI app (mounted by Airflow's api-server at ``/gradient``).

    /gradient/api/v1/...            REST API (plugins/api)
    /gradient/api/v1/openapi.json   OpenAPI document   (authenticated, like every route)
    /gradient/api/v1/docs           Swagger UI         (authenticated)
    /gradient/ui/...                HTML pages (plugins/ui)

Authentication is Airflow's: the app must run inside ``airflow api-server`` (or a process that initialised
the auth manager); tests may override ``airflow.api_fastapi.core_api.security.get_user``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from airflow_provider_gradient import __version__

if TYPE_CHECKING:
    from airflow_provider_gradient.service import GradientService

API_DESCRIPTION = (
    "Gradient for Airflow: projects (one per optimised Databricks task), their runs and the recommended "
    "clusters. Authenticate with an Airflow JWT (`POST /auth/token`) as `Authorization: Bearer <token>`."
)


def create_app(service: GradientService | None = None, *, include_ui: bool = True) -> FastAPI:
    """Build the app. ``service``: a GradientService to use (default: built from ``[gradient]`` on first use)."""
    from airflow.api_fastapi.core_api.security import get_user

    from airflow_provider_gradient.plugins.api import install_error_handlers, read_router, router

    app = FastAPI(
        title="Gradient",
        version=__version__,
        description=API_DESCRIPTION,
        openapi_url=None,  # served below, behind authentication
        docs_url=None,
        redoc_url=None,
    )
    app.state.gradient_service = service
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(read_router)

    @app.get("/api/v1/openapi.json", include_in_schema=False, dependencies=[Depends(get_user)])
    def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/api/v1/docs", include_in_schema=False, dependencies=[Depends(get_user)])
    def swagger(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(openapi_url=f"{root}/api/v1/openapi.json", title="Gradient API")

    # ---- the HTML pages (plugins/ui) are included here -------------------------------------------
    if include_ui:
        from airflow_provider_gradient.plugins.ui import router as ui_router

        app.include_router(ui_router)
    return app


class LazyApp:
    """An ASGI app that builds the real FastAPI app on its first request.

    Airflow loads plugins in every component (scheduler, workers, CLI) but only the api-server serves
    ``fastapi_apps``; this keeps the FastAPI/auth imports out of the other processes.
    """

    def __init__(self) -> None:
        import threading

        self._app: FastAPI | None = None
        self._lock = threading.Lock()
        from airflow_provider_gradient.plugins.ui.warmup import start_in_api_server

        start_in_api_server(self)  # api-server only: build the app, warm the projects page (background)

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = create_app()
        return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def __repr__(self) -> str:
        return "airflow_provider_gradient.plugins.app:create_app()"
