"""Read-model value objects: a project's summary (ROI, insights, costs), the organisation KPIs, a project's
overview and the run of a task instance.

Pure functions over the service's value objects and ``core.roi`` / ``core.insights`` (no I/O), so the pages'
numbers are unit-testable with real inputs and identical in local and http mode (the objects are plain
dataclasses that pydantic serialises for the REST API and validates back in the HTTP client).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from airflow_provider_gradient.core import insights as ins_mod
from airflow_provider_gradient.core import roi as roi_mod
from airflow_provider_gradient.core.cluster import Cluster, ClusterError
from airflow_provider_gradient.service.schemas import Project, Recommendation, Run

#: Runs in the projects table's cost trend sparkline.
TREND_RUNS = 10

#: ``(cloud, dbu, storage, total)`` USD of a run.
CostTuple = tuple[float, float, float, float]


class LearningProgress(Protocol):
    """What the learning k/K indicator reads of a project's newest recommendation (a service
    ``Recommendation`` or the store read model's ``NewestRecommendation``)."""

    @property
    def learning_iteration(self) -> int: ...

    @property
    def learning_total(self) -> int: ...


def run_runtime_s(run: Run) -> float | None:
    """Runtime of a run in seconds (``duration_s`` or end - start).

    :param run: the run
    """
    if run.duration_s is not None:
        return float(run.duration_s)
    if run.start_ms is not None and run.end_ms is not None:
        return max(run.end_ms - run.start_ms, 0) / 1000.0
    return None


def run_cost(run: Run) -> CostTuple | None:
    """``(cloud, dbu, storage, total)`` USD of a run, None when not priced.

    :param run: the run
    """
    cost = run.cost
    if cost is None:
        return None
    cloud, dbu, storage = float(cost.cloud_usd), float(cost.dbu_usd), float(cost.storage_usd)
    return cloud, dbu, storage, float(cost.total_usd) or cloud + dbu + storage


#: ``core.roi`` failure kind of a run outcome.
FAILURE_KIND = {"oom": "oom", "timeout": "timeout", "failed": "other", "cancelled": "cancelled"}


def _autoscaling(cfg: Any) -> bool:
    """Whether a run's cluster config autoscales (False when it is not a readable cluster)."""
    try:
        return isinstance(cfg, Mapping) and Cluster.from_databricks(cfg, strict=False).is_autoscale
    except ClusterError:
        return False


def to_roi_point(run: Run) -> roi_mod.RunPoint:
    """The ``core.roi.RunPoint`` of a service ``Run``.

    :param run: the run
    """
    outcome = run.outcome
    metrics = run.metrics if isinstance(run.metrics, dict) else {}
    cost = run.cost
    cfg = run.cluster_config
    start, end = run.start_ms, run.end_ms
    runtime = run.duration_s
    if runtime is None:
        runtime = max(end - start, 0) / 1000.0 if start is not None and end is not None else 0.0
    return roi_mod.RunPoint(
        started_ms=int(start or run.created_ms or 0),
        runtime_s=float(runtime),
        cost_usd=None if cost is None else float(cost.total_usd),
        input_bytes=run.input_bytes,
        succeeded=outcome == "success",
        recommendation_applied=run.recommendation_id is not None,
        failure_kind=None if outcome == "success" else FAILURE_KIND.get(outcome, "other"),
        spot_interruptions=int(metrics.get("spot_interruptions") or 0),
        executors_avg=metrics.get("executors_avg"),
        executors_max=metrics.get("executors_max"),
        autoscaling=_autoscaling(cfg),
        log_status=run.log_status,
        logical_ms=run.logical_ms,
    )


def project_roi(runs: Iterable[Run]) -> roi_mod.ProjectRoi:
    """The ROI of a project from its runs (any order; ``core.roi.project_roi``).

    :param runs: every run of the project
    """
    ordered = sorted(runs, key=lambda r: (r.start_ms or 0, r.databricks_run_id or 0))
    return roi_mod.project_roi([to_roi_point(r) for r in ordered])


