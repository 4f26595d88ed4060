"""Shared bits of the store-backed CLI groups (db, projects, runs, recommendations).

Every command talks to Gradient through ``GradientHook`` (local or http, as the connection says);
``--store-url`` forces local mode over a store URL. Exit codes: 0 ok, 1 failure, 2 bad input (invalid
value, unknown project/recommendation).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import typer

ConnOpt = Annotated[
    str, typer.Option("--conn-id", envvar="GRADIENT_CONN_ID", help="The gradient connection (local or http).")
]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store-url", envvar="GRADIENT_STORE_URL", help="Use the local store at this SQLAlchemy URL."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def client(conn_id: str = "gradient_default", store_url: str | None = None) -> Any:
    """The Gradient client of the connection (or local over ``store_url``)."""
    from airflow_provider_gradient.hooks.gradient import GradientHook

    return GradientHook(conn_id, store_url=store_url or None).get_client()


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
    except ValueError as exc:
        fail(2, str(exc))


def ref(value: str) -> int | str:
    """A CLI project argument: digits are an id, anything else an app id."""
    return int(value) if value.isdigit() and len(value) < 18 else value


def print_json(value: Any) -> None:
    from pydantic import BaseModel

    def dump(v: Any) -> Any:
        if isinstance(v, BaseModel):
            return v.model_dump(mode="json")
        if isinstance(v, list):
            return [dump(x) for x in v]
        return v

    typer.echo(json.dumps(dump(value), indent=2, sort_keys=False))


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
    """A short description of a cluster: ``m5.xlarge x 4 (spot)``."""
    if not cluster:
        return "-"
    node = cluster.get("node_type_id") or cluster.get("instance_pool_id") or "?"
    if isinstance(cluster.get("autoscale"), dict):
        a = cluster["autoscale"]
        workers = f"{a.get('min_workers')}-{a.get('max_workers')}"
    else:
        workers = str(cluster.get("num_workers", "?"))
    attrs = cluster.get("aws_attributes") or cluster.get("azure_attributes") or {}
    market = " (spot)" if "SPOT" in str(attrs.get("availability", "")).upper() else ""
    return f"{node} x {workers}{market}"
