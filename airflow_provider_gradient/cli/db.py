"""``gradient db``: the Gradient store's schema (Alembic migrations)."""

from __future__ import annotations

from typing import Annotated

import typer

from airflow_provider_gradient.cli._common import StoreOpt, fail

app = typer.Typer(help="The Gradient store (schema migrations).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """The Gradient store (schema migrations)."""


def _url(store_url: str | None) -> str:
    if store_url:
        return store_url
    from airflow_provider_gradient.settings import get_settings

    return get_settings().resolved_store_url()


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        fail(2, f"--store-url {url!r} is not a SQLAlchemy URL (e.g. sqlite:////path/gradient.db)")
        raise  # unreachable: fail() exits


@app.command()
def upgrade(
    store_url: StoreOpt = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create or upgrade the store's tables (``[gradient] store_url`` unless --store-url)."""
    from airflow_provider_gradient.store import migrate

    url = _url(store_url)
    _safe(url)
    try:
        rev = migrate.upgrade(url, revision)
    except Exception as exc:  # noqa: BLE001 - reported with exit code 1
        fail(1, f"upgrade of {_safe(url)} failed: {exc}")
        return
    typer.echo(f"{_safe(url)}: at revision {rev}")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision ('base' drops every Gradient table).")],
    store_url: StoreOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Downgrade the store's schema (may delete data)."""
    from airflow_provider_gradient.store import migrate

    url = _url(store_url)
    _safe(url)
    if not yes and not typer.confirm(f"Downgrade {_safe(url)} to {revision}? Data may be lost", default=False):
        fail(1, "aborted")
    try:
        rev = migrate.downgrade(url, revision)
    except Exception as exc:  # noqa: BLE001
        fail(1, f"downgrade of {_safe(url)} failed: {exc}")
        return
    typer.echo(f"{_safe(url)}: at revision {rev or 'base'}")


@app.command()
def current(store_url: StoreOpt = None) -> None:
    """Print the store's revision and the newest one this package has."""
    from airflow_provider_gradient.cli._common import check_store_url
    from airflow_provider_gradient.store import get_engines, migrate

    url = _url(store_url)
    _safe(url)
    check_store_url(store_url, create=False)
    try:
        with get_engines(url).read.connect() as conn:
            rev = migrate.current_revision(conn)
    except Exception as exc:  # noqa: BLE001
        fail(1, f"cannot read {_safe(url)}: {exc}")
        return
    head = migrate.head_revision()
    typer.echo(f"{_safe(url)}: at revision {rev or 'base'} (head {head})")
    if rev != head:
        raise typer.Exit(1)