def insights_for(
    project: Project,
    points: Sequence[roi_mod.RunPoint],
    learning_total: int | None,
    *,
    now_ms: int | None = None,
    dormant_days: float | None = None,
) -> tuple[ins_mod.Insight, ...]:
    """Insight badges of a project (``core.insights.project_insights``).

    :param project: a service ``Project``
    :param points: its runs as ``core.roi.RunPoint`` (oldest first)
    :param learning_total: K of "learning k/K"
    :param dormant_days: ``[gradient] dormant_days`` (None: the insights' own default)
    """
    return ins_mod.project_insights(points, insight_settings(project, learning_total, dormant_days), now_ms=now_ms)


def insight_settings(
    project: Project, learning_total: int | None, dormant_days: float | None = None
) -> ins_mod.InsightSettings:
    """The facts and thresholds the insights of ``project`` use.

    :param project: a service ``Project``
    :param learning_total: K of "learning k/K"
    :param dormant_days: ``[gradient] dormant_days`` (None: the insights' own default)
    """
    settings = ins_mod.InsightSettings(
        sla_minutes=project.settings.sla_minutes,
        phase=project.phase,
        learning_total=learning_total,
        created_ms=project.created_ms,
    )
    return settings if dormant_days is None else replace(settings, dormant_days=float(dormant_days))


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    """One row of the projects table: a project's costs, learning progress, ROI and insights."""

    id: int
    app_id: str
    name: str
    dag_id: str | None
    task_id: str | None
    phase: str
    learning_k: int
    learning_total: int
    auto_apply: bool
    sla_minutes: float | None
    runs: int
    total_cost_usd: float
    cloud_usd: float
    dbu_usd: float
    storage_usd: float
    last_cost_usd: float | None
    last_runtime_s: float | None
    last_run_ms: int | None
    trend: tuple[float, ...]
    trend_pct: float | None
    roi: roi_mod.ProjectRoi
    insights: tuple[ins_mod.Insight, ...] = ()

    @property
    def insight_codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.insights)

    @property
    def phase_label(self) -> str:
        if self.phase == "optimizing":
            return "optimizing"
        if self.runs == 0:
            return "pending first run"
        return f"learning {self.learning_k}/{self.learning_total}"


def summarize_project(
    project: Project,
    runs: Sequence[Run],
    latest_rec: LearningProgress | None = None,
    *,
    now_ms: int | None = None,
    dormant_days: float | None = None,
) -> ProjectSummary:
    """The projects-table row of ``project`` from its runs (any order).

    :param project: a service ``Project``
    :param runs: its runs
    :param latest_rec: its newest recommendation (any state), for the learning k/K indicator
    :param dormant_days: ``[gradient] dormant_days`` (None: the insights' own default)
    """
    ordered = sorted(runs, key=lambda r: (r.start_ms or 0, r.databricks_run_id or 0))
    last = ordered[-1] if ordered else None
    return summarize_points(
        project,
        [to_roi_point(r) for r in ordered],
        [run_cost(r) for r in ordered],
        latest_rec,
        successes=sum(1 for r in ordered if r.outcome == "success"),
        last_runtime_s=None if last is None else run_runtime_s(last),
        last_run_ms=None if last is None else last.start_ms,
        now_ms=now_ms,
        dormant_days=dormant_days,
    )


def summarize_points(
    project: Project,
    points: Sequence[roi_mod.RunPoint],
    costs: Sequence[CostTuple | None],
    latest_rec: LearningProgress | None = None,
    *,
    successes: int,
    last_runtime_s: float | None,
    last_run_ms: int | None,
    now_ms: int | None = None,
    dormant_days: float | None = None,
) -> ProjectSummary:
    """The projects-table row of ``project`` from its runs already reduced to ROI points and costs.

    :param points: the runs as ``core.roi.RunPoint``, ordered by (start, run id)
    :param costs: :func:`run_cost` of each run, same order
    :param latest_rec: the newest recommendation (any state)
    :param successes: number of successful runs
    :param last_runtime_s: runtime of the last run
    :param last_run_ms: start of the last run
    :param dormant_days: ``[gradient] dormant_days`` (None: the insights' own default)
    """
    priced = [c for c in costs if c is not None]
    settings = project.settings
    total_k = settings.learning_runs
    if latest_rec is not None and latest_rec.learning_total:
        k, total_k = latest_rec.learning_iteration, latest_rec.learning_total
    else:
        k = min(successes, total_k)
    trend = tuple(c[3] for c in costs[-TREND_RUNS:] if c is not None)
    trend_pct = None
    if len(trend) >= 2 and trend[0] > 0:
        trend_pct = (trend[-1] - trend[0]) / trend[0] * 100.0
    last_cost = costs[-1] if costs else None
    return ProjectSummary(
        id=project.id,
        app_id=project.app_id,
        name=project.name or project.app_id,
        dag_id=project.dag_id,
        task_id=project.task_id,
        phase=project.phase or "learning",
        learning_k=k,
        learning_total=total_k,
        auto_apply=settings.auto_apply,
        sla_minutes=settings.sla_minutes,
        runs=len(points),
        total_cost_usd=sum((c[3] for c in priced), 0.0),
        cloud_usd=sum((c[0] for c in priced), 0.0),
        dbu_usd=sum((c[1] for c in priced), 0.0),
        storage_usd=sum((c[2] for c in priced), 0.0),
        last_cost_usd=None if last_cost is None else last_cost[3],
        last_runtime_s=last_runtime_s,
        last_run_ms=last_run_ms,
        trend=trend,
        trend_pct=trend_pct,
        roi=roi_mod.project_roi(points),
        insights=insights_for(project, points, total_k, now_ms=now_ms, dormant_days=dormant_days),
    )


