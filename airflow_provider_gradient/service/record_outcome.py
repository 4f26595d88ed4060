"""The loop's record step over the store: record a run, mark the recommendation it used applied, generate
the next recommendation -- idempotent as a whole (a retry answers the first call's outcome).

Functions over a :class:`~airflow_provider_gradient.service.store_tx.Store`; ``GradientService`` exposes them
as its methods (``record_and_recommend``, ``generate_recommendation``).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from airflow_provider_gradient.core.redact import redact_text
from airflow_provider_gradient.service import projects, recommendations, runs
from airflow_provider_gradient.service.convert import recommendation_out, run_out
from airflow_provider_gradient.service.errors import GradientError
from airflow_provider_gradient.service.projects import project_row, to_project
from airflow_provider_gradient.service.recommendations import insert_recommendation, recs_out
from airflow_provider_gradient.service.schemas import Recommendation, RecordOutcome, Run, RunIn
from airflow_provider_gradient.service.store_tx import ProjectRef, Store, validate
from airflow_provider_gradient.store.models import RunRow
from airflow_provider_gradient.store.repository import RecommendationRepo

log = logging.getLogger(__name__)


def record_and_recommend(
    db: Store,
    ref: ProjectRef,
    run: RunIn | dict[str, Any],
    *,
    recommend: bool = True,
    price_catalog: str | None = None,
) -> RecordOutcome:
    """Record the run (idempotent), mark the recommendation it used applied, generate the next one.

    See ``GradientService.record_and_recommend``.

    :param price_catalog: price catalog override path the recommendation is priced with.
    """
    run_in = validate(RunIn, run, ("run",))

    def tx(s: Session) -> tuple[Run, bool]:
        row, changed = runs.record(s, ref, run_in, price_catalog=price_catalog)
        return run_out(row), changed

    stored, changed = db.write(tx)
    if recommend and not changed and stored.next_recommendation_id is not None:
        replay = _first_outcome(db, stored)
        if replay is not None:
            return replay
    applied = None
    if run_in.recommendation_id is not None:
        try:
            applied = recommendations.mark_applied(
                db, run_in.recommendation_id, databricks_run_id=run_in.databricks_run_id
            )
        except GradientError as exc:
            log.debug("mark_applied(%s) failed: %s", run_in.recommendation_id, exc)
    rec = None
    error = None
    if recommend:
        try:
            rec = _recommend_after(db, stored, price_catalog)
        except Exception as exc:  # noqa: BLE001 - the run is stored; the next record recommends again
            error = f"{type(exc).__name__}: {redact_text(str(exc))}"
            log.warning("Gradient: no new recommendation for project %s: %s", stored.project_id, error)
    return RecordOutcome(
        run=runs.get_run(db, stored.project_id, stored.databricks_run_id) if rec is not None else stored,
        project=projects.get_project(db, stored.project_id),
        applied=applied,
        recommendation=rec,
        recommendation_error=error,
    )


def _first_outcome(db: Store, stored: Run) -> RecordOutcome | None:
    """The outcome of the call that recorded ``stored`` first (None: its recommendation is gone)."""
    with db.read() as s:
        repo = RecommendationRepo(s)
        nxt = repo.get(stored.next_recommendation_id) if stored.next_recommendation_id is not None else None
        if nxt is None:
            return None
        used = repo.get(stored.recommendation_id) if stored.recommendation_id is not None else None
        if used is not None and (used.state != "applied" or used.applied_to_run != stored.databricks_run_id):
            used = None  # the first call could not mark it applied either
        return RecordOutcome(
            run=stored,
            project=to_project(s, project_row(s, stored.project_id)),
            applied=recs_out(s, [used])[0] if used is not None else None,
            recommendation=recs_out(s, [nxt])[0],
        )


def _recommend_after(db: Store, stored: Run, price_catalog: str | None) -> Recommendation:
    """Generate the recommendation that follows the run ``stored`` and link it to the run. When a
    concurrent record of the same run linked one meanwhile, that one is returned and ours dropped."""
    from airflow_provider_gradient.service.recommend import build_and_recommend

    project = projects.get_project(db, stored.project_id)
    project_runs = runs.list_runs(db, project.id, limit=None)
    rec_in = build_and_recommend(project, project_runs, price_catalog=price_catalog)
    seen = stored.next_recommendation_id

    def tx(s: Session) -> Recommendation:
        locked = project_row(s, project.id, for_update=True)  # lock order: project, then run
        run_row = s.get(RunRow, stored.id, with_for_update=True)
        if run_row is not None and run_row.next_recommendation_id not in (None, seen):
            other = RecommendationRepo(s).get(run_row.next_recommendation_id)
            if other is not None:
                return recommendation_out(other)
        row = insert_recommendation(s, locked, rec_in, "ready")
        if run_row is not None:
            run_row.next_recommendation_id = row.id
        s.flush()
        return recommendation_out(row)

    return db.write(tx)


def generate_recommendation(db: Store, ref: ProjectRef, price_catalog: str | None = None) -> Recommendation:
    """Run the optimiser over the project's runs and settings, store the result as the ready one.

    :param price_catalog: price catalog override path the recommendation is priced with.
    """
    from airflow_provider_gradient.service.recommend import build_and_recommend

    project = projects.get_project(db, ref)
    project_runs = runs.list_runs(db, project.id, limit=None)
    rec_in = build_and_recommend(project, project_runs, price_catalog=price_catalog)
    return recommendations.store_recommendation(db, project.id, rec_in)
