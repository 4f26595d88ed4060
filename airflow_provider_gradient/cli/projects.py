"""``gradient projects``: list, show, create, update (settings), delete, reset."""

from __future__ import annotations

import json
import math
from pathlib import Path
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

app = typer.Typer(help="Gradient projects (one per optimised Databricks task).", no_args_is_help=True)

Ref = Annotated[str, typer.Argument(help="Project id or app id.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


@app.callback()
def _group() -> None:
    """Gradient projects (one per optimised Databricks task)."""


def _show(project: Any) -> None:
    s = project.settings
    rows = [
        ("id", project.id),
        ("app id", project.app_id),
        ("name", project.name),
        ("phase", project.phase),
        ("airflow task", f"{project.dag_id}.{project.task_id}" if project.dag_id else None),
        ("cloud / region", f"{project.cloud} / {project.region or 'region unknown'}"),
        ("plan / compute", f"{project.plan_type} / {project.compute_type}"),
        ("workspace", project.workspace.name if project.workspace else None),
        ("baseline cluster", shape(project.baseline_cluster)),
        ("sla (min)", s.sla_minutes),
        ("auto apply", s.auto_apply),
        ("maintain scaling type", s.maintain_scaling_type),
        ("optimize instance size", s.optimize_instance_size),
        ("allowed families", ", ".join(s.allowed_families) or "any"),
        ("force on-demand", s.force_on_demand),
        ("allow ARM (other CPU architecture)", s.allow_arm),
        ("max workers", s.max_workers),
        ("optimisation window (UTC)", f"{s.window_start}-{s.window_end}" if s.window_start else "always"),
        ("learning runs", s.learning_runs),
        ("cluster log url", s.cluster_log_url),
        ("created (UTC)", fmt_ms(project.created_ms)),
        ("last run (UTC)", fmt_ms(project.last_run_ms)),
    ]
    print_table(rows, [("field", lambda r: r[0]), ("value", lambda r: r[1])], title=project.app_id)


def _cluster_arg(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text()
        except OSError as exc:
            fail(2, f"--baseline-cluster {value}: cannot read the file ({exc.strerror or exc})")
            return None
    else:
        text = value
    try:
        cluster = json.loads(text)
    except ValueError as exc:
        fail(2, f"--baseline-cluster is not JSON: {exc}")
    if not isinstance(cluster, dict):
        fail(2, "--baseline-cluster must be a JSON object (a Databricks new_cluster)")
    return cluster


def _nullable(value: str | None, cast: type) -> Any:
    """``none``/``null`` clears a setting; otherwise ``cast(value)``."""
    if value is None or value.lower() in ("none", "null", ""):
        return None
    try:
        return cast(value)
    except ValueError:
        fail(2, f"invalid value {value!r}")


def _window(value: str | None) -> dict[str, str]:
    """``--window HH:MM-HH:MM`` as ``window_start``/``window_end`` (the times are checked by the settings)."""
    if value is None:
        return {}
    start, sep, end = value.partition("-")
    if not sep:
        fail(2, "--window must be HH:MM-HH:MM")
    return {"window_start": start.strip(), "window_end": end.strip()}


def _families(value: str | None) -> list[str] | None:
    """``--allowed-families r5, m5`` as a list ('' for any)."""
    return None if value is None else [f.strip() for f in value.split(",") if f.strip()]


def _settings_arg(values: dict[str, Any]) -> dict[str, Any] | None:
    """The settings given on the command line (None: none given; the service validates them)."""
    return {k: v for k, v in values.items() if v is not None} or None


AUTO_APPLY_WARNING = (
    "warning: auto-apply is on: Gradient changes this task's cluster at its next runs without review "
    "(off, recommendations wait for `gradient recommendations apply`)\n"
)


def _warn_auto_apply(auto_apply: bool | None) -> None:
    """Gradient makes auto-apply opt-in with a warning (on stderr: ``--json`` output stays clean)."""
    if auto_apply:
        import sys

        sys.stderr.write(AUTO_APPLY_WARNING)


def _check_minutes(value: float | None, option: str = "--sla-minutes") -> None:
    """A finite, positive number of minutes (``nan``/``inf`` are not an SLA)."""
    if value is not None and (not math.isfinite(value) or value <= 0):
        fail(2, f"{option} must be a number of minutes greater than 0, got {value}")


def _check_place(cloud: str | None, region: str | None) -> None:
    """``--cloud`` / ``--region`` must be priced in the catalog (``[gradient] price_catalog`` included)."""
    if cloud is None and region is None:
        return
    from airflow_provider_gradient.core.pricing import load_catalog
    from airflow_provider_gradient.settings import get_settings

    settings = get_settings()
    catalog = load_catalog(settings.price_catalog)
    c = (cloud or settings.cloud).lower()
    if c not in catalog.clouds:
        fail(2, f"--cloud {cloud}: not supported; choose one of {', '.join(catalog.clouds)}")
    if region is not None and region not in catalog.regions(c):
        fail(2, f"--region {region}: no {c} prices for it; known regions: {', '.join(catalog.regions(c))}")


@app.command("list")
def list_projects(json_output: JsonOpt = False, conn_id: ConnOpt = "gradient_default", store_url: StoreOpt = None) -> None:
    """Every project."""
    with errors():
        projects = client(conn_id, store_url).list_projects()
    if json_output:
        print_json(projects)
        return
    print_table(
        projects,
        [
            ("id", lambda p: p.id),
            ("app id", lambda p: p.app_id),
            ("phase", lambda p: p.phase),
            ("sla (min)", lambda p: p.settings.sla_minutes),
            ("auto apply", lambda p: p.settings.auto_apply),
            ("baseline", lambda p: shape(p.baseline_cluster)),
            ("last run (UTC)", lambda p: fmt_ms(p.last_run_ms)),
        ],
        title="Gradient projects",
    )


@app.command()
def show(project: Ref, json_output: JsonOpt = False, conn_id: ConnOpt = "gradient_default",
         store_url: StoreOpt = None) -> None:
    """One project with its settings."""
    with errors():
        p = client(conn_id, store_url).get_project(ref(project))
    print_json(p) if json_output else _show(p)


@app.command()
def create(
    app_id: Annotated[str, typer.Argument(help="The app id (default of the operator: <dag_id>.<task_id>).")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    sla_minutes: Annotated[float | None, typer.Option(help="Runtime SLA in minutes.")] = None,
    auto_apply: Annotated[bool | None, typer.Option("--auto-apply/--no-auto-apply")] = None,
    max_workers: Annotated[int | None, typer.Option(help="Cap on workers (1..10000).")] = None,
    maintain_scaling_type: Annotated[bool | None, typer.Option("--maintain-scaling-type/--change-scaling-type")] = None,
    optimize_instance_size: Annotated[bool | None, typer.Option("--optimize-instance-size/--keep-instance-size")] = None,
    allowed_families: Annotated[str | None, typer.Option(help="Comma-separated node families (default: any).")] = None,
    force_on_demand: Annotated[bool | None, typer.Option("--force-on-demand/--allow-spot")] = None,
    allow_arm: Annotated[bool | None, typer.Option(
        "--allow-arm/--keep-architecture",
        help="Allow node types of another CPU architecture than the baseline's (x86 <-> ARM/Graviton).")] = None,
    window: Annotated[str | None, typer.Option(help="Optimisation window HH:MM-HH:MM (UTC; default: always).")] = None,
    learning_runs: Annotated[int | None, typer.Option(help="Runs in the learning phase (default: [gradient]).")] = None,
    cluster_log_url: Annotated[str | None, typer.Option(help="Log destination of the event logs.")] = None,
    cloud: Annotated[str | None, typer.Option(help="aws or azure.")] = None,
    region: Annotated[str | None, typer.Option()] = None,
    dag_id: Annotated[str | None, typer.Option()] = None,
    task_id: Annotated[str | None, typer.Option()] = None,
    baseline_cluster: Annotated[
        str | None, typer.Option(help="The task's new_cluster as JSON, or @file.json.")
    ] = None,
    json_output: JsonOpt = False,
    conn_id: ConnOpt = "gradient_default",
    store_url: StoreOpt = None,
) -> None:
    """Create a project (exit code 1 when APP_ID exists already: use ``projects update`` to change it)."""
    _check_minutes(sla_minutes)
    _check_place(cloud, region)
    _warn_auto_apply(auto_apply)
    cluster = _cluster_arg(baseline_cluster)
    settings = _settings_arg({
        "sla_minutes": sla_minutes, "auto_apply": auto_apply, "max_workers": max_workers,
        "maintain_scaling_type": maintain_scaling_type, "optimize_instance_size": optimize_instance_size,
        "allowed_families": _families(allowed_families), "force_on_demand": force_on_demand, "allow_arm": allow_arm,
        **_window(window), "learning_runs": learning_runs, "cluster_log_url": cluster_log_url,
    })
    from airflow_provider_gradient.service.errors import NotFoundError

    with errors():
        c = client(conn_id, store_url, create=True)
        try:
            existing = c.get_project(app_id)
        except NotFoundError:
            existing = None
        if existing is not None:
            fail(1, f"project {app_id} already exists (id {existing.id}); nothing was changed. "
                    f"Change its settings with: gradient projects update {app_id} ...")
        p = c.get_or_create_project(
            app_id, name=name, settings=settings, cloud=cloud, region=region, dag_id=dag_id,
            task_id=task_id, baseline_cluster=cluster,
        )
    print_json(p) if json_output else _show(p)


@app.command()
def update(
    project: Ref,
    sla_minutes: Annotated[str | None, typer.Option(help="Minutes, or 'none' to clear.")] = None,
    auto_apply: Annotated[bool | None, typer.Option("--auto-apply/--no-auto-apply")] = None,
    maintain_scaling_type: Annotated[bool | None, typer.Option("--maintain-scaling-type/--change-scaling-type")] = None,
    optimize_instance_size: Annotated[bool | None, typer.Option("--optimize-instance-size/--keep-instance-size")] = None,
    allowed_families: Annotated[str | None, typer.Option(help="Comma-separated families, '' for any.")] = None,
    force_on_demand: Annotated[bool | None, typer.Option("--force-on-demand/--allow-spot")] = None,
    allow_arm: Annotated[bool | None, typer.Option(
        "--allow-arm/--keep-architecture",
        help="Allow node types of another CPU architecture than the baseline's (x86 <-> ARM/Graviton).")] = None,
    max_workers: Annotated[str | None, typer.Option(help="1..10000, or 'none'.")] = None,
    window: Annotated[str | None, typer.Option(help="Optimisation window HH:MM-HH:MM (UTC), or 'none'.")] = None,
    learning_runs: Annotated[int | None, typer.Option()] = None,
    cluster_log_url: Annotated[str | None, typer.Option(help="Log destination, or 'none'.")] = None,
    name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    region: Annotated[str | None, typer.Option(
        help="The workspace's region (us-west-2, westeurope): prices runs whose cluster reports none.")] = None,
    baseline_cluster: Annotated[str | None, typer.Option(help="New baseline new_cluster (JSON or @file).")] = None,
    json_output: JsonOpt = False,
    conn_id: ConnOpt = "gradient_default",
    store_url: StoreOpt = None,
) -> None:
    """Change settings of a project (only the options given)."""
    patch: dict[str, Any] = {}
    if sla_minutes is not None:
        patch["sla_minutes"] = _nullable(sla_minutes, float)
        _check_minutes(patch["sla_minutes"])
    if max_workers is not None:
        patch["max_workers"] = _nullable(max_workers, int)
    if cluster_log_url is not None:
        patch["cluster_log_url"] = _nullable(cluster_log_url, str)
    if window is not None:
        if _nullable(window, str) is None:
            patch["window_start"] = patch["window_end"] = None
        else:
            patch.update(_window(window))
    if allowed_families is not None:
        patch["allowed_families"] = _families(allowed_families)
    for key, value in (("auto_apply", auto_apply), ("maintain_scaling_type", maintain_scaling_type),
                       ("optimize_instance_size", optimize_instance_size), ("force_on_demand", force_on_demand),
                       ("allow_arm", allow_arm), ("learning_runs", learning_runs)):
        if value is not None:
            patch[key] = value
    cluster = _cluster_arg(baseline_cluster)
    _warn_auto_apply(auto_apply)
    if not patch and name is None and cluster is None and region is None:
        fail(2, "nothing to update (see --help)")
    with errors():
        c = client(conn_id, store_url, create=True)
        p = c.get_project(ref(project))
        if region is not None:
            region = region.strip().lower()
            _check_place(p.cloud, region)
        if name is not None or cluster is not None or region is not None:
            p = c.update_project(p.id, name=name, baseline_cluster=cluster, region=region)
        if patch:
            p = c.update_settings(p.id, patch)
    print_json(p) if json_output else _show(p)


@app.command()
def delete(project: Ref, yes: YesOpt = False, conn_id: ConnOpt = "gradient_default", store_url: StoreOpt = None) -> None:
    """Delete a project with its runs and recommendations."""
    with errors():
        c = client(conn_id, store_url)
        p = c.get_project(ref(project))
        if not yes and not typer.confirm(f"Delete project {p.app_id} and all its runs?", default=False):
            fail(1, "aborted")
        c.delete_project(p.id)
    typer.echo(f"deleted project {p.id} ({p.app_id})")


@app.command()
def reset(project: Ref, yes: YesOpt = False, json_output: JsonOpt = False, conn_id: ConnOpt = "gradient_default",
          store_url: StoreOpt = None) -> None:
    """Forget a project's runs and recommendations; it starts learning again (settings kept)."""
    with errors():
        c = client(conn_id, store_url)
        p = c.get_project(ref(project))
        if not yes and not typer.confirm(f"Reset project {p.app_id} (runs and recommendations deleted)?",
                                         default=False):
            fail(1, "aborted")
        p = c.reset_project(p.id)
    if json_output:
        print_json(p)
    else:
        typer.echo(f"reset project {p.id} ({p.app_id}): phase {p.phase}")