@dataclass(frozen=True, slots=True)
class Kpis:
    """The organisation's KPIs (the projects page's tiles) over a set of project summaries."""

    projects: int
    runs: int
    total_cost_usd: float
    cloud_usd: float
    dbu_usd: float
    storage_usd: float
    savings_to_date_usd: float
    projected_12m_savings_usd: float

    @property
    def cloud_pct(self) -> float:
        base = self.cloud_usd + self.dbu_usd
        return self.cloud_usd / base * 100.0 if base else 0.0

    @property
    def dbu_pct(self) -> float:
        base = self.cloud_usd + self.dbu_usd
        return self.dbu_usd / base * 100.0 if base else 0.0


def kpis(rows: Sequence[ProjectSummary]) -> Kpis:
    """Organisation KPIs: sums over the projects (ROI via ``core.roi.organisation_roi``).

    :param rows: the summaries of the projects to count (e.g. those a user may read)
    """
    org = roi_mod.organisation_roi(r.roi for r in rows)
    return Kpis(
        projects=len(rows),
        runs=sum(r.runs for r in rows),
        total_cost_usd=sum((r.total_cost_usd for r in rows), 0.0),
        cloud_usd=sum((r.cloud_usd for r in rows), 0.0),
        dbu_usd=sum((r.dbu_usd for r in rows), 0.0),
        storage_usd=sum((r.storage_usd for r in rows), 0.0),
        savings_to_date_usd=org.savings_to_date_usd,
        projected_12m_savings_usd=org.projected_12m_savings_usd,
    )


@dataclass(frozen=True, slots=True)
class ProjectOverview:
    """What a project's page shows: the project, its summary, its runs and its recommendations.

    :param runs: every run (newest first, as ``list_runs``)
    :param recommendations: the newest recommendations (newest first)
    """

    project: Project
    summary: ProjectSummary
    runs: list[Run]
    recommendations: list[Recommendation]


@dataclass(frozen=True, slots=True)
class ClusterRun:
    """One cluster of an Airflow task: its project, its recorded run for one DAG run and the recommendation
    that run used.

    :param cluster_key: the ``task_key`` / ``job_cluster_key`` the project is for (its app id is
        ``<app id>.<key>``); None for a single-cluster task
    """

    project: Project
    cluster_key: str | None = None
    run: Run | None = None
    recommendation: Recommendation | None = None


@dataclass(frozen=True, slots=True)
class TaskRun:
    """What Gradient knows of an Airflow task instance: every cluster's project, run and recommendation
    (``clusters``; one per cluster of a multi-cluster task, oldest project first). ``project``, ``run`` and
    ``recommendation`` are those of the first cluster (the only one of a single-cluster task); each may be
    None."""

    project: Project | None = None
    run: Run | None = None
    recommendation: Recommendation | None = None
    clusters: tuple[ClusterRun, ...] = ()

    @classmethod
    def of(cls, clusters: Sequence[ClusterRun]) -> TaskRun:
        """The task run of these clusters (the first one's project, run and recommendation on top).

        :param clusters: every cluster's run, first one first
        """
        if not clusters:
            return cls()
        first = clusters[0]
        return cls(first.project, first.run, first.recommendation, tuple(clusters))
