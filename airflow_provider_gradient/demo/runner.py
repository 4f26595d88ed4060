"""Run the example operator DAG N times against the local emulator and collect what each run did."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow_provider_gradient.demo.environment import DEMO_TOKEN, DemoHome, airflow_env

#: The example DAG the demo runs (operator form) and its task.
DAG_FILE = "example_gradient_operator.py"
DAG_ID = "example_gradient_operator"


@dataclass(frozen=True, slots=True)
class DemoRun:
    """One demo run as the table and the report show it."""

    number: int
    phase: str
    cluster: str
    runtime_s: float | None
    sla_s: float | None
    outcome: str
    cloud_usd: float
    dbu_usd: float
    total_usd: float
    reason: str | None

    @property
    def meets_sla(self) -> bool | None:
        if self.sla_s is None or self.runtime_s is None:
            return None
        return self.outcome == "success" and self.runtime_s <= self.sla_s


def load_dag(path: Path, dag_id: str) -> Any:
    """Parse a DAG file like the DAG processor does and return the DAG named ``dag_id``.

    :param path: the DAG file.
    :param dag_id: the DAG to return.
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path))
    if dag_id not in bag.dags:
        raise LookupError(f"{path} defines no DAG {dag_id!r}; import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def run_loop(
    home: DemoHome,
    *,
    runs: int,
    profile: str,
    sla_minutes: float,
    time_scale: float,
    on_run: Callable[[DemoRun], None] | None = None,
) -> tuple[list[DemoRun], Any]:
    """Start the emulator (+ moto), run the DAG ``runs`` times, return the runs and the project.

    :param home: the prepared demo home.
    :param runs: how many times to run the DAG.
    :param profile: the emulator's job profile the task runs.
    :param sla_minutes: the project's runtime SLA.
    :param time_scale: simulated seconds per wall second.
    :param on_run: called after each run (progress display).
    """
    from airflow_provider_gradient.service import GradientService
    from airflow_provider_gradient.simulator.testing import running_emulator

    os.environ.update(airflow_env(home))
    results: list[DemoRun] = []
    # daily DAG runs ending today at 02:00 UTC; the emulator's clock follows the logical dates, so the DAG
    # dates and the Databricks run times tell one story (only the wall time is accelerated by time_scale)
    today = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=runs - 1)
    origin_ms = int((start - timedelta(days=1)).timestamp() * 1000)
    with running_emulator(home.emulator_dir, token=DEMO_TOKEN, time_scale=time_scale, aws=True,
                          clock_origin_ms=origin_ms) as emu:
        emu.state.clock.pause()  # until the first run is submitted (see below)
        # the workspace's region, as a real connection's extra says it: Discover prices its runs there
        os.environ["AIRFLOW_CONN_DATABRICKS_DEFAULT"] = f"{emu.airflow_conn_uri}?region={emu.state.config.region}"
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
            {
                "conn_type": "aws",
                "login": "demo-access-key",
                "password": "demo-secret-key",
                "extra": {"endpoint_url": emu.aws_endpoint, "region_name": "us-east-1"},
            }
        )
        dag = load_dag(home.dags_folder / DAG_FILE, DAG_ID)
        svc = GradientService.from_url(home.store_url)
        for i in range(runs):
            # the clock waits (paused) between runs, so Airflow's own overhead -- seconds of wall time, hours
            # at this time scale -- never pushes a run past its logical date; submitting the run resumes it
            emu.state.clock.pause()
            emu.state.clock.advance_to(int((start + timedelta(days=i)).timestamp() * 1000))
            dag.test(
                logical_date=start + timedelta(days=i),
                run_conf={"profile": profile, "gradient_sla_minutes": sla_minutes},
            )
            results.append(_last_run(svc, i + 1, sla_minutes))
            if on_run is not None:
                on_run(results[-1])
        project = _project(svc)
    return results, project


def _project(svc: Any) -> Any:
    projects = [p for p in svc.list_projects() if p.dag_id == DAG_ID]
    if not projects:
        raise RuntimeError(f"the DAG {DAG_ID} created no Gradient project: see the task log above")
    return projects[0]


def _last_run(svc: Any, number: int, sla_minutes: float) -> DemoRun:
    project = _project(svc)
    runs = svc.list_runs(project.id, limit=1)
    if not runs:
        raise RuntimeError("the DAG run recorded no Gradient run: see the task log above")
    run = runs[0]
    phase, reason = "baseline", None
    if run.recommendation_id is not None:
        rec = svc.get_recommendation(run.recommendation_id)
        phase = (
            f"learning {rec.learning_iteration}/{rec.learning_total}" if rec.phase == "learning" else "optimizing"
        )
        reason = rec.reason
    from airflow_provider_gradient.core.cluster import cluster_label

    cost = run.cost
    return DemoRun(
        number=number,
        phase=phase,
        cluster=cluster_label(run.cluster_config),
        runtime_s=run.duration_s,
        sla_s=sla_minutes * 60,
        outcome=run.outcome,
        cloud_usd=cost.cloud_usd if cost else 0.0,
        dbu_usd=cost.dbu_usd if cost else 0.0,
        total_usd=cost.total_usd if cost else 0.0,
        reason=reason,
    )
