"""Repositories: the SQL of the store, one small class per aggregate, over a caller-owned Session.

Dialect-specific bits (``INSERT ... ON CONFLICT DO NOTHING``, ``SELECT ... FOR UPDATE``) live here; the
service composes these calls into transactions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from airflow_provider_gradient.core.refs import project_id_of
from airflow_provider_gradient.store.models import ProjectRow, RecommendationRow, RunRow, WorkspaceRow


def _insert(session: Session, model: Any) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"unsupported store dialect {dialect!r} (use SQLite or PostgreSQL)")


class WorkspaceRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, workspace_id: int) -> WorkspaceRow | None:
        return self.s.get(WorkspaceRow, workspace_id)

    def by_name(self, name: str) -> WorkspaceRow | None:
        return self.s.scalars(select(WorkspaceRow).where(WorkspaceRow.name == name)).first()

    def get_or_create(self, values: dict[str, Any]) -> WorkspaceRow:
        row = self.by_name(values["name"])
        if row is None:
            self.s.execute(
                _insert(self.s, WorkspaceRow).values(**values).on_conflict_do_nothing(index_elements=["name"])
            )
            row = self.by_name(values["name"])
        assert row is not None
        return row

    def list(self) -> Sequence[WorkspaceRow]:
        return self.s.scalars(select(WorkspaceRow).order_by(WorkspaceRow.id)).all()


class ProjectRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def by_id(self, project_id: int, *, for_update: bool = False) -> ProjectRow | None:
        q = select(ProjectRow).where(ProjectRow.id == project_id)
        if for_update:
            q = q.with_for_update()
        return self.s.scalars(q).first()

    def by_app_id(self, app_id: str, *, for_update: bool = False) -> ProjectRow | None:
        q = select(ProjectRow).where(ProjectRow.app_id == app_id)
        if for_update:
            q = q.with_for_update()
        return self.s.scalars(q).first()

    def resolve(self, ref: int | str, *, for_update: bool = False) -> ProjectRow | None:
        """A project by id (int) or app id (str; a string of digits falls back to the id)."""
        if isinstance(ref, int) and not isinstance(ref, bool):
            return self.by_id(ref, for_update=for_update)
        row = self.by_app_id(str(ref), for_update=for_update)
        pid = project_id_of(str(ref))
        if row is None and pid is not None:
            row = self.by_id(pid, for_update=for_update)
        return row

    def for_task(self, dag_id: str, task_id: str) -> list[ProjectRow]:
        """The projects of an Airflow task, oldest first (one per cluster of a multi-cluster task): by its DAG
        and task id, else the project of app id ``<dag_id>.<task_id>``."""
        q = select(ProjectRow).where(ProjectRow.dag_id == dag_id, ProjectRow.task_id == task_id)
        rows = list(self.s.scalars(q.order_by(ProjectRow.id)))
        if rows:
            return rows
        row = self.by_app_id(f"{dag_id}.{task_id}")
        return [] if row is None else [row]

    def insert_if_absent(self, values: dict[str, Any]) -> bool:
        """INSERT ... ON CONFLICT (app_id) DO NOTHING; True when this call inserted the row."""
        res = self.s.execute(
            _insert(self.s, ProjectRow).values(**values).on_conflict_do_nothing(index_elements=["app_id"])
        )
        return bool(getattr(res, "rowcount", 0))

    def list(self, *, limit: int | None = None, offset: int = 0) -> Sequence[ProjectRow]:
        q = select(ProjectRow).order_by(ProjectRow.id).offset(offset)
        if limit is not None:
            q = q.limit(limit)
        return self.s.scalars(q).all()

    def count(self) -> int:
        return int(self.s.scalar(select(func.count()).select_from(ProjectRow)) or 0)

    def delete(self, project_id: int) -> None:
        self.s.execute(delete(ProjectRow).where(ProjectRow.id == project_id))


class RunRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, project_id: int, databricks_run_id: int, *, for_update: bool = False) -> RunRow | None:
        q = select(RunRow).where(
            RunRow.project_id == project_id, RunRow.databricks_run_id == databricks_run_id
        )
        if for_update:
            q = q.with_for_update()
        return self.s.scalars(q).first()

    def insert_if_absent(self, values: dict[str, Any]) -> bool:
        """INSERT ... ON CONFLICT (project_id, databricks_run_id) DO NOTHING; True when inserted."""
        res = self.s.execute(
            _insert(self.s, RunRow)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["project_id", "databricks_run_id"])
        )
        return bool(getattr(res, "rowcount", 0))

    def list(self, project_id: int, *, limit: int | None = 100, offset: int = 0) -> Sequence[RunRow]:
        """Runs of a project, newest first (by start time; runs without one last)."""
        q = (
            select(RunRow)
            .where(RunRow.project_id == project_id)
            .order_by(RunRow.start_ms.desc().nulls_last(), RunRow.id.desc())
            .offset(offset)
        )
        if limit is not None:
            q = q.limit(limit)
        return self.s.scalars(q).all()

    def count(self, project_id: int) -> int:
        return int(self.s.scalar(select(func.count()).where(RunRow.project_id == project_id)) or 0)

    def for_task_instance(
        self, project_id: int, airflow_run_id: str, map_index: int | None = None, try_number: int | None = None
    ) -> RunRow | None:
        """The run of a task instance: its DAG run id, its map index (runs recorded without one match any) and
        the try ``try_number``, else the latest try recorded."""
        q = select(RunRow).where(RunRow.project_id == project_id, RunRow.airflow_run_id == airflow_run_id)
        if map_index is not None:
            q = q.where(or_(RunRow.map_index == map_index, RunRow.map_index.is_(None)))
        if try_number is not None:
            q = q.where(RunRow.try_number == try_number)
        q = q.order_by(
            RunRow.map_index.is_(None),  # a run recorded with its map index first
            func.coalesce(RunRow.try_number, 0).desc(),
            func.coalesce(RunRow.start_ms, 0).desc(),
            RunRow.databricks_run_id.desc(),
        )
        return self.s.scalars(q.limit(1)).first()

    def outcomes(self, project_id: int, databricks_run_ids: Iterable[int]) -> dict[int, str]:
        """``{databricks run id: outcome}`` of those runs of a project that are stored."""
        ids = sorted(set(databricks_run_ids))
        if not ids:
            return {}
        q = select(RunRow.databricks_run_id, RunRow.outcome).where(
            RunRow.project_id == project_id, RunRow.databricks_run_id.in_(ids)
        )
        return {rid: outcome for rid, outcome in self.s.execute(q)}

    def delete_for_project(self, project_id: int) -> None:
        self.s.execute(delete(RunRow).where(RunRow.project_id == project_id))


class RecommendationRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, rec_id: int, *, for_update: bool = False) -> RecommendationRow | None:
        q = select(RecommendationRow).where(RecommendationRow.id == rec_id)
        if for_update:
            q = q.with_for_update()
        return self.s.scalars(q).first()

    def latest(self, project_id: int, state: str | None = "ready") -> RecommendationRow | None:
        q = select(RecommendationRow).where(RecommendationRow.project_id == project_id)
        if state is not None:
            q = q.where(RecommendationRow.state == state)
        if state == "applied":
            # the one applied last (a user may re-apply an older recommendation): the project's current cluster
            q = q.order_by(RecommendationRow.applied_ms.desc().nulls_last(), RecommendationRow.id.desc())
        else:
            q = q.order_by(RecommendationRow.id.desc())
        return self.s.scalars(q.limit(1)).first()

    def latest_applied_not_failed(self, project_id: int, failed: Iterable[str]) -> RecommendationRow | None:
        """The recommendation applied last whose run did not fail: its run's outcome is not one of ``failed``,
        or it was approved without a run, or its run is not recorded yet (ordered as :meth:`latest` with
        ``state="applied"``).

        :param failed: the run outcomes that count as a failure of the cluster (``FAILED_RUN_OUTCOMES``).
        """
        run = (
            select(RunRow.outcome)
            .where(RunRow.project_id == RecommendationRow.project_id,
                   RunRow.databricks_run_id == RecommendationRow.applied_to_run)
            .scalar_subquery()
        )
        q = (
            select(RecommendationRow)
            .where(RecommendationRow.project_id == project_id, RecommendationRow.state == "applied")
            .where(func.coalesce(run, "success").not_in(sorted(failed)))
            .order_by(RecommendationRow.applied_ms.desc().nulls_last(), RecommendationRow.id.desc())
        )
        return self.s.scalars(q.limit(1)).first()

    def list(self, project_id: int, *, limit: int | None = 50) -> Sequence[RecommendationRow]:
        q = (
            select(RecommendationRow)
            .where(RecommendationRow.project_id == project_id)
            .order_by(RecommendationRow.id.desc())
        )
        if limit is not None:
            q = q.limit(limit)
        return self.s.scalars(q).all()

    def supersede_ready(self, project_id: int, now_ms: int) -> int:
        res = self.s.execute(
            update(RecommendationRow)
            .where(RecommendationRow.project_id == project_id, RecommendationRow.state == "ready")
            .values(state="superseded", updated_ms=now_ms)
        )
        return int(getattr(res, "rowcount", 0) or 0)

    def insert(self, values: dict[str, Any]) -> RecommendationRow:
        row = RecommendationRow(**values)
        self.s.add(row)
        self.s.flush()
        return row

    def delete_for_project(self, project_id: int) -> None:
        self.s.execute(delete(RecommendationRow).where(RecommendationRow.project_id == project_id))
