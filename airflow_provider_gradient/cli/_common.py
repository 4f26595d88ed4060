"""Shared bits of the store-backed CLI groups (db, projects, runs, recommendations).

Every command talks to Gradient through ``GradientHook`` (local or http, as the connection says);
``--store-url`` forces local mode over a store URL. Exit codes: 0 ok, 1 failure, 2 bad input (invalid
value, unknown project/recommendation).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

if TYPE_CHECKING:
    from airflow_provider_gradient.service.client import GradientClient

ConnOpt = Annotated[
    str, typer.Option("--conn-id", envvar="GRADIENT_CONN_ID", help="The gradient connection (local or http).")
]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store-url", envvar="GRADIENT_STORE_URL", help="Use the local store at this SQLAlchemy URL."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


#: Where :func:`print_json` writes (the real standard output while :func:`json_stdout` is active).
_json_out: TextIO | None = None


@contextmanager
def json_stdout() -> Iterator[None]:
    """Keep standard output for the JSON document: anything else printed meanwhile goes to stderr.

    File descriptor 1 is pointed at stderr too, so log handlers that write to the original stream (or
    child processes) cannot interleave with the JSON either.
    """
    global _json_out
    sys.stdout.flush()
    saved_fd = os.dup(1)
    out = os.fdopen(os.dup(saved_fd), "w", encoding="utf-8")
    os.dup2(2, 1)
    saved_stdout = sys.stdout
    sys.stdout = sys.stderr
    _json_out = out
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout = saved_stdout
        os.dup2(saved_fd, 1)
        os.close(saved_fd)
        _json_out = None
        out.close()


def check_store_url(store_url: str | None, *, create: bool) -> None:
    """Bad ``--store-url`` values as ``error:`` lines (exit 2); a read command never creates a SQLite store.

    :param store_url: the ``--store-url`` option (None: the connection / ``[gradient]`` decides).
    :param create: the command writes, so a missing SQLite file may be created.
    """
    if not store_url:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(store_url)
    except ArgumentError:
        fail(2, f"--store-url {store_url!r} is not a SQLAlchemy URL (e.g. sqlite:////path/gradient.db, "
                "postgresql+psycopg://user@host/db)")
        return
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database)
    if not create and not path.exists():
        fail(2, f"no Gradient store at {path} (create it with: gradient db upgrade --store-url {store_url})")
    if create and not path.parent.is_dir():
        fail(2, f"--store-url: directory {path.parent} does not exist")


def client(
    conn_id: str = "gradient_default", store_url: str | None = None, *, create: bool = False
) -> GradientClient:
    """The Gradient client of the connection (or local over ``store_url``).

    With a store URL (``--store-url`` / ``GRADIENT_STORE_URL``) the command runs in local mode without
    importing Airflow: the service over that store, configured by the ``[gradient]`` settings read from the
    environment and airflow.cfg (``settings.get_settings``). Otherwise the connection decides (Airflow is
    needed to read it): :class:`~airflow_provider_gradient.hooks.gradient.GradientHook`.

    :param create: the command writes (a missing SQLite store given by ``--store-url`` may be created).
    """
    check_store_url(store_url, create=create)
    if store_url:
        from airflow_provider_gradient.service import GradientService
        from airflow_provider_gradient.settings import get_settings

        return GradientService.from_settings(get_settings(), store_url)
    from airflow_provider_gradient.hooks.gradient import GradientHook

    try:
        return GradientHook(conn_id, store_url=store_url or None).get_client()
    except Exception as exc:  # noqa: BLE001 - reported as one line, not a traceback
        if type(exc).__name__ == "AirflowNotFoundException":
            fail(2, f"--conn-id {conn_id}: no such Airflow connection")
        raise


def fail(code: int, message: str) -> None:
    sys.stderr.write(f"error: {' '.join(str(message).split())}\n")
    raise typer.Exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """Map service errors to messages and exit codes (2: bad input / not found, 1: anything else)."""
    from airflow_provider_gradient.service.errors import GradientError, GradientValidationError, NotFoundError

    try:
        yield
    except (GradientValidationError, NotFoundError) as exc:
        fail(2, exc.message)
    except GradientError as exc:
        fail(1, exc.message)
    except typer.Exit:
        raise
    except FileNotFoundError as exc:
        fail(2, f"{exc.filename or exc}: no such file")
    except ValueError as exc:
        fail(2, str(exc))
    except Exception as exc:  # noqa: BLE001 - connection problems etc. as one line
        name = type(exc).__name__
        if name == "AirflowNotFoundException":
            fail(2, str(exc))
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            fail(1, f"store error: {str(exc).splitlines()[0]}")
        raise


def ref(value: str) -> int | str:
    """A CLI project argument: digits are an id, anything else an app id (:func:`core.refs.project_ref`)."""
    from airflow_provider_gradient.core.refs import project_ref

    return project_ref(value)


def print_json(value: Any) -> None:
    from pydantic import BaseModel

    def dump(v: Any) -> Any:
        if isinstance(v, BaseModel):
            return v.model_dump(mode="json")
        if isinstance(v, list):
            return [dump(x) for x in v]
        return v

    write_json_text(json.dumps(dump(value), indent=2, sort_keys=False))


def write_json_text(text: str) -> None:
    """Write an already-serialised JSON document to standard output (the real one under ``--json``)."""
    if _json_out is not None:
        _json_out.write(text.rstrip("\n") + "\n")
        _json_out.flush()
    else:
        sys.stdout.write(text.rstrip("\n") + "\n")
        sys.stdout.flush()


def print_table(rows: Sequence[Any], columns: Sequence[tuple[str, Callable[[Any], Any]]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for name, _ in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*("" if (v := fn(row)) is None else str(v) for _, fn in columns))
    Console(soft_wrap=True).print(table)


def fmt_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def shape(cluster: dict[str, Any] | None) -> str:
    """A short description of a cluster: ``m5.xlarge x 4 (spot)`` (:func:`core.cluster.cluster_label`, ASCII)."""
    from airflow_provider_gradient.core.cluster import cluster_label

    return cluster_label(cluster, ascii_only=True)
