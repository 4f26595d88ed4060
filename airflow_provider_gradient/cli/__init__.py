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
    rich_markup_mode=None,
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


def _version(value: bool) -> None:
    if value:
        from airflow_provider_gradient import __version__

        typer.echo(f"gradient (airflow-provider-gradient) {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Gradient for Airflow: optimise the Databricks job clusters Airflow submits."""


def main() -> None:
    """Entry point of the ``gradient`` console script.

    With ``--json`` standard output carries the JSON document only: everything else written to it
    (Airflow's log lines and warnings, progress) goes to standard error.
    """
    import sys

    from airflow_provider_gradient.cli import _common

    _register()
    if "--json" in sys.argv[1:]:
        with _common.json_stdout():
            app()
    else:
        app()


_register()
