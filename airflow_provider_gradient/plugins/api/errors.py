"""Service errors -> HTTP responses (FastAPI's own shape: ``{"detail": ...}``; 422 details are field lists)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
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


def _encodable(error: dict[str, Any]) -> dict[str, Any]:
    """A validation error whose echoed ``input`` cannot be sent as UTF-8 JSON (a lone surrogate) loses it."""
    try:
        json.dumps(jsonable_encoder(error), ensure_ascii=False).encode("utf-8")
        return error
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return {k: v for k, v in error.items() if k not in ("input", "ctx")}


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": jsonable_encoder([_encodable(e) for e in exc.errors()])}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GradientError, _gradient_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
