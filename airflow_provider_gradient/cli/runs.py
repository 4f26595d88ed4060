"""``gradient runs``: the recorded Databricks runs of a project."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from airflow_provider_gradient.service.schemas import Run

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
            ("cost $", lambda r: _cost(r)),
            ("billed as", lambda r: r.pricing.label() if r.pricing is not None else None),
            ("log", lambda r: r.log_status),
            ("rec", lambda r: r.recommendation_id),
        ],
        title=f"Runs of {project}",
    )


def _cost(run: Run) -> str | None:
    """The run's total, or ``not priced`` with why (region or compute type the catalog cannot price)."""
    if run.cost is not None:
        return f"{run.cost.total_usd:.2f}"
    if run.pricing is not None and not run.pricing.priced:
        return "not priced"
    return None


@app.command("sync")
def sync(
    dag_id: Annotated[str | None, typer.Option("--dag-id", help="Only the queued runs of this DAG.")] = None,
    pending_dir: Annotated[
        str | None, typer.Option("--pending-dir", help="Queue folder (default: [gradient] pending_dir).")
    ] = None,
    json_output: JsonOpt = False,
    conn_id: ConnOpt = "gradient_default",
    store_url: StoreOpt = None,
) -> None:
    """Record the Databricks runs that could not be recorded when they ended (queued on the worker).

    Each run is read again from Databricks (its connection is in the queue entry) and recorded once:
    recording is idempotent on the Databricks run id. Exit code 1 when some run is still pending.
    """
    from pathlib import Path

    from airflow_provider_gradient.operators.steps import sync_pending

    with errors():
        c = client(conn_id, store_url)
        done = sync_pending(c, select=(lambda p: p.dag_id == dag_id) if dag_id else None,
                            folder=Path(pending_dir) if pending_dir else None)
    rows = [{"databricks_run_id": d.pending.databricks_run_id, "app_id": d.pending.app_id,
             "recorded": d.recorded, "attempts": d.pending.attempts, "error": d.error} for d in done]
    if json_output:
        print_json(rows)
    else:
        print_table(rows, [("run id", lambda r: r["databricks_run_id"]), ("app id", lambda r: r["app_id"]),
                           ("recorded", lambda r: "yes" if r["recorded"] else "no"),
                           ("attempts", lambda r: r["attempts"]), ("error", lambda r: r["error"])],
                    title=f"{sum(1 for d in done if d.recorded)} of {len(rows)} queued runs recorded")
    if any(not d.recorded for d in done):
        raise typer.Exit(1)
