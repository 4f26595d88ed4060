"""``gradient eventlog``: summarise a Spark / Databricks event log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from airflow_provider_gradient.core.eventlog import AppSummary

app = typer.Typer(help="Spark / Databricks event logs.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Spark / Databricks event logs."""


def _fail(code: int, cls: str, message: str) -> None:
    sys.stderr.write(f"error: {cls}: {' '.join(message.split())}\n")
    raise typer.Exit(code)


@app.command()
def summarize(
    path: Annotated[Path, typer.Argument(help="Log file, directory, zip or tar(.gz) archive.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    stages: Annotated[bool, typer.Option("--stages", help="Also print the per-stage table.")] = False,
) -> None:
    """Summarise the event log at PATH (exit code 2 on a bad log)."""
    from airflow_provider_gradient.core.eventlog import EventLogError, parse_event_log

    try:
        summary = parse_event_log(path)
    except EventLogError as exc:
        _fail(2, type(exc).__name__, str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        _fail(1, type(exc).__name__, f"unexpected failure while parsing {path}: {exc}")
        return
    if json_output:
        import orjson

        from airflow_provider_gradient.cli._common import write_json_text

        write_json_text(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    _print_human(summary, stages)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def _print_human(s: AppSummary, with_stages: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    t = Table(title=f"Spark application {s.app_id or '?'}", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value")
    rows: list[tuple[str, Any]] = [
        ("name", s.app_name),
        ("spark version", s.spark_version),
        ("platform", s.platform),
        ("start / end (ms)", f"{s.start_ms} / {s.end_ms}"),
        ("duration", f"{s.duration_s:.1f} s" if s.duration_s is not None else "?"),
        ("complete", "yes" if s.complete else "no (no ApplicationEnd)"),
        ("jobs / stages / tasks", f"{s.jobs} / {s.stages} / {s.tasks}"),
        ("failed tasks", f"{s.failed_tasks} {s.failure_reasons or ''}"),
        ("OOM detected", "YES" if s.oom_detected else "no"),
        ("executors max / avg", f"{s.executors_max} / {s.executors_avg:.2f} (cores {s.executor_cores})"),
        ("task time / CPU time", f"{s.task_time_ms / 1000:.1f} s / {s.cpu_time_ms / 1000:.1f} s"),
        ("input / output", f"{_size(s.input_bytes)} / {_size(s.output_bytes)}"),
        ("shuffle read / write", f"{_size(s.shuffle_read_bytes)} / {_size(s.shuffle_write_bytes)}"),
        ("spill memory / disk", f"{_size(s.memory_spilled_bytes)} / {_size(s.disk_spilled_bytes)}"),
        ("peak execution memory", _size(s.peak_execution_memory_max_bytes)),
        ("GC time", f"{s.gc_time_ms / 1000:.1f} s"),
        ("SQL executions", s.sql_execution_count),
    ]
    if s.cluster is not None:
        c = s.cluster
        rows.append(
            ("databricks cluster", f"{c.cluster_id} {c.node_type} x{c.workers} (driver {c.driver_node_type})")
        )
        rows.append(("scaling / availability", f"{c.scaling_type} / {c.availability} photon={c.photon}"))
    if s.plan_type or s.compute_type:
        rows.append(("pricing hints", f"{s.plan_type} / {s.compute_type}"))
    for k, v in rows:
        t.add_row(k, "" if v is None else str(v))
    console.print(t)
    if with_stages and s.stage_details:
        st = Table(title="stages")
        for col in (
            "stage",
            "tasks",
            "failed",
            "sum s",
            "p50 ms",
            "p90 ms",
            "max ms",
            "input",
            "shuffle r/w",
            "spill",
        ):
            st.add_column(col)
        for d in s.stage_details:
            st.add_row(
                f"{d.stage_id}.{d.attempt}",
                str(d.num_tasks),
                str(d.failed_tasks),
                f"{d.task_duration_ms_sum / 1000:.1f}",
                f"{d.task_duration_ms_p50:.0f}",
                f"{d.task_duration_ms_p90:.0f}",
                str(d.task_duration_ms_max),
                _size(d.input_bytes),
                f"{_size(d.shuffle_read_bytes)} / {_size(d.shuffle_write_bytes)}",
                _size(d.memory_spilled_bytes + d.disk_spilled_bytes),
            )
        console.print(st)
