"""``gradient train PROJECT --runs N``: finish a project's learning phase by running its job N times.

Gradient's "auto-training": run it in a DEV clone of the job (same code and data, no production side
effects), then production starts from an optimising project. The command runs the project's Airflow task
with ``dag.test()`` in the Airflow environment it is started in (``AIRFLOW_HOME``, DAGs folder, connections),
so each run goes through the same apply → run → record → recommend loop as a scheduled run.
"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Annotated, Any

import typer

from airflow_provider_gradient.cli._common import ConnOpt, StoreOpt, client, errors, fail, print_json, ref


def _load_dag(dag_id: str, dags_folder: str | None) -> Any:
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag

    folder = dags_folder or conf.get("core", "dags_folder")
    bag = DagBag(dag_folder=folder)
    if dag_id not in bag.dags:
        errors_txt = "; ".join(f"{k}: {str(v).splitlines()[-1] if str(v) else v}" for k, v in bag.import_errors.items())
        fail(2, f"DAG {dag_id!r} not found in {folder}" + (f" (import errors: {errors_txt})" if errors_txt else ""))
    return bag.dags[dag_id]


def command(
    project: Annotated[str, typer.Argument(help="Project id or app id.")],
    runs: Annotated[int, typer.Option("--runs", min=1, max=100, help="Run the job at most this many times.")] = 4,
    until_optimizing: Annotated[
        bool, typer.Option("--until-optimizing/--all-runs", help="Stop as soon as the project is optimising.")
    ] = True,
    dag_id: Annotated[str | None, typer.Option(help="DAG to run (default: the project's DAG).")] = None,
    dags_folder: Annotated[str | None, typer.Option(help="DAGs folder (default: [core] dags_folder).")] = None,
    conf: Annotated[str | None, typer.Option("--conf", help="JSON run conf given to each DAG run.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
    conn_id: ConnOpt = "gradient_default",
    store_url: StoreOpt = None,
) -> None:
    """Run PROJECT's job up to --runs times to finish its learning phase (use a DEV clone of the job)."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    run_conf: dict[str, Any] = {"gradient_training": True}
    if conf:
        try:
            extra = json.loads(conf)
        except ValueError as exc:
            fail(2, f"--conf is not valid JSON: {exc}")
        if not isinstance(extra, dict):
            fail(2, "--conf must be a JSON object")
        run_conf.update(extra)
    with errors():
        gradient = client(conn_id, store_url)
        proj = gradient.get_project(ref(project))
    target_dag = dag_id or proj.dag_id
    if not target_dag:
        fail(2, f"project {proj.app_id!r} has no DAG recorded: pass --dag-id")
    dag = _load_dag(str(target_dag), dags_folder)
    if proj.task_id and proj.task_id in dag.task_dict and len(dag.task_dict) > 1:
        dag = dag.partial_subset(task_ids=[proj.task_id], include_upstream=False)
    done: list[dict[str, Any]] = []
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task(f"Training {proj.app_id}", total=runs)
        for i in range(runs):
            if until_optimizing and gradient.get_project(proj.id).phase == "optimizing":
                break
            with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the result (--json)
                dag_run = dag.test(run_conf=run_conf)
            state = str(getattr(dag_run, "state", "unknown"))
            latest = gradient.list_runs(proj.id, limit=1)
            now = gradient.get_project(proj.id)
            rec = gradient.latest_recommendation(proj.id)
            done.append({
                "run": i + 1,
                "dag_run_state": state,
                "databricks_run_id": latest[0].databricks_run_id if latest else None,
                "outcome": latest[0].outcome if latest else None,
                "phase": now.phase,
                "next_recommendation": rec.reason if rec else None,
            })
            progress.advance(bar)
            if not json_output:
                console.print(f"run {i + 1}: DAG run {state}, phase {now.phase}")
    final = gradient.get_project(proj.id)
    if json_output:
        print_json({"project": final.app_id, "phase": final.phase, "runs": done})
    else:
        typer.echo(f"{final.app_id}: {len(done)} training run(s), phase now {final.phase}")
    if any(d["dag_run_state"] != "success" for d in done):  # str(DagRunState.SUCCESS) == "success"
        raise typer.Exit(1)
