"""Read model of the store: the few columns the pages need, read in bulk (no ORM objects, no JSON decoding).

Building full ``Run`` value objects (ORM row -> pydantic, JSON columns decoded) costs ~30 us per run, i.e.
seconds for 1,000 projects x 60 runs; these queries read exactly the columns of the projects table in one
query per chunk of projects. Every write still goes through the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, select

from airflow_provider_gradient.store.engine import Engines
from airflow_provider_gradient.store.models import ProjectRow, RecommendationRow, RunRow

#: Projects per ``IN (...)`` query.
CHUNK = 500


#: The fields of a row of :func:`run_columns`, in order (plain tuples: 60,000 rows must stay cheap).
RUN_FIELDS = (
    "databricks_run_id",
    "start_ms",
    "end_ms",
    "outcome",
    "input_bytes",
    "cloud_usd",
    "dbu_usd",
    "storage_usd",
    "total_usd",
    "recommendation_id",
    "log_status",
    "created_ms",
    "executors_avg",
    "executors_max",
    "spot_interruptions",
    "autoscaling",
    "logical_ms",
)


@dataclass(frozen=True, slots=True)
class NewestRecommendation:
    """A project's newest recommendation (any state): its id, learning progress and last update."""

    id: int
    learning_iteration: int
    learning_total: int
    updated_ms: int | None


def run_columns(engines: Engines, project_ids: Sequence[int]) -> dict[int, list[tuple[Any, ...]]]:
    """The runs of ``project_ids`` (unordered) as tuples of :data:`RUN_FIELDS`, one query per :data:`CHUNK`
    projects.

    :param engines: the store's engines
    :param project_ids: the projects to read
    """
    r = RunRow
    cols = (
        r.project_id,
        r.databricks_run_id,
        r.start_ms,
        r.end_ms,
        r.outcome,
        r.input_bytes,
        r.cost_cloud_usd,
        r.cost_dbu_usd,
        r.cost_storage_usd,
        r.cost_total_usd,
        r.recommendation_id,
        r.log_status,
        r.created_ms,
        r.metrics["executors_avg"].as_float(),
        r.metrics["executors_max"].as_float(),
        r.metrics["spot_interruptions"].as_float(),
        cast(r.cluster_config, String).like('%"autoscale"%'),
        r.logical_ms,
    )
    grouped: dict[int, list[tuple[Any, ...]]] = {pid: [] for pid in project_ids}
    ids = list(project_ids)
    with engines.read.connect() as conn:
        for k in range(0, len(ids), CHUNK):
            result = conn.execute(select(*cols).where(r.project_id.in_(ids[k : k + CHUNK])))
            # the DB-API rows as they are (plain tuples: no Row objects; the values need no conversion)
            raw: Sequence[Any] = result.cursor.fetchall() if result.cursor is not None else result.all()
            result.close()
            for row in raw:
                grouped[row[0]].append(row[1:])
    return grouped


def project_versions(engines: Engines) -> dict[int, int]:
    """``{project id: updated_ms}`` of every project (no settings decoding, no workspaces)."""
    with engines.read.connect() as conn:
        return {pid: upd for pid, upd in conn.execute(select(ProjectRow.id, ProjectRow.updated_ms)).all()}


def run_versions(engines: Engines) -> dict[int, tuple[int, int | None]]:
    """``{project id: (number of runs, newest run update)}`` of the projects with runs."""
    with engines.read.connect() as conn:
        rows = conn.execute(
            select(RunRow.project_id, func.count(), func.max(RunRow.updated_ms)).group_by(RunRow.project_id)
        ).all()
    return {pid: (n, last) for pid, n, last in rows}


def newest_recommendations(engines: Engines) -> dict[int, NewestRecommendation]:
    """``{project id: its newest recommendation}`` of the projects with recommendations."""
    rec = RecommendationRow
    newest = select(rec.project_id, func.max(rec.id).label("id")).group_by(rec.project_id).subquery()
    with engines.read.connect() as conn:
        rows = conn.execute(
            select(rec.project_id, rec.id, rec.learning_iteration, rec.learning_total, rec.updated_ms).join(
                newest, rec.id == newest.c.id
            )
        ).all()
    return {pid: NewestRecommendation(rid, it or 0, tot or 0, upd) for pid, rid, it, tot, upd in rows}
