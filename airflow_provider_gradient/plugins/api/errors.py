"""Service errors -> HTTP responses (FastAPI's own shape: ``{"detail": ...}``; 422 details are field lists
``{loc, msg, type}`` that never repeat the submitted values)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from airflow_provider_gradient.service.errors import GradientError, GradientValidationError, safe_errors

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


def _utf8(value: Any) -> Any:
    """``value`` with lone surrogates (a dict key in ``loc``) replaced, so it can be sent as UTF-8 JSON."""
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


def _encodable(error: dict[str, Any]) -> dict[str, Any]:
    return {"loc": [_utf8(x) for x in error["loc"]], "msg": _utf8(error["msg"]), "type": error["type"]}


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each field (``loc``, ``msg``, ``type``), never the submitted values (``input``/``ctx``)."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": [_encodable(e) for e in safe_errors(exc.errors())]}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GradientError, _gradient_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
