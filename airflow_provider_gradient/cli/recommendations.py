"""``gradient recommendations``: latest (as table, JSON, Databricks JSON or Terraform HCL), list, generate, apply.

``latest --format terraform`` prints a ``new_cluster { ... }`` block for a Terraform ``databricks_job``
(task or job_cluster); ``--format databricks-json`` the same fields as the Jobs API / Asset Bundle
``new_cluster`` object. By default only the fields the recommendation sets are printed (merge them into
your own definition, or use ``lifecycle { ignore_changes }``); ``--with-baseline`` prints the project's
baseline cluster with the recommendation merged in.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer

from airflow_provider_gradient.cli._common import (
    ConnOpt,
    JsonOpt,
    StoreOpt,
    client,
    errors,
    fail,
    fmt_ms,
    print_json,
    print_table,
    ref,
    shape,
)

app = typer.Typer(help="Recommended clusters of a project.", no_args_is_help=True)

Ref = Annotated[str, typer.Argument(help="Project id or app id.")]
FORMATS = ("table", "json", "databricks-json", "terraform")

#: new_cluster attributes that are maps in the Terraform provider (``key = { ... }``); other objects are blocks.
HCL_MAP_ATTRIBUTES = frozenset({"spark_conf", "spark_env_vars", "custom_tags"})
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@app.callback()
def _group() -> None:
    """Recommended clusters of a project."""


# ----------------------------------------------------------------------------- HCL
def _hcl_string(value: str) -> str:
    escaped = json.dumps(value)  # quotes, backslashes, control characters
    return escaped.replace("${", "$${").replace("%{", "%%{")


def _hcl_value(value: Any, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return _hcl_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_hcl_value(v, indent) for v in value) + "]"
    if isinstance(value, dict):
        inner = indent + "  "
        lines = [f"{inner}{_hcl_string(str(k))} = {_hcl_value(v, inner)}" for k, v in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{indent}}}" if lines else "{}"
    return _hcl_string(str(value))


def _hcl_body(obj: dict[str, Any], indent: str) -> list[str]:
    lines: list[str] = []
    for key, value in obj.items():
        if value is None:
            continue
        if not _IDENT.match(str(key)):
            raise ValueError(f"cannot render field {key!r} as HCL")
        if isinstance(value, dict) and key not in HCL_MAP_ATTRIBUTES:
            lines.append(f"{indent}{key} {{")
            lines += _hcl_body(value, indent + "  ")
            lines.append(f"{indent}}}")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:  # repeated blocks (init_scripts ...)
                lines.append(f"{indent}{key} {{")
                lines += _hcl_body(item, indent + "  ")
                lines.append(f"{indent}}}")
        else:
            lines.append(f"{indent}{key} = {_hcl_value(value, indent)}")
    return lines


def to_terraform(cluster: dict[str, Any], block: str = "new_cluster") -> str:
    """A Terraform ``new_cluster { ... }`` block (databricks_job) for a Databricks cluster dict."""
    return "\n".join([f"{block} {{", *_hcl_body(cluster, "  "), "}"]) + "\n"


# ----------------------------------------------------------------------------- commands
def _cluster_for_output(c: Any, project_ref: int | str, rec: Any, with_baseline: bool) -> dict[str, Any]:
    cluster = dict(rec.cluster)
    if with_baseline:
        from airflow_provider_gradient.core.cluster_merge import merge_cluster

        baseline = c.get_project(project_ref).baseline_cluster or {}
        cluster = merge_cluster(baseline, cluster)
    return cluster


def _print_rec(rec: Any) -> None:
    rows = [
        ("id", rec.id),
        ("state", rec.status(ascii_only=True)),
        ("phase", f"{rec.phase} {rec.learning_iteration}/{rec.learning_total}" if rec.phase == "learning" else rec.phase),
        ("cluster", shape(rec.cluster)),
        ("predicted runtime (min)", None if rec.predicted_runtime_s is None else f"{rec.predicted_runtime_s / 60:.1f}"),
        ("predicted cost $", None if rec.predicted_cost_usd is None else f"{rec.predicted_cost_usd:.2f}"),
        ("created (UTC)", fmt_ms(rec.created_ms)),
        ("applied to run", rec.applied_to_run),
        ("reason", rec.reason),
    ]
    print_table(rows, [("field", lambda r: r[0]), ("value", lambda r: r[1])], title=f"Recommendation {rec.id}")


@app.command()
def latest(
    project: Ref,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table, json, databricks-json or terraform.")
    ] = "table",
    state: Annotated[
        str,
        typer.Option(help="current (what your IaC should hold: the ready one, else the last applied one "
                     "whose run did not fail, else the project's baseline cluster if one whose run failed was skipped), "
                     "ready, applied, ... or any."),
    ] = "current",
    with_baseline: Annotated[
        bool, typer.Option("--with-baseline", help="Merge into the project's baseline cluster.")
    ] = False,
    json_output: JsonOpt = False,
    conn_id: ConnOpt = "gradient_default",
    store_url: StoreOpt = None,
) -> None:
    """The latest recommendation of PROJECT; every format says the same thing.

    With ``--state current`` (the default) an applied recommendation whose run failed (e.g. out of memory; a
    cancelled run is no failure) is skipped, saying so on stderr: the one applied before it whose run did not
    fail is printed, else the project's baseline cluster -- ``--json`` then prints
    ``{"source": "baseline", "cluster": {...}, "skipped": {"id": N, "status": "..."}}`` (``.cluster`` is the
    current cluster either way). When there is none: nothing on stdout, the reason on stderr, exit code 1.
    """
    fmt = "json" if json_output and output_format == "table" else output_format
    if fmt not in FORMATS:
        fail(2, f"--format must be one of {', '.join(FORMATS)}")
    with errors():
        c = client(conn_id, store_url)
        rec = c.latest_recommendation(ref(project), state=None if state == "any" else state)
        skipped = _say_current(c, project, rec) if state == "current" else None
        if rec is None:
            baseline = c.get_project(ref(project)).baseline_cluster if skipped is not None else None
            if baseline and skipped is not None:
                if fmt == "json":
                    print_json({"source": "baseline", "cluster": baseline,
                                "skipped": {"id": skipped.id, "status": skipped.status(ascii_only=True)}})
                else:
                    _print_cluster(baseline, fmt, title=f"Baseline cluster of {project}",
                                   source="the project's baseline (no ready recommendation, none applied whose "
                                          "run did not fail)")
                return
            what = {"current": "ready or applied recommendation" + (" whose run did not fail" if skipped else ""),
                    "any": "recommendation"}.get(state, f"{state} recommendation")
            fail(1, f"project {project} has no {what}")
            return
        if fmt == "json":
            print_json(rec)
        elif fmt == "table":
            _print_rec(rec)
        else:
            _print_cluster(_cluster_for_output(c, ref(project), rec, with_baseline), fmt)


def _print_cluster(cluster: dict[str, Any], fmt: str, title: str = "", source: str = "") -> None:
    """:param fmt: table, databricks-json or terraform.
    :param source: where the cluster comes from (a row of the table)."""
    if fmt == "databricks-json":
        typer.echo(json.dumps(cluster, indent=2))
    elif fmt == "terraform":
        typer.echo(to_terraform(cluster), nl=False)
    else:
        rows = [("source", source), ("cluster", shape(cluster))]
        print_table(rows, [("field", lambda r: r[0]), ("value", lambda r: r[1])], title=title)


def _say_current(c: Any, project: str, rec: Any) -> Any:
    """Tell (stderr) when ``--state current`` skipped the recommendation applied last because its run failed,
    and what is current instead: ``rec``, else the project's baseline cluster.

    :returns: the recommendation skipped, or None.
    """
    if rec is not None and rec.state == "ready":
        return None
    last = c.latest_recommendation(ref(project), state="applied")
    if last is None or (rec is not None and last.id == rec.id):
        return None
    instead = (f"recommendation {rec.id} (the last applied one whose run did not fail)" if rec is not None
               else "the project's baseline cluster (today's cluster)")
    typer.echo(f"recommendation {last.id} ({last.status(ascii_only=True)}) skipped; current: {instead}", err=True)
    return last


@app.command("list")
def list_recommendations(
    project: Ref,
    limit: Annotated[int, typer.Option(min=0, help="At most this many (0: all).")] = 20,
    json_output: JsonOpt = False,
    conn_id: ConnOpt = "gradient_default",
    store_url: StoreOpt = None,
) -> None:
    """Recommendations of PROJECT, newest first."""
    with errors():
        recs = client(conn_id, store_url).list_recommendations(ref(project), limit=limit or None)
    if json_output:
        print_json(recs)
        return
    print_table(
        recs,
        [
            ("id", lambda r: r.id),
            ("created (UTC)", lambda r: fmt_ms(r.created_ms)),
            ("state", lambda r: r.status(ascii_only=True)),
            ("phase", lambda r: r.phase),
            ("cluster", lambda r: shape(r.cluster)),
            ("pred. cost $", lambda r: None if r.predicted_cost_usd is None else f"{r.predicted_cost_usd:.2f}"),
            ("reason", lambda r: r.reason),
        ],
        title=f"Recommendations of {project}",
    )


@app.command()
def generate(
    project: Ref, json_output: JsonOpt = False, conn_id: ConnOpt = "gradient_default", store_url: StoreOpt = None
) -> None:
    """Run the optimiser over PROJECT's runs now; the result becomes its ready recommendation."""
    with errors():
        rec = client(conn_id, store_url).generate_recommendation(ref(project))
    print_json(rec) if json_output else _print_rec(rec)


@app.command()
def apply(
    project: Ref,
    recommendation_id: Annotated[
        int | None, typer.Option("--id", help="The recommendation (default: the latest ready one).")
    ] = None,
    run_id: Annotated[int | None, typer.Option("--run-id", help="Databricks run it was applied to.")] = None,
    json_output: JsonOpt = False,
    conn_id: ConnOpt = "gradient_default",
    store_url: StoreOpt = None,
) -> None:
    """Approve (mark applied) a recommendation of PROJECT: the latest ready one unless --id."""
    with errors():
        c = client(conn_id, store_url)
        p = c.get_project(ref(project))
        if recommendation_id is None:
            rec = c.latest_recommendation(p.id)
            if rec is None:
                fail(1, f"project {project} has no ready recommendation")
                return
            recommendation_id = rec.id
        elif c.get_recommendation(recommendation_id).project_id != p.id:
            fail(2, f"recommendation {recommendation_id} is not a recommendation of project {project}")
        rec = c.mark_applied(recommendation_id, run_id)
    print_json(rec) if json_output else _print_rec(rec)
