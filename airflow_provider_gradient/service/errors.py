"""Typed errors of the service (the REST API maps them to HTTP status codes; the http client maps back)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_gradient.core.redact import REDACTED, redact_text


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
        errors = [{**e, "loc": [*prefix, *map(str, e["loc"])]} for e in safe_errors(exc.errors())]
        msg = "; ".join(f"{'.'.join(e['loc']) or 'value'}: {e['msg']}" for e in errors) or "invalid input"
        return cls(msg, errors)


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """The string values (not the keys) anywhere in ``value``."""
    if isinstance(value, str):
        yield value
    elif depth < 20 and isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v, depth + 1)
    elif depth < 20 and isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _strings(v, depth + 1)


def safe_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI validation errors without the submitted values: only ``loc``, ``msg`` and ``type``.

    The raw ``input`` (a whole request body for a model-level error) and ``ctx`` are dropped, a submitted
    string quoted in the message (``got 'x'``) is replaced by ``*********(redacted)``, and the message passes
    the redaction rule, so a body carrying secrets that fails validation is never echoed (nor logged).

    :param errors: ``ValidationError.errors()`` / ``RequestValidationError.errors()``.
    """
    out: list[dict[str, Any]] = []
    for e in errors:
        msg = str(e.get("msg", "")).removeprefix("Value error, ")
        for s in sorted(set(_strings(e.get("input"))), key=len, reverse=True):
            if len(s) >= 3:
                msg = msg.replace(repr(s), repr(REDACTED)).replace(f'"{s}"', f'"{REDACTED}"')
        loc = [x if isinstance(x, int) else str(x) for x in e.get("loc", ())]
        out.append({"loc": loc, "msg": redact_text(msg), "type": str(e.get("type", ""))})
    return out


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
