"""Typed errors of the service (the REST API maps them to HTTP status codes; the http client maps back)."""

from __future__ import annotations

from typing import Any


class GradientError(Exception):
    """Base class of every service error."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(GradientError, LookupError):
    """A project / run / recommendation does not exist (404)."""

    status_code = 404


class GradientValidationError(GradientError, ValueError):
    """Invalid input; ``errors`` holds field-level messages like pydantic's (422).

    Each error: ``{"loc": ["body", "settings", "max_workers"], "msg": "...", "type": "..."}``.
    """

    status_code = 422

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    @classmethod
    def from_pydantic(cls, exc: Any, prefix: tuple[str, ...] = ()) -> GradientValidationError:
        errors = [
            {
                "loc": [*prefix, *map(str, e.get("loc", ()))],
                "msg": str(e.get("msg", "")).removeprefix("Value error, "),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        msg = "; ".join(f"{'.'.join(e['loc']) or 'value'}: {e['msg']}" for e in errors) or str(exc)
        return cls(msg, errors)


class ConflictError(GradientError):
    """The request conflicts with the current state (409), e.g. generating without any baseline cluster."""

    status_code = 409


class OptimizerUnavailableError(GradientError):
    """The optimiser or the price catalog could not produce a recommendation (503)."""

    status_code = 503


class PermissionDeniedError(GradientError, PermissionError):
    """The caller may not do this (403); raised by the http client."""

    status_code = 403


class AuthenticationError(GradientError):
    """Missing or invalid credentials (401); raised by the http client."""

    status_code = 401
