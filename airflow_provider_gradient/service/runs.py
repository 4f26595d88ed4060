"""Runs over the store: record one (idempotent on its Databricks run id: a later record merges, never
duplicates), read them.

Functions over a :class:`~airflow_provider_gradient.service.store_tx.Store`; ``GradientService`` exposes them
as its methods.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from airflow_provider_gradient.service.convert import run_out
from airflow_provider_gradient.service.errors import GradientValidationError, NotFoundError
from airflow_provider_gradient.service.projects import project_row
from airflow_provider_gradient.service.run_merge import merge_run, run_columns
from airflow_provider_gradient.service.schemas import Run, RunIn
from airflow_provider_gradient.service.store_tx import ProjectRef, Store, now_ms, validate
from airflow_provider_gradient.store.models import RunRow
from airflow_provider_gradient.store.repository import RecommendationRepo, RunRepo

log = logging.getLogger(__name__)


def record_run(
    db: Store, ref: ProjectRef, run: RunIn | dict[str, Any], *, price_catalog: str | None = None
) -> Run:
    """Record a run; idempotent on ``databricks_run_id`` (a later record updates, never duplicates).

    :param price_catalog: ``[gradient] price_catalog`` (re-basing a run on its project's plan).
    """
    run_in = validate(RunIn, run, ("run",))
    return db.write(lambda s: run_out(record(s, ref, run_in, price_catalog=price_catalog)[0]))


def record(
    s: Session, ref: ProjectRef, run_in: RunIn, *, price_catalog: str | None = None
) -> tuple[RunRow, bool]:
    """Insert or merge ``run_in`` (in the caller's transaction), priced at the project's plan
    (:func:`~airflow_provider_gradient.service.run_plan.on_project_plan`).

    :param price_catalog: ``[gradient] price_catalog`` (None: the shipped catalog).
    :return: the run's row, and whether this record told the optimiser anything new (a new run, or a
        field it reads changed: not a retry of an earlier record).
    """
    project = project_row(s, ref, for_update=True)  # lock order: project, then run
    if run_in.pricing is not None and run_in.pricing.plan_type.strip().lower() != project.plan_type.strip().lower():
        from airflow_provider_gradient.core.pricing import load_catalog
        from airflow_provider_gradient.service.run_plan import on_project_plan

        run_in = on_project_plan(run_in, project.plan_type, load_catalog(price_catalog))
    values = run_columns(run_in)
    if run_in.recommendation_id is not None:
        rec = RecommendationRepo(s).get(run_in.recommendation_id)
        if rec is None or rec.project_id != project.id:
            raise GradientValidationError(
                f"recommendation_id: {run_in.recommendation_id} is not a recommendation of this project",
                [
                    {
                        "loc": ["run", "recommendation_id"],
                        "msg": "unknown recommendation for this project",
                        "type": "value_error",
                    }
                ],
            )
    repo = RunRepo(s)
    t = now_ms()
    row = repo.get(project.id, run_in.databricks_run_id, for_update=True)
    changed = True
    if row is None:
        inserted = repo.insert_if_absent(
            {
                "project_id": project.id,
                "databricks_run_id": run_in.databricks_run_id,
                **values,
                "created_ms": t,
                "updated_ms": t,
            }
        )
        row = repo.get(project.id, run_in.databricks_run_id, for_update=True)
        assert row is not None
        if not inserted:
            changed = merge_run(row, values, t)
    else:
        changed = merge_run(row, values, t)
    reported = run_in.pricing.region if run_in.pricing is not None and run_in.pricing.region_reported else None
    if reported and reported != project.region:
        # where its cluster really ran (zone, instances, event log): the project's recommendations are priced
        # there from now on, not at a configured default
        log.info("project %s: region %s -> %s (reported by run %s)", project.app_id, project.region, reported,
                 run_in.databricks_run_id)
        project.region = reported
        project.updated_ms = t
    ran_in = run_in.pricing.cloud if run_in.pricing is not None and run_in.pricing.priced else None
    if ran_in in ("aws", "azure", "gcp") and ran_in != project.cloud:
        # a priced run's node types are that cloud's: the project's recommendations are estimated there too
        log.info("project %s: cloud %s -> %s (run %s)", project.app_id, project.cloud, ran_in, run_in.databricks_run_id)
        project.cloud = ran_in
        project.updated_ms = t
    job_compute = run_in.pricing.compute_type if run_in.pricing is not None and run_in.pricing.compute_known else None
    if job_compute in ("jobs", "jobs_light") and project.compute_type in ("jobs", "jobs_light"):
        # a job cluster on a Databricks Light runtime is billed as Jobs Light, and so is the recommended cluster
        # (it keeps the runtime): its estimates use the rate the runs are billed at
        project.compute_type = job_compute
        project.updated_ms = t
    seen = row.start_ms if row.start_ms is not None else row.end_ms if row.end_ms is not None else t
    if project.last_run_ms is None or seen > project.last_run_ms:
        project.last_run_ms = seen
    s.flush()
    return row, changed


def get_run(db: Store, ref: ProjectRef, databricks_run_id: int) -> Run:
    """A project's run by its Databricks run id (NotFoundError when absent)."""
    with db.read() as s:
        project = project_row(s, ref)
        row = RunRepo(s).get(project.id, databricks_run_id)
        if row is None:
            raise NotFoundError(f"run {databricks_run_id} of project {ref!r} not found")
        return run_out(row)


def list_runs(db: Store, ref: ProjectRef, limit: int | None = 100, offset: int = 0) -> list[Run]:
    """Runs of a project, newest first."""
    with db.read() as s:
        project = project_row(s, ref)
        return [run_out(r) for r in RunRepo(s).list(project.id, limit=limit, offset=offset)]
