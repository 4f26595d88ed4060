"""Service errors -> HTTP responses (FastAPI's own shape: ``{"detail": ...}``; 422 details are field lists)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from airflow_provider_gradient.service.errors import GradientError, GradientValidationError

log = logging.getLogger(__name__)


async def _gradient_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GradientError)
    if isinstance(exc, GradientValidationError):
        detail: object = exc.errors or [{"loc": [], "msg": exc.message, "type": "value_error"}]
    else:
        detail = exc.message
    if exc.status_code >= 500:
        log.warning("gradient API %s %s: %s", request.method, request.url.path, exc)
    headers = {"Retry-After": "1"} if exc.status_code == 503 else None
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GradientError, _gradient_error)
