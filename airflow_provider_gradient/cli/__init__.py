"""The ``gradient`` console script.

Each command group lives in its own module under ``airflow_provider_gradient.cli`` and exposes a
``typer.Typer`` named ``app``. Modules keep their top-level imports light (typer only) and import the
heavy machinery inside the commands, so ``gradient --help`` and ``gradient eventlog summarize`` start fast.
Exit codes: 0 ok, 1 failure, 2 bad input.
"""

from __future__ import annotations

import importlib
import importlib.util

import typer

app = typer.Typer(
    name="gradient",
    help="Gradient for Airflow: optimise the Databricks job clusters Airflow submits.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: (command group name, module) — registered in this order.
SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("db", "airflow_provider_gradient.cli.db"),
    ("projects", "airflow_provider_gradient.cli.projects"),
    ("runs", "airflow_provider_gradient.cli.runs"),
    ("recommendations", "airflow_provider_gradient.cli.recommendations"),
    ("eventlog", "airflow_provider_gradient.cli.eventlog"),
    ("simulator", "airflow_provider_gradient.cli.simulator"),
    ("bench", "airflow_provider_gradient.cli.bench"),
    ("discover", "airflow_provider_gradient.cli.discover"),
    ("train", "airflow_provider_gradient.cli.train"),
)

_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    for name, module in SUBCOMMANDS:
        if importlib.util.find_spec(module) is None:
            continue
        mod = importlib.import_module(module)
        sub = getattr(mod, "app", None)
        if isinstance(sub, typer.Typer):
            app.add_typer(sub, name=name)
        elif callable(getattr(mod, "command", None)):
            app.command(name=name)(mod.command)
    _registered = True


def main() -> None:
    """Entry point of the ``gradient`` console script."""
    _register()
    app()


_register()
