"""Recommendations over the store: the latest one (ready, current, applied), store one (a ready one supersedes
the ready one), mark one applied; each read with the outcome of the run it was applied to.

Functions over a :class:`~airflow_provider_gradient.service.store_tx.Store`; ``GradientService`` exposes them
as its methods. Generating one from a project's runs is the record module's
(:mod:`~airflow_provider_gradient.service.record_outcome`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from airflow_provider_gradient.service.convert import recommendation_out
from airflow_provider_gradient.service.errors import ConflictError, GradientValidationError, NotFoundError
from airflow_provider_gradient.service.projects import project_row
from airflow_provider_gradient.service.redaction import redacted
from airflow_provider_gradient.service.schemas import FAILED_RUN_OUTCOMES, Recommendation, RecommendationIn
from airflow_provider_gradient.service.store_tx import ProjectRef, Store, now_ms, validate
from airflow_provider_gradient.store.models import ProjectRow, RecommendationRow
from airflow_provider_gradient.store.repository import RecommendationRepo, RunRepo


def latest_recommendation(db: Store, ref: ProjectRef, state: str | None = "ready") -> Recommendation | None:
    """The newest recommendation of a project in ``state`` (None: any state), or None.

    ``state="current"`` is the cluster the project's job definition (IaC) should hold: the ready
    recommendation, else the one applied last whose run did not fail (an applied one whose run failed,
    e.g. out of memory, is skipped for the one applied before it; a cancelled run is no failure, see
    ``FAILED_RUN_OUTCOMES``); None: the project's baseline.
    ``state="applied_ok"`` is that last part alone: the one applied last whose run did not fail.
    """
    with db.read() as s:
        project = project_row(s, ref)
        repo = RecommendationRepo(s)
        if state == "current":
            row = repo.latest(project.id, "ready") or repo.latest_applied_not_failed(project.id, FAILED_RUN_OUTCOMES)
        elif state == "applied_ok":
            row = repo.latest_applied_not_failed(project.id, FAILED_RUN_OUTCOMES)
        else:
            row = repo.latest(project.id, state)
        return recs_out(s, [row])[0] if row is not None else None


def list_recommendations(db: Store, ref: ProjectRef, limit: int | None = 50) -> list[Recommendation]:
    """A project's recommendations, newest first."""
    with db.read() as s:
        project = project_row(s, ref)
        return recs_out(s, RecommendationRepo(s).list(project.id, limit=limit))


def get_recommendation(db: Store, recommendation_id: int) -> Recommendation:
    """A recommendation by id (NotFoundError when absent)."""
    with db.read() as s:
        row = RecommendationRepo(s).get(recommendation_id)
        if row is None:
            raise NotFoundError(f"recommendation {recommendation_id} not found")
        return recs_out(s, [row])[0]


def recs_out(s: Session, rows: Sequence[RecommendationRow]) -> list[Recommendation]:
    """Recommendations with the outcome of the run each was applied to (one query per project)."""
    outcomes: dict[tuple[int, int], str] = {}
    for pid in {r.project_id for r in rows if r.applied_to_run is not None}:
        runs = [r.applied_to_run for r in rows if r.project_id == pid and r.applied_to_run is not None]
        outcomes.update(((pid, rid), o) for rid, o in RunRepo(s).outcomes(pid, runs).items())
    return [
        recommendation_out(
            r, outcomes.get((r.project_id, r.applied_to_run)) if r.applied_to_run is not None else None
        )
        for r in rows
    ]


def store_recommendation(
    db: Store, ref: ProjectRef, rec: RecommendationIn | dict[str, Any], *, state: str = "ready"
) -> Recommendation:
    """Store a recommendation; a new *ready* one supersedes the previous ready one in the same
    transaction (the project row is locked, so there is exactly one latest ready per project)."""
    rec_in = validate(RecommendationIn, rec, ("recommendation",))
    if state not in ("pending", "ready", "failed"):
        raise GradientValidationError(f"state: cannot store a recommendation as {state!r}")

    def tx(s: Session) -> Recommendation:
        row = insert_recommendation(s, project_row(s, ref, for_update=True), rec_in, state)
        return recommendation_out(row)

    return db.write(tx)


def insert_recommendation(s: Session, project: ProjectRow, rec_in: RecommendationIn, state: str) -> RecommendationRow:
    """Insert a recommendation of the (locked) ``project``; a ready one supersedes the ready one."""
    repo = RecommendationRepo(s)
    t = now_ms()
    if state == "ready":
        repo.supersede_ready(project.id, t)
    row = repo.insert(
        {
            **redacted(rec_in).model_dump(),  # cluster, reason
            "project_id": project.id,
            "created_ms": t,
            "updated_ms": t,
            "state": state,
        }
    )
    if state == "ready" and rec_in.phase == "optimizing" and project.phase != "optimizing":
        project.phase = "optimizing"
        project.updated_ms = t
    s.flush()
    return row


def mark_applied(db: Store, recommendation_id: int, databricks_run_id: int | None = None) -> Recommendation:
    """Mark a recommendation applied (to a Databricks run, or approved by a user when no run is given)."""

    def tx(s: Session) -> Recommendation:
        row = RecommendationRepo(s).get(recommendation_id, for_update=True)
        if row is None:
            raise NotFoundError(f"recommendation {recommendation_id} not found")
        if row.state == "failed":
            raise ConflictError(f"recommendation {recommendation_id} failed and cannot be applied")
        if databricks_run_id is not None and row.state == "applied" and row.applied_to_run == databricks_run_id:
            return recs_out(s, [row])[0]  # applied to this run already (a retried record)
        t = now_ms()
        row.state = "applied"
        row.applied_ms = t
        if databricks_run_id is not None:
            row.applied_to_run = databricks_run_id
        row.updated_ms = t
        s.flush()
        return recs_out(s, [row])[0]

    return db.write(tx)
