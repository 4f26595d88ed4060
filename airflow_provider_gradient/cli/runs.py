"""``gradient runs``: the recorded Databricks runs of a project."""

from __future__ import annotations

from typing import Annotated

import typer

from airflow_provider_gradient.cli._common import (
    ConnOpt,
    JsonOpt,
    StoreOpt,
    client,
    errors,
    fmt_ms,
    print_json,
    print_table,
    ref,
    shape,
)

app = typer.Typer(help="Recorded runs of a project.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Recorded runs of a project."""


@app.command("list")
def list_runs(
    project: Annotated[str, typer.Argument(help="Project id or app id.")],
    limit: Annotated[int, typer.Option(min=0, help="At most this many (0: all), newest first.")] = 50,
    json_output: JsonOpt = False,
    conn_id: ConnOpt = "gradient_default",
    store_url: StoreOpt = None,
) -> None:
    """Runs of PROJECT, newest first."""
    with errors():
        runs = client(conn_id, store_url).list_runs(ref(project), limit=limit or None)
    if json_output:
        print_json(runs)
        return
    print_table(
        runs,
        [
            ("run id", lambda r: r.databricks_run_id),
            ("started (UTC)", lambda r: fmt_ms(r.start_ms)),
            ("runtime (min)", lambda r: None if r.duration_s is None else f"{r.duration_s / 60:.1f}"),
            ("outcome", lambda r: r.outcome),
            ("cluster", lambda r: shape(r.cluster_config)),
            ("cost $", lambda r: None if r.cost is None else f"{r.cost.total_usd:.2f}"),
            ("log", lambda r: r.log_status),
            ("rec", lambda r: r.recommendation_id),
        ],
        title=f"Runs of {project}",
    )
