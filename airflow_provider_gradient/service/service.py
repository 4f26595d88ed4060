"""GradientService: the use cases over the store (plain Python, no Airflow import).

Every public method takes and returns value objects from ``service.schemas``; ORM rows never leave this
module. Project arguments accept the numeric id or the app id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from airflow_provider_gradient import __version__
from airflow_provider_gradient.core.payload import cluster_keys
from airflow_provider_gradient.core.redact import redact_text, redact_tree
from airflow_provider_gradient.core.roi import ProjectRoi
from airflow_provider_gradient.service import read_model
from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.convert import project_out, recommendation_out, run_out, workspace_out
from airflow_provider_gradient.service.errors import (
    ConflictError,
    GradientError,
    GradientValidationError,
    NotFoundError,
)
from airflow_provider_gradient.service.redaction import redacted
from airflow_provider_gradient.service.run_merge import merge_run, run_columns
from airflow_provider_gradient.service.schemas import (
    FAILED_RUN_OUTCOMES,
    ApplyChoice,
    ApplyChoiceIn,
    Health,
    Project,
    ProjectIn,
    ProjectSettings,
    ProjectSettingsIn,
    Recommendation,
    RecommendationIn,
    RecordOutcome,
    Run,
    RunIn,
    Workspace,
    WorkspaceIn,
)
from airflow_provider_gradient.service.summaries import ClusterRun, ProjectOverview, ProjectSummary, TaskRun
from airflow_provider_gradient.settings import GradientSettings, declared_defaults
from airflow_provider_gradient.store import migrate
from airflow_provider_gradient.store.engine import Engines, get_engines
from airflow_provider_gradient.store.models import ProjectRow, RecommendationRow, RunRow
from airflow_provider_gradient.store.repository import ProjectRepo, RecommendationRepo, RunRepo, WorkspaceRepo

log = logging.getLogger(__name__)
T = TypeVar("T")
ProjectRef = int | str


class StoreBusyError(GradientError):
    """SQLite stayed locked by another writer past the busy timeout and the retries (503)."""

    status_code = 503


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _validate(model: type[T], value: Any, prefix: tuple[str, ...] = ()) -> T:
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)  # type: ignore[attr-defined,no-any-return]
    except ValidationError as exc:
        raise GradientValidationError.from_pydantic(exc, prefix) from None


class GradientService(GradientClient):
    """Projects, runs and recommendations over one store URL (the in-process :class:`GradientClient`).

    :param url: SQLAlchemy URL of the store (SQLite or PostgreSQL).
    :param price_catalog: optional price catalog override path (``[gradient] price_catalog``).
    :param default_settings: settings of new projects where the caller gives none.
    :param default_cloud: cloud of new projects where the caller gives none (default: the declared
        ``[gradient] cloud`` default).
    :param default_region: region of new projects where the caller gives none (``[gradient] region``; None: the
        project's region stays unknown until a recorded run's cluster reports it -- never a made-up default).
    :param default_plan_type: Databricks plan of new projects where the caller gives none (same).
    :param migrate_on_start: apply Alembic migrations on first use (default True).
    """

    def __init__(
        self,
        url: str,
        *,
        price_catalog: str | None = None,
        default_settings: ProjectSettings | None = None,
        default_cloud: str | None = None,
        default_region: str | None = None,
        default_plan_type: str | None = None,
        dormant_days: float | None = None,
        migrate_on_start: bool = True,
    ) -> None:
        declared = declared_defaults()
        self.engines: Engines = get_engines(url)
        self.url = self.engines.url
        self.price_catalog = price_catalog or None
        self.default_settings = default_settings or ProjectSettings()
        self.default_cloud = default_cloud or declared["cloud"]
        self.default_region = default_region or declared["region"] or None
        self.default_plan_type = default_plan_type or declared["plan_type"]
        self.dormant_days = float(dormant_days or declared["dormant_days"])
        if migrate_on_start:
            migrate.ensure_schema(self.engines)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> GradientService:
        """The service over ``url``; applies Alembic migrations on first use."""
        return cls(url, **kwargs)

    @classmethod
    def from_settings(cls, settings: GradientSettings, url: str | None = None, **kwargs: Any) -> GradientService:
        """The service the ``[gradient]`` settings describe (store URL, catalog, defaults of new projects).

        :param url: another store URL than ``settings.store_url``.
        """
        defaults = ProjectSettings(
            sla_minutes=settings.default_sla_minutes,
            auto_apply=settings.default_auto_apply,
            learning_runs=settings.learning_runs,
        )
        return cls(
            url or settings.resolved_store_url(),
            price_catalog=settings.price_catalog,
            default_settings=defaults,
            default_cloud=settings.cloud,
            default_region=settings.region,
            default_plan_type=settings.plan_type,
            dormant_days=settings.dormant_days,
            **kwargs,
        )

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engines.read, expire_on_commit=False) as s, s.begin():
            yield s

    def _write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in one write transaction; SQLite lock timeouts are retried, then reported clearly."""
        attempts = 4 if self.engines.dialect == "sqlite" else 1
        for attempt in range(attempts):
            try:
                with Session(self.engines.write, expire_on_commit=False) as s, s.begin():
                    return fn(s)
            except OperationalError as exc:
                if "database is locked" not in str(exc) or attempt == attempts - 1:
                    if "database is locked" in str(exc):
                        raise StoreBusyError(
                            "the Gradient store (SQLite) is locked by another writer; retry, or use "
                            "PostgreSQL for many concurrent workers"
                        ) from exc
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    @staticmethod
    def _project(s: Session, ref: ProjectRef, *, for_update: bool = False) -> ProjectRow:
        row = ProjectRepo(s).resolve(ref, for_update=for_update)
        if row is None:
            raise NotFoundError(f"project {ref!r} not found")
        return row

    @staticmethod
    def _project_out(s: Session, row: ProjectRow) -> Project:
        ws = WorkspaceRepo(s).get(row.workspace_id) if row.workspace_id is not None else None
        return project_out(row, ws)

    # ------------------------------------------------------------------ health / workspaces
    def health(self) -> Health:
        try:
            with self._read() as s:
                s.execute(text("SELECT 1"))
                rev = migrate.current_revision(s.connection())
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            return Health(
                status="degraded",
                version=__version__,
                store=self.engines.dialect,
                detail=redact_text(str(exc))[:500],
            )
        status: Literal["ok", "degraded"] = "ok" if rev == migrate.head_revision() else "degraded"
        return Health(status=status, version=__version__, store=self.engines.dialect, schema_revision=rev)

    def get_or_create_workspace(self, workspace: WorkspaceIn | dict[str, Any]) -> Workspace:
        ws_in = _validate(WorkspaceIn, workspace, ("workspace",))
        values = {**_workspace_columns(ws_in), "created_ms": now_ms()}
        return self._write(lambda s: workspace_out(WorkspaceRepo(s).get_or_create(values)))

    def list_workspaces(self) -> list[Workspace]:
        with self._read() as s:
            return [workspace_out(w) for w in WorkspaceRepo(s).list()]

    # ------------------------------------------------------------------ projects
    def get_or_create_project(
        self,
        app_id: str,
        *,
        name: str | None = None,
        settings: ProjectSettingsIn | dict[str, Any] | None = None,
        workspace: WorkspaceIn | dict[str, Any] | None = None,
        cloud: str | None = None,
        region: str | None = None,
        plan_type: str | None = None,
        compute_type: str | None = None,
        baseline_cluster: dict[str, Any] | None = None,
        dag_id: str | None = None,
        task_id: str | None = None,
    ) -> Project:
        """The project of ``app_id``, created if absent (race-safe: concurrent callers get the same row).

        An existing project is returned as stored; only its missing ``baseline_cluster``/``region``/``dag_id``/
        ``task_id`` are filled from the arguments.
        """
        p_in = _validate(
            ProjectIn,
            {
                "app_id": app_id,
                "name": name,
                "settings": settings.model_dump(exclude_unset=True)
                if isinstance(settings, ProjectSettingsIn)
                else settings,
                "workspace": workspace.model_dump() if isinstance(workspace, WorkspaceIn) else workspace,
                "cloud": cloud,
                "region": region,
                "plan_type": plan_type,
                "compute_type": compute_type,
                "baseline_cluster": baseline_cluster,
                "dag_id": dag_id,
                "task_id": task_id,
            },
        )
        return self.create_project(p_in)

    def create_project(self, p_in: ProjectIn) -> Project:
        """``get_or_create_project`` taking a ``ProjectIn`` (what the REST API receives)."""
        p_in = redacted(_validate(ProjectIn, p_in))
        fills = {
            k: v
            for k, v in (
                ("baseline_cluster", p_in.baseline_cluster or None),
                ("region", p_in.region),
                ("dag_id", p_in.dag_id),
                ("task_id", p_in.task_id),
            )
            if v is not None
        }
        with self._read() as s:
            row = ProjectRepo(s).by_app_id(p_in.app_id)
            if row is not None and all(getattr(row, k) is not None for k in fills):
                return self._project_out(s, row)

        settings = self.default_settings
        if p_in.settings is not None:
            settings = _validate(
                ProjectSettings, {**settings.model_dump(), **p_in.settings.changes()}, ("settings",)
            )

        def tx(s: Session) -> Project:
            repo = ProjectRepo(s)
            existing = repo.by_app_id(p_in.app_id, for_update=True)
            if existing is None:
                ws_id = None
                ws_cloud = ws_region = ws_plan = None
                if p_in.workspace is not None:
                    ws = WorkspaceRepo(s).get_or_create(
                        {**_workspace_columns(p_in.workspace), "created_ms": now_ms()}
                    )
                    ws_id, ws_cloud, ws_region, ws_plan = ws.id, ws.cloud, ws.region, ws.plan_type
                t = now_ms()
                repo.insert_if_absent(
                    {
                        "app_id": p_in.app_id,
                        "name": p_in.name or p_in.app_id,
                        "workspace_id": ws_id,
                        "cloud": p_in.cloud or ws_cloud or self.default_cloud,
                        "region": p_in.region or ws_region or self.default_region,
                        "plan_type": p_in.plan_type or ws_plan or self.default_plan_type,
                        "compute_type": p_in.compute_type or "jobs",
                        **_settings_columns(settings),
                        "phase": "learning",
                        "baseline_cluster": fills.get("baseline_cluster"),
                        "dag_id": p_in.dag_id,
                        "task_id": p_in.task_id,
                        "created_ms": t,
                        "updated_ms": t,
                    }
                )
                existing = repo.by_app_id(p_in.app_id, for_update=True)
                assert existing is not None
            else:
                changed = False
                for k, v in fills.items():
                    if getattr(existing, k) is None:
                        setattr(existing, k, v)
                        changed = True
                if changed:
                    existing.updated_ms = now_ms()
                    s.flush()
            return self._project_out(s, existing)

        try:
            return self._write(tx)
        except IntegrityError:
            # a concurrent creator won a race the ON CONFLICT could not absorb (e.g. the workspace): re-read
            with self._read() as s:
                row = ProjectRepo(s).by_app_id(p_in.app_id)
                if row is None:
                    raise
                return self._project_out(s, row)

    def choose_cluster(self, choice: ApplyChoiceIn) -> ApplyChoice:
        """The apply step of the loop: get or create the project, then the recommendation its next run uses
        (:func:`~airflow_provider_gradient.service.apply.choose_recommendation`)."""
        import datetime as dt

        from airflow_provider_gradient.service.apply import choose_recommendation

        choice = _validate(ApplyChoiceIn, choice)
        project = self.create_project(choice.project)
        now = dt.datetime.fromtimestamp(choice.now_ms / 1000, dt.UTC) if choice.now_ms is not None else None
        rec, note = choose_recommendation(self, project, now or dt.datetime.now(dt.UTC))
        return ApplyChoice(project=project, recommendation=rec, note=note)

    def get_project(self, ref: ProjectRef) -> Project:
        """A project by id or app id (NotFoundError when absent)."""
        with self._read() as s:
            return self._project_out(s, self._project(s, ref))

    def find_project(self, ref: ProjectRef) -> Project | None:
        """Like ``get_project`` but None when absent."""
        try:
            return self.get_project(ref)
        except NotFoundError:
            return None

    def list_projects(self, *, limit: int | None = None, offset: int = 0) -> list[Project]:
        with self._read() as s:
            rows = ProjectRepo(s).list(limit=limit, offset=offset)
            ws = {w.id: w for w in WorkspaceRepo(s).list()}
            return [project_out(r, ws.get(r.workspace_id) if r.workspace_id else None) for r in rows]

    def update_settings(self, ref: ProjectRef, patch: ProjectSettingsIn | dict[str, Any]) -> Project:
        """Change some settings (validated: e.g. negative SLA or 0 / >10,000 workers -> GradientValidationError)."""
        patch_in = _validate(ProjectSettingsIn, patch, ("settings",))

        def tx(s: Session) -> Project:
            row = self._project(s, ref, for_update=True)
            current = project_out(row, None).settings
            merged = _validate(ProjectSettings, {**current.model_dump(), **patch_in.changes()}, ("settings",))
            for k, v in _settings_columns(merged).items():
                setattr(row, k, v)
            row.updated_ms = now_ms()
            s.flush()
            return self._project_out(s, row)

        return self._write(tx)

    def update_project(
        self,
        ref: ProjectRef,
        *,
        name: str | None = None,
        baseline_cluster: dict[str, Any] | None = None,
        dag_id: str | None = None,
        task_id: str | None = None,
        region: str | None = None,
    ) -> Project:
        """Rename a project or replace its baseline cluster / Airflow task / region (where its runs that report
        none are priced, and its recommendations estimated; a run reporting one still moves it there)."""
        region = _region(region)

        def tx(s: Session) -> Project:
            row = self._project(s, ref, for_update=True)
            if region is not None:
                row.region = region
            if name is not None:
                if not name.strip() or len(name) > 500:
                    raise GradientValidationError(
                        "name: must be 1..500 characters",
                        [{"loc": ["name"], "msg": "must be 1..500 characters", "type": "value_error"}],
                    )
                row.name = name
            if baseline_cluster is not None:
                row.baseline_cluster = redact_tree(baseline_cluster)
            if dag_id is not None:
                row.dag_id = dag_id
            if task_id is not None:
                row.task_id = task_id
            row.updated_ms = now_ms()
            s.flush()
            return self._project_out(s, row)

        return self._write(tx)

    def delete_project(self, ref: ProjectRef) -> None:
        """Delete a project with its runs and recommendations."""

        def tx(s: Session) -> None:
            row = self._project(s, ref, for_update=True)
            RunRepo(s).delete_for_project(row.id)
            RecommendationRepo(s).delete_for_project(row.id)
            ProjectRepo(s).delete(row.id)

        self._write(tx)

    def reset_project(self, ref: ProjectRef) -> Project:
        """Forget the runs and recommendations of a project; it starts learning again (settings kept)."""

        def tx(s: Session) -> Project:
            row = self._project(s, ref, for_update=True)
            RunRepo(s).delete_for_project(row.id)
            RecommendationRepo(s).delete_for_project(row.id)
            row.phase = "learning"
            row.last_run_ms = None
            row.updated_ms = now_ms()
            s.flush()
            return self._project_out(s, row)

        return self._write(tx)

    # ------------------------------------------------------------------ runs
    def record_run(self, ref: ProjectRef, run: RunIn | dict[str, Any]) -> Run:
        """Record a run; idempotent on ``databricks_run_id`` (a later record updates, never duplicates)."""
        run_in = _validate(RunIn, run, ("run",))
        return self._write(lambda s: run_out(self._record(s, ref, run_in)[0]))

    def _record(self, s: Session, ref: ProjectRef, run_in: RunIn) -> tuple[RunRow, bool]:
        """Insert or merge ``run_in`` (in the caller's transaction).

        :return: the run's row, and whether this record told the optimiser anything new (a new run, or a
            field it reads changed: not a retry of an earlier record).
        """
        values = run_columns(run_in)
        project = self._project(s, ref, for_update=True)  # lock order: project, then run
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

    def record_and_recommend(
        self, ref: ProjectRef, run: RunIn | dict[str, Any], *, recommend: bool = True
    ) -> RecordOutcome:
        """The record step of the loop: record the run (idempotent), mark the recommendation it used
        (``run.recommendation_id``, checked to be the project's by ``record_run``) applied to it, then
        generate the next recommendation.

        Idempotent as a whole: a retry (the same run again, e.g. an HTTP retry after a timeout, or the
        record step of a retried task) that tells the optimiser nothing new returns the outcome of the
        first call -- its next recommendation, nothing marked applied again, no second recommendation.
        A record with new facts about the run (e.g. its event log, complete now) recommends again.

        Marking applied is informational (a recommendation that failed meanwhile is only logged); a
        failed generation leaves the run stored and says why in ``recommendation_error``, so the next
        record recommends again.
        """
        run_in = _validate(RunIn, run, ("run",))

        def tx(s: Session) -> tuple[Run, bool]:
            row, changed = self._record(s, ref, run_in)
            return run_out(row), changed

        stored, changed = self._write(tx)
        if recommend and not changed and stored.next_recommendation_id is not None:
            replay = self._first_outcome(stored)
            if replay is not None:
                return replay
        applied = None
        if run_in.recommendation_id is not None:
            try:
                applied = self.mark_applied(run_in.recommendation_id, databricks_run_id=run_in.databricks_run_id)
            except GradientError as exc:
                log.debug("mark_applied(%s) failed: %s", run_in.recommendation_id, exc)
        rec = None
        error = None
        if recommend:
            try:
                rec = self._recommend_after(stored)
            except Exception as exc:  # noqa: BLE001 - the run is stored; the next record recommends again
                error = f"{type(exc).__name__}: {redact_text(str(exc))}"
                log.warning("Gradient: no new recommendation for project %s: %s", stored.project_id, error)
        return RecordOutcome(
            run=self.get_run(stored.project_id, stored.databricks_run_id) if rec is not None else stored,
            project=self.get_project(stored.project_id),
            applied=applied,
            recommendation=rec,
            recommendation_error=error,
        )

    def _first_outcome(self, stored: Run) -> RecordOutcome | None:
        """The outcome of the call that recorded ``stored`` first (None: its recommendation is gone)."""
        with self._read() as s:
            repo = RecommendationRepo(s)
            nxt = repo.get(stored.next_recommendation_id) if stored.next_recommendation_id is not None else None
            if nxt is None:
                return None
            used = repo.get(stored.recommendation_id) if stored.recommendation_id is not None else None
            if used is not None and (used.state != "applied" or used.applied_to_run != stored.databricks_run_id):
                used = None  # the first call could not mark it applied either
            return RecordOutcome(
                run=stored,
                project=self._project_out(s, self._project(s, stored.project_id)),
                applied=self._recs_out(s, [used])[0] if used is not None else None,
                recommendation=self._recs_out(s, [nxt])[0],
            )

    def _recommend_after(self, stored: Run) -> Recommendation:
        """Generate the recommendation that follows the run ``stored`` and link it to the run. When a
        concurrent record of the same run linked one meanwhile, that one is returned and ours dropped."""
        from airflow_provider_gradient.service.recommend import build_and_recommend

        project = self.get_project(stored.project_id)
        runs = self.list_runs(project.id, limit=None)
        rec_in = build_and_recommend(project, runs, price_catalog=self.price_catalog)
        seen = stored.next_recommendation_id

        def tx(s: Session) -> Recommendation:
            project_row = self._project(s, project.id, for_update=True)  # lock order: project, then run
            run_row = s.get(RunRow, stored.id, with_for_update=True)
            if run_row is not None and run_row.next_recommendation_id not in (None, seen):
                other = RecommendationRepo(s).get(run_row.next_recommendation_id)
                if other is not None:
                    return recommendation_out(other)
            row = self._insert_recommendation(s, project_row, rec_in, "ready")
            if run_row is not None:
                run_row.next_recommendation_id = row.id
            s.flush()
            return recommendation_out(row)

        return self._write(tx)

    def get_run(self, ref: ProjectRef, databricks_run_id: int) -> Run:
        with self._read() as s:
            project = self._project(s, ref)
            row = RunRepo(s).get(project.id, databricks_run_id)
            if row is None:
                raise NotFoundError(f"run {databricks_run_id} of project {ref!r} not found")
            return run_out(row)

    def list_runs(self, ref: ProjectRef, limit: int | None = 100, offset: int = 0) -> list[Run]:
        """Runs of a project, newest first."""
        with self._read() as s:
            project = self._project(s, ref)
            return [run_out(r) for r in RunRepo(s).list(project.id, limit=limit, offset=offset)]

    # ------------------------------------------------------------------ recommendations
    def latest_recommendation(self, ref: ProjectRef, state: str | None = "ready") -> Recommendation | None:
        """The newest recommendation of a project in ``state`` (None: any state), or None.

        ``state="current"`` is the cluster the project's job definition (IaC) should hold: the ready
        recommendation, else the one applied last whose run did not fail (an applied one whose run failed,
        e.g. out of memory, is skipped for the one applied before it; a cancelled run is no failure, see
        ``FAILED_RUN_OUTCOMES``); None: the project's baseline.
        ``state="applied_ok"`` is that last part alone: the one applied last whose run did not fail.
        """
        with self._read() as s:
            project = self._project(s, ref)
            repo = RecommendationRepo(s)
            if state == "current":
                row = repo.latest(project.id, "ready") or repo.latest_applied_not_failed(project.id, FAILED_RUN_OUTCOMES)
            elif state == "applied_ok":
                row = repo.latest_applied_not_failed(project.id, FAILED_RUN_OUTCOMES)
            else:
                row = repo.latest(project.id, state)
            return self._recs_out(s, [row])[0] if row is not None else None

    def list_recommendations(self, ref: ProjectRef, limit: int | None = 50) -> list[Recommendation]:
        with self._read() as s:
            project = self._project(s, ref)
            return self._recs_out(s, RecommendationRepo(s).list(project.id, limit=limit))

    def get_recommendation(self, recommendation_id: int) -> Recommendation:
        with self._read() as s:
            row = RecommendationRepo(s).get(recommendation_id)
            if row is None:
                raise NotFoundError(f"recommendation {recommendation_id} not found")
            return self._recs_out(s, [row])[0]

    @staticmethod
    def _recs_out(s: Session, rows: Sequence[RecommendationRow]) -> list[Recommendation]:
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
        self, ref: ProjectRef, rec: RecommendationIn | dict[str, Any], *, state: str = "ready"
    ) -> Recommendation:
        """Store a recommendation; a new *ready* one supersedes the previous ready one in the same
        transaction (the project row is locked, so there is exactly one latest ready per project)."""
        rec_in = _validate(RecommendationIn, rec, ("recommendation",))
        if state not in ("pending", "ready", "failed"):
            raise GradientValidationError(f"state: cannot store a recommendation as {state!r}")

        def tx(s: Session) -> Recommendation:
            row = self._insert_recommendation(s, self._project(s, ref, for_update=True), rec_in, state)
            return recommendation_out(row)

        return self._write(tx)

    @staticmethod
    def _insert_recommendation(
        s: Session, project: ProjectRow, rec_in: RecommendationIn, state: str
    ) -> RecommendationRow:
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

    def mark_applied(self, recommendation_id: int, databricks_run_id: int | None = None) -> Recommendation:
        """Mark a recommendation applied (to a Databricks run, or approved by a user when no run is given)."""

        def tx(s: Session) -> Recommendation:
            row = RecommendationRepo(s).get(recommendation_id, for_update=True)
            if row is None:
                raise NotFoundError(f"recommendation {recommendation_id} not found")
            if row.state == "failed":
                raise ConflictError(f"recommendation {recommendation_id} failed and cannot be applied")
            if databricks_run_id is not None and row.state == "applied" and row.applied_to_run == databricks_run_id:
                return self._recs_out(s, [row])[0]  # applied to this run already (a retried record)
            t = now_ms()
            row.state = "applied"
            row.applied_ms = t
            if databricks_run_id is not None:
                row.applied_to_run = databricks_run_id
            row.updated_ms = t
            s.flush()
            return self._recs_out(s, [row])[0]

        return self._write(tx)

    def generate_recommendation(self, ref: ProjectRef) -> Recommendation:
        """Run the optimiser over the project's runs and settings, store the result as the ready one."""
        from airflow_provider_gradient.service.recommend import build_and_recommend

        project = self.get_project(ref)
        runs = self.list_runs(project.id, limit=None)
        rec_in = build_and_recommend(project, runs, price_catalog=self.price_catalog)
        return self.store_recommendation(project.id, rec_in)

    # ------------------------------------------------------------------ read model (the pages; service/read_model.py)
    def project_summaries(self, *, now_ms: int | None = None) -> list[ProjectSummary]:
        """Every project's summary (costs, learning progress, ROI, insights), newest activity first."""
        return read_model.project_summaries(self, now_ms=now_ms)

    def project_overview(self, ref: ProjectRef, *, now_ms: int | None = None) -> ProjectOverview:
        """A project with its summary, runs and newest recommendations (its page)."""
        return read_model.project_overview(self, ref, now_ms=now_ms)

    def project_roi(self, ref: ProjectRef) -> ProjectRoi:
        """A project's ROI from all its runs."""
        return read_model.roi_of(self, ref)

    def find_task_run(
        self,
        dag_id: str,
        task_id: str,
        run_id: str,
        try_number: int | None = None,
        map_index: int | None = None,
        cluster_key: str | None = None,
    ) -> TaskRun:
        """A task instance's projects (by DAG and task id, else app id ``<dag_id>.<task_id>``; one per cluster
        of a multi-cluster task), each with its run for the DAG run ``run_id`` and ``map_index`` (the try
        ``try_number``, else the latest) and the recommendation that run used, each looked up by key in the
        store (its task-instance tab).

        :param cluster_key: only the project of this ``task_key`` / ``job_cluster_key`` (None: every cluster)
        """
        if not dag_id or not task_id:
            return TaskRun()
        with self._read() as s:
            prows = ProjectRepo(s).for_task(dag_id, task_id)
            keys = cluster_keys([p.app_id for p in prows], f"{dag_id}.{task_id}")
            found = [
                self._cluster_run(s, prow, key, run_id, try_number, map_index)
                for prow, key in zip(prows, keys, strict=True)
                if cluster_key is None or key == cluster_key
            ]
            return TaskRun.of(found)

    def _cluster_run(
        self, s: Session, prow: ProjectRow, key: str | None, run_id: str, try_number: int | None, map_index: int | None
    ) -> ClusterRun:
        project = self._project_out(s, prow)
        row = RunRepo(s).for_task_instance(prow.id, run_id, map_index, try_number) if run_id else None
        if row is None:
            return ClusterRun(project, key)
        rec_row = RecommendationRepo(s).get(row.recommendation_id) if row.recommendation_id else None
        recs = self._recs_out(s, [rec_row]) if rec_row is not None and rec_row.project_id == prow.id else []
        return ClusterRun(project, key, run_out(row), recs[0] if recs else None)


# ---------------------------------------------------------------------- helpers
def _region(region: str | None) -> str | None:
    """A region as stored (trimmed, lower case); GradientValidationError naming it when blank or too long."""
    if region is None:
        return None
    value = region.strip().lower()
    if not value or len(value) > 64:
        msg = f"must be a region name of 1..64 characters (us-west-2, westeurope), got {region!r}"
        raise GradientValidationError(f"region: {msg}", [{"loc": ["region"], "msg": msg, "type": "value_error"}])
    return value


def _settings_columns(settings: ProjectSettings) -> dict[str, Any]:
    d = redacted(settings).model_dump()  # cluster_log_url: a presigned URL's signature
    d["allowed_families"] = list(d["allowed_families"])
    return d


def _workspace_columns(ws_in: WorkspaceIn) -> dict[str, Any]:
    return redacted(ws_in).model_dump()  # host: user:password@ or a token in the query
