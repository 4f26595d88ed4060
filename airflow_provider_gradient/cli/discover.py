"""``gradient discover``: the top Databricks jobs to optimise in the workspaces of Airflow connections."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer


def _fail(code: int, cls: str, message: str) -> None:
    sys.stderr.write(f"error: {cls}: {' '.join(message.split())}\n")
    raise typer.Exit(code)


def command(
    databricks_conn_id: Annotated[
        list[str],
        typer.Option("--databricks-conn-id", "-c", help="Airflow Databricks connection id (repeatable)."),
    ],
    days: Annotated[int, typer.Option("--days", help="Window in days (1..60).")] = 30,
    top: Annotated[int, typer.Option("--top", help="Rows of the table (human output).")] = 20,
    store_url: Annotated[
        str | None,
        typer.Option(
            "--store-url",
            help="Gradient store URL (marks managed jobs); default: the gradient store_url setting.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
) -> None:
    """Scan workspaces (jobs/list, runs/list, clusters/get) and rank jobs by cost and core-hours."""
    if not 1 <= days <= 60:
        _fail(2, "BadParameter", f"--days must be within 1..60, got {days}")
    from airflow_provider_gradient.hooks.discover import discover
    from airflow_provider_gradient.service.discover import DiscoverError

    url = store_url
    if url is None:
        from airflow_provider_gradient.settings import get_settings

        url = get_settings().resolved_store_url()
    try:
        report = discover(list(databricks_conn_id), days=days, store_url=url)
    except (DiscoverError, ValueError) as exc:
        _fail(2, type(exc).__name__, str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        _fail(1, type(exc).__name__, str(exc))
        return
    if json_output:
        import orjson

        from airflow_provider_gradient.cli._common import write_json_text

        write_json_text(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        _print_human(report, top)
    if report.errors and not report.jobs:
        raise typer.Exit(1)


def _print_human(report: object, top: int) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from airflow_provider_gradient.service.discover import FINDING_LABELS, DiscoverReport

    assert isinstance(report, DiscoverReport)
    console = Console()
    for err in report.errors:
        console.print(Text(err, style="red"))
    t = Table(title=f"Top jobs to optimise ({', '.join(report.workspaces)})")
    for col, justify in (
        ("#", "right"),
        ("job", "left"),
        ("runs", "right"),
        ("core-hours", "right"),
        ("est. cost", "right"),
        ("est. savings", "right"),
        ("findings", "left"),
    ):
        t.add_column(col, justify=justify)  # type: ignore[arg-type]
    for i, j in enumerate(report.jobs[:top], 1):
        t.add_row(
            str(i),
            Text(j.name),
            str(j.runs),
            f"{j.core_hours:,.1f}",
            _cost_cell(j),
            f"${j.estimated_savings_usd:,.2f}",
            Text(", ".join(sorted(j.findings))),
        )
    console.print(t)
    console.print(
        f"total cost ${report.total_cost_usd:,.2f} · core-hours {report.total_core_hours:,.1f} · "
        f"estimated savings ${report.total_estimated_savings_usd:,.2f}"
    )
    console.print(" · ".join(f"{FINDING_LABELS[k]}: {v}" for k, v in report.findings.items()))
    reasons = sorted({r for j in report.jobs[:top] for r in j.unpriced_reasons})
    for reason in reasons:
        console.print(Text(f"not priced: {reason}", style="yellow"))


def _cost_cell(j: Any) -> str:
    """A job's estimated cost, ``not priced`` when none of its runs could be (why: below the table).

    :param j: a ``JobSummary``
    """
    if not j.priced:
        return "not priced"
    return f"${j.cost_usd:,.2f}" + (f" (+{j.unpriced_runs} not priced)" if j.unpriced_runs else "")
