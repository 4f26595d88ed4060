"""Databricks-style API errors raised by the emulator's workspace state."""

from __future__ import annotations

__all__ = ["ApiError", "bad_request", "not_found"]


class ApiError(Exception):
    """A Databricks API error: HTTP status + ``{"error_code": ..., "message": ...}``."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


def bad_request(message: str) -> ApiError:
    """400 INVALID_PARAMETER_VALUE."""
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def not_found(what: str) -> ApiError:
    """404 RESOURCE_DOES_NOT_EXIST."""
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", what)
