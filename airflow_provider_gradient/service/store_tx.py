"""Transactions over the store, for the service's use cases: read and write sessions (SQLite lock retries),
the store's clock and input validation into value objects (no Airflow import)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from airflow_provider_gradient.service.errors import GradientError, GradientValidationError
from airflow_provider_gradient.store.engine import Engines

T = TypeVar("T")
#: A project argument: the numeric id or the app id.
ProjectRef = int | str


class StoreBusyError(GradientError):
    """SQLite stayed locked by another writer past the busy timeout and the retries (503)."""

    status_code = 503


def now_ms() -> int:
    """The store's clock: epoch milliseconds."""
    return time.time_ns() // 1_000_000


def validate(model: type[T], value: Any, prefix: tuple[str, ...] = ()) -> T:
    """``value`` as ``model`` (returned as is when it is one already).

    :param prefix: location of ``value`` in the caller's input, for the errors.
    :raises GradientValidationError: naming what is wrong.
    """
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)  # type: ignore[attr-defined,no-any-return]
    except ValidationError as exc:
        raise GradientValidationError.from_pydantic(exc, prefix) from None


class Store:
    """Read and write transactions over one store's engines.

    :param engines: the store's read and write engines.
    """

    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read transaction."""
        with Session(self.engines.read, expire_on_commit=False) as s, s.begin():
            yield s

    def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in one write transaction; SQLite lock timeouts are retried, then reported clearly."""
        attempts = 4 if self.engines.dialect == "sqlite" else 1
        for attempt in range(attempts):
            try:
                with Session(self.engines.write, expire_on_commit=False) as s, s.begin():
                    return fn(s)
            except OperationalError as exc:
                if "database is locked" not in str(exc) or attempt == attempts - 1:
                    if "database is locked" in str(exc):
                        raise StoreBusyError(
                            "the Gradient store (SQLite) is locked by another writer; retry, or use "
                            "PostgreSQL for many concurrent workers"
                        ) from exc
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")
