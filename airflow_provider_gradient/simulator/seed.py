"""Seed a Gradient store with projects built from emulated runs (browser tests, screenshots, the UI benchmark).

Each project gets ``learning`` baseline runs on its original cluster, then a recommendation (stored, applied)
and runs on the recommended, smaller cluster; runs are simulated by ``simulator.simulate`` and priced by
``simulator.price``. A dev tool like the rest of ``simulator/``: never imported at runtime.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_gradient.simulator.models import ClusterSpec, SimResult, simulate
from airflow_provider_gradient.simulator.oracle import price

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class SeedProject:
    """A project to seed: app id, DAG/task, profile and the baseline / recommended worker counts."""

    app_id: str
    dag_id: str
    task_id: str
    profile: str = "etl_scaling"
    node_type: str = "i3.xlarge"
    baseline_workers: int = 8
    recommended_workers: int = 4
    sla_minutes: float | None = 120.0
    fail_runs: tuple[int, ...] = ()


DEFAULT_PROJECTS: tuple[SeedProject, ...] = (
    SeedProject(
        "nightly_etl.transform", "nightly_etl", "transform", "etl_scaling", "i3.xlarge", 16, 8, 120.0
    ),
    SeedProject("reports.daily_agg", "reports", "daily_agg", "memory_agg", "r5.xlarge", 12, 6, 90.0, (3,)),
    SeedProject("ml.features", "ml", "features", "shuffle_join", "i3.2xlarge", 12, 4, None),
)


def _cluster(node_type: str, workers: int) -> dict[str, Any]:
    return {"spark_version": "15.4.x-scala2.12", "node_type_id": node_type, "num_workers": workers}


def _metrics(result: SimResult) -> dict[str, Any]:
    stages = result.stages
    execs = list(result.executors)
    return {
        "input_bytes": int(result.input_bytes),
        "shuffle_read_bytes": int(sum(s.shuffle_read_bytes for s in stages)),
        "shuffle_write_bytes": int(sum(s.shuffle_write_bytes for s in stages)),
        "memory_spilled_bytes": int(sum(s.memory_spilled_bytes for s in stages)),
        "disk_spilled_bytes": int(sum(s.disk_spilled_bytes for s in stages)),
        "executors_max": float(result.spec.max_workers),
        "executors_avg": float(result.spec.max_workers),
        "tasks": int(result.tasks),
        "executor_spans": len(execs),
    }


def seed_project(
    svc: Any,
    spec: SeedProject,
    *,
    runs: int = 12,
    learning: int = 4,
    start_ms: int | None = None,
    run_id_base: int = 1_000_000,
    seed: int = 7,
    results: Sequence[Any] | None = None,
) -> Any:
    """Create ``spec``'s project and record ``runs`` simulated daily runs; return the project.

    :param svc: a GradientService
    :param runs: total runs (the first ``learning`` on the baseline cluster)
    :param start_ms: first run's start (default: daily runs ending today)
    :param results: pre-simulated ``(baseline_result, recommended_result)`` pairs to reuse (benchmarks)
    """
    project = svc.get_or_create_project(
        spec.app_id,
        name=spec.app_id,
        settings={"sla_minutes": spec.sla_minutes, "auto_apply": False},
        dag_id=spec.dag_id,
        task_id=spec.task_id,
        baseline_cluster=_cluster(spec.node_type, spec.baseline_workers),
    )
    if start_ms is None:  # daily runs ending today
        start_ms = (int(time.time() * 1000) // DAY_MS - runs) * DAY_MS + 2 * 3_600_000
    rec_id: int | None = None
    for i in range(runs):
        optimised = i >= learning
        workers = spec.recommended_workers if optimised else spec.baseline_workers
        if optimised and rec_id is None:
            rec = svc.store_recommendation(
                project.id,
                {
                    "cluster": _cluster(spec.node_type, spec.recommended_workers),
                    "phase": "optimizing",
                    "learning_iteration": learning,
                    "learning_total": learning,
                    "reason": f"Fewer workers ({spec.baseline_workers} -> {spec.recommended_workers}) keep the "
                    "runtime within the SLA at a lower cost.",
                },
            )
            rec_id = svc.mark_applied(rec.id).id
        if results is not None:
            result = results[(i * 2 + (1 if optimised else 0)) % len(results)]
        else:
            result = simulate(
                spec.profile, ClusterSpec(spec.node_type, num_workers=workers), run_index=i, seed=seed
            )
        cost = price(result)
        failed = i in spec.fail_runs or not result.succeeded
        t0 = start_ms + i * DAY_MS
        svc.record_run(
            project.id,
            {
                "databricks_run_id": run_id_base + i,
                "outcome": "failed" if failed else "success",
                "cluster_config": _cluster(spec.node_type, workers),
                "start_ms": t0,
                "end_ms": t0 + int(result.total_s * 1000),
                "input_bytes": int(result.input_bytes),
                "metrics": _metrics(result),
                "cost": {
                    "cloud_usd": cost.cloud_usd,
                    "dbu_usd": cost.dbu_usd,
                    "storage_usd": cost.storage_usd,
                    "total_usd": cost.total_usd,
                },
                "recommendation_id": rec_id if optimised else None,
                "log_status": "complete",
                "dag_id": spec.dag_id,
                "task_id": spec.task_id,
                "airflow_run_id": f"run_{i:04d}",
                "try_number": 1,
                "failure_message": "Task failed: simulated failure" if failed else None,
            },
        )
    return svc.get_project(project.id)


def seed_default(
    svc: Any, *, runs: int = 12, projects: Sequence[SeedProject] = DEFAULT_PROJECTS
) -> list[Any]:
    """Seed :data:`DEFAULT_PROJECTS` (three projects from simulated runs)."""
    return [seed_project(svc, p, runs=runs, run_id_base=1_000_000 * (k + 1)) for k, p in enumerate(projects)]
