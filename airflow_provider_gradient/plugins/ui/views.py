"""View models of the Gradient pages: plain data built from the service's value objects and ``core.roi``.

Pure functions (no Airflow, no I/O) so the pages' numbers are unit-testable with real inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_gradient.core import insights as ins_mod
from airflow_provider_gradient.core import roi as roi_mod
from airflow_provider_gradient.core.cluster import Cluster, ClusterError
from airflow_provider_gradient.core.csv_cell import csv_text
from airflow_provider_gradient.plugins.ui.charts import RunPoint as ChartPoint

#: Runs shown on a project's timeline charts.
CHART_RUNS = 60
#: Runs in the projects table's cost trend sparkline.
TREND_RUNS = 10


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def run_runtime_s(run: Any) -> float | None:
    """Runtime of a run in seconds (``duration_s`` or end - start)."""
    d = _get(run, "duration_s")
    if d is not None:
        return float(d)
    start, end = _get(run, "start_ms"), _get(run, "end_ms")
    if start is not None and end is not None:
        return max(end - start, 0) / 1000.0
    return None


def run_cost(run: Any) -> tuple[float, float, float, float] | None:
    """``(cloud, dbu, storage, total)`` USD of a run, None when not priced."""
    cost = _get(run, "cost")
    if cost is None:
        return None
    cloud = float(_get(cost, "cloud_usd", 0.0) or 0.0)
    dbu = float(_get(cost, "dbu_usd", 0.0) or 0.0)
    storage = float(_get(cost, "storage_usd", 0.0) or 0.0)
    total = float(_get(cost, "total_usd", 0.0) or 0.0) or cloud + dbu + storage
    return cloud, dbu, storage, total


_FAILURE_KIND = {"oom": "oom", "timeout": "timeout", "failed": "other", "cancelled": "other"}


def _autoscaling(cfg: Any) -> bool:
    """Whether a run's cluster config autoscales (False when it is not a readable cluster)."""
    try:
        return isinstance(cfg, Mapping) and Cluster.from_databricks(cfg, strict=False).is_autoscale
    except ClusterError:
        return False


def to_roi_point(run: Any) -> roi_mod.RunPoint:
    """The ``core.roi.RunPoint`` of a service ``Run`` (or any object with the same attributes)."""
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
        failure_kind=None if outcome == "success" else _FAILURE_KIND.get(outcome, "other"),
        spot_interruptions=int(metrics.get("spot_interruptions") or 0),
        executors_avg=metrics.get("executors_avg"),
        executors_max=metrics.get("executors_max"),
        autoscaling=_autoscaling(cfg),
        log_status=run.log_status,
        logical_ms=getattr(run, "logical_ms", None),
    )


def insights_for(
    project: Any, points: Sequence[roi_mod.RunPoint], learning_total: int | None, *, now_ms: int | None = None
) -> tuple[ins_mod.Insight, ...]:
    """Insight badges of a project (``core.insights.project_insights``).

    :param project: a service ``Project``
    :param points: its runs as ``core.roi.RunPoint`` (oldest first)
    :param learning_total: K of "learning k/K"
    """
    settings = ins_mod.InsightSettings(
        sla_minutes=_get(_get(project, "settings"), "sla_minutes"),
        phase=_get(project, "phase"),
        learning_total=learning_total,
        created_ms=_get(project, "created_ms"),
    )
    return ins_mod.project_insights(points, settings, now_ms=now_ms)


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    """One row of the projects table."""

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

    @property
    def savings_label(self) -> str:
        """The ROI change in words (``42% cheaper`` / ``3.4% more expensive``), empty without ROI."""
        return change_label(self.roi.savings_pct)

    @property
    def savings_class(self) -> str:
        """``good`` / ``bad`` / ``""`` (CSS class) by the sign of the savings to date."""
        return sign_class(self.roi.savings_to_date_usd if self.roi.status == "ok" else None)


def change_label(pct: float | None) -> str:
    """A cost change in percent (positive = cheaper than the baseline) in words.

    :param pct: e.g. ``42.0`` (42 % cheaper) or ``-3.4`` (3.4 % more expensive); None = no figure.
    """
    if pct is None:
        return ""
    if abs(pct) < 0.05:
        return "no change"
    size = f"{abs(pct):.0f}%" if abs(pct) >= 10 else f"{abs(pct):.1f}%"
    return f"{size} cheaper" if pct > 0 else f"{size} more expensive"


def sign_class(value: float | None) -> str:
    """CSS class of a saving: ``good`` when positive, ``bad`` when negative, ``""`` otherwise."""
    if value is None or abs(value) < 0.005:
        return ""
    return "good" if value > 0 else "bad"


def summarize_project(
    project: Any, runs: Sequence[Any], latest_rec: Any = None, *, now_ms: int | None = None
) -> ProjectSummary:
    """The projects-table row of ``project`` from its runs (any order).

    :param project: a service ``Project``
    :param runs: its runs
    :param latest_rec: its newest recommendation (any state), for the learning k/K indicator
    """
    ordered = sorted(runs, key=lambda r: (r.start_ms or 0, r.databricks_run_id or 0))
    last = ordered[-1] if ordered else None
    return summarize_points(
        project,
        [to_roi_point(r) for r in ordered],
        [run_cost(r) for r in ordered],
        latest_rec,
        successes=sum(1 for r in ordered if _get(r, "outcome") == "success"),
        last_runtime_s=None if last is None else run_runtime_s(last),
        last_run_ms=None if last is None else _get(last, "start_ms"),
        now_ms=now_ms,
    )


def summarize_points(
    project: Any,
    points: Sequence[roi_mod.RunPoint],
    costs: Sequence[tuple[float, float, float, float] | None],
    latest_rec: Any = None,
    *,
    successes: int,
    last_runtime_s: float | None,
    last_run_ms: int | None,
    now_ms: int | None = None,
) -> ProjectSummary:
    """The projects-table row of ``project`` from its runs already reduced to ROI points and costs.

    :param points: the runs as ``core.roi.RunPoint``, ordered by (start, run id)
    :param costs: :func:`run_cost` of each run, same order
    :param successes: number of successful runs
    :param last_runtime_s: runtime of the last run
    :param last_run_ms: start of the last run
    """
    priced = [c for c in costs if c is not None]
    settings = _get(project, "settings")
    total_k = int(_get(settings, "learning_runs", 4) or 4)
    if latest_rec is not None and _get(latest_rec, "learning_total"):
        k, total_k = int(_get(latest_rec, "learning_iteration") or 0), int(_get(latest_rec, "learning_total"))
    else:
        k = min(successes, total_k)
    trend = tuple(c[3] for c in costs[-TREND_RUNS:] if c is not None)
    trend_pct = None
    if len(trend) >= 2 and trend[0] > 0:
        trend_pct = (trend[-1] - trend[0]) / trend[0] * 100.0
    last_cost = costs[-1] if costs else None
    return ProjectSummary(
        id=int(_get(project, "id")),
        app_id=str(_get(project, "app_id")),
        name=str(_get(project, "name") or _get(project, "app_id")),
        dag_id=_get(project, "dag_id"),
        task_id=_get(project, "task_id"),
        phase=str(_get(project, "phase") or "learning"),
        learning_k=k,
        learning_total=total_k,
        auto_apply=bool(_get(settings, "auto_apply", False)),
        sla_minutes=_get(settings, "sla_minutes"),
        runs=len(points),
        total_cost_usd=sum(c[3] for c in priced),
        cloud_usd=sum(c[0] for c in priced),
        dbu_usd=sum(c[1] for c in priced),
        storage_usd=sum(c[2] for c in priced),
        last_cost_usd=None if last_cost is None else last_cost[3],
        last_runtime_s=last_runtime_s,
        last_run_ms=last_run_ms,
        trend=trend,
        trend_pct=trend_pct,
        roi=roi_mod.project_roi(points),
        insights=insights_for(project, points, total_k, now_ms=now_ms),
    )


@dataclass(frozen=True, slots=True)
class Kpis:
    """The KPI tiles of the projects page."""

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
    """Organisation KPIs: sums over the projects (ROI via ``core.roi.organisation_roi``)."""
    org = roi_mod.organisation_roi(r.roi for r in rows)
    return Kpis(
        projects=len(rows),
        runs=sum(r.runs for r in rows),
        total_cost_usd=sum(r.total_cost_usd for r in rows),
        cloud_usd=sum(r.cloud_usd for r in rows),
        dbu_usd=sum(r.dbu_usd for r in rows),
        storage_usd=sum(r.storage_usd for r in rows),
        savings_to_date_usd=org.savings_to_date_usd,
        projected_12m_savings_usd=org.projected_12m_savings_usd,
    )


PROJECT_CSV_COLUMNS = (
    "id",
    "app_id",
    "name",
    "phase",
    "auto_apply",
    "sla_minutes",
    "runs",
    "last_cost_usd",
    "last_runtime_min",
    "total_cost_usd",
    "savings_to_date_usd",
    "projected_12m_savings_usd",
    "insights",
)


def projects_csv(rows: Iterable[ProjectSummary]) -> str:
    """The projects table as CSV (formula-safe)."""
    return csv_text(
        PROJECT_CSV_COLUMNS,
        (
            (
                r.id,
                r.app_id,
                r.name,
                r.phase_label,
                r.auto_apply,
                r.sla_minutes,
                r.runs,
                None if r.last_cost_usd is None else round(r.last_cost_usd, 4),
                None if r.last_runtime_s is None else round(r.last_runtime_s / 60, 2),
                round(r.total_cost_usd, 4),
                round(r.roi.savings_to_date_usd, 2),
                round(r.roi.projected_12m_savings_usd, 2),
                ";".join(r.insight_codes),
            )
            for r in rows
        ),
    )


@dataclass(frozen=True, slots=True)
class RunView:
    """One run on the project page."""

    databricks_run_id: int
    start_ms: int | None
    outcome: str
    runtime_s: float | None
    cloud_usd: float
    dbu_usd: float
    storage_usd: float
    total_usd: float | None
    recommendation_id: int | None
    cluster: str
    metrics: Mapping[str, Any] = field(default_factory=dict)
    log_status: str | None = None
    #: input data size of the run (the stored ``input_bytes`` ROI uses; metrics as a fallback)
    input_bytes: int | None = None
    failure_message: str | None = None


def cluster_label(cfg: Mapping[str, Any] | None) -> str:
    """``node × workers`` (or ``node × min–max``), plus ``spot``/``photon`` hints, of a new_cluster dict
    (read as a ``core.cluster.Cluster``; an invalid one names its bad field)."""
    if not cfg:
        return "—"
    try:
        c = Cluster.from_databricks(cfg, strict=False)
    except ClusterError as exc:
        return f"{cfg.get('node_type_id') or '?'} (invalid {exc.field})"
    if c.is_autoscale:
        workers = f"{c.autoscale_min}–{c.autoscale_max}"
    else:
        workers = "?" if c.num_workers is None else str(c.num_workers)
    extra = [name for name, on in (("spot", c.spot), ("photon", c.photon)) if on]
    return f"{c.node_type_id or '?'} × {workers}" + (f" ({', '.join(extra)})" if extra else "")


def run_views(runs: Sequence[Any]) -> list[RunView]:
    """Runs oldest first as :class:`RunView`."""
    ordered = sorted(runs, key=lambda r: (_get(r, "start_ms") or 0, _get(r, "databricks_run_id") or 0))
    out = []
    for r in ordered:
        c = run_cost(r)
        out.append(
            RunView(
                databricks_run_id=int(_get(r, "databricks_run_id")),
                start_ms=_get(r, "start_ms"),
                outcome=str(_get(r, "outcome")),
                runtime_s=run_runtime_s(r),
                cloud_usd=c[0] if c else 0.0,
                dbu_usd=c[1] if c else 0.0,
                storage_usd=c[2] if c else 0.0,
                total_usd=c[3] if c else None,
                recommendation_id=_get(r, "recommendation_id"),
                cluster=cluster_label(_get(r, "cluster_config")),
                metrics=_get(r, "metrics") or {},
                log_status=_get(r, "log_status"),
                input_bytes=_input_bytes(r),
                failure_message=_get(r, "failure_message"),
            )
        )
    return out


def _input_bytes(run: Any) -> int | None:
    value = _get(run, "input_bytes")
    if value is None:
        value = (_get(run, "metrics") or {}).get("input_bytes")
    return None if value is None else int(value)


def _day(ms: int | None) -> str:
    import datetime as dt

    if ms is None:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def chart_points(views: Sequence[RunView], limit: int = CHART_RUNS) -> list[ChartPoint]:
    """The last ``limit`` runs as chart points (oldest first); ``recommendation_applied`` marks the first run
    that used each recommendation."""
    out = []
    previous: int | None = None
    for k, v in enumerate(views):
        # a marker where a (new) recommendation starts being used
        starts = v.recommendation_id is not None and v.recommendation_id != previous
        previous = v.recommendation_id
        if k < len(views) - limit:
            continue
        when = _day(v.start_ms)
        out.append(
            ChartPoint(
                label=f"run #{k + 1} (Databricks run {v.databricks_run_id}" + (f", {when})" if when else ")"),
                tick=f"#{k + 1}",
                cloud_usd=v.cloud_usd,
                dbu_usd=v.dbu_usd,
                storage_usd=v.storage_usd,
                runtime_s=v.runtime_s,
                failed=v.outcome != "success",
                recommendation_applied=starts,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class RecommendationView:
    """A recommendation with the run that used it (predicted vs actual)."""

    id: int
    created_ms: int
    state: str
    phase: str
    cluster: str
    reason: str
    predicted_runtime_s: float | None
    predicted_cost_usd: float | None
    actual_runtime_s: float | None
    actual_cost_usd: float | None
    learning: str
    cost_low_usd: float | None = None
    cost_high_usd: float | None = None
    runtime_low_s: float | None = None
    runtime_high_s: float | None = None


def recommendation_views(recs: Sequence[Any], runs: Sequence[RunView]) -> list[RecommendationView]:
    """Recommendation history, newest first, each with the actual outcome of the run(s) that used it."""
    by_rec: dict[int, list[RunView]] = {}
    for v in runs:
        if v.recommendation_id is not None:
            by_rec.setdefault(v.recommendation_id, []).append(v)
    out = []
    for rec in sorted(recs, key=lambda r: _get(r, "id"), reverse=True):
        used = [v for v in by_rec.get(int(_get(rec, "id")), []) if v.outcome == "success"]
        rt = [v.runtime_s for v in used if v.runtime_s is not None]
        cost = [v.total_usd for v in used if v.total_usd is not None]
        total = _get(rec, "learning_total") or 0
        out.append(
            RecommendationView(
                id=int(_get(rec, "id")),
                created_ms=int(_get(rec, "created_ms") or 0),
                state=str(_get(rec, "state")),
                phase=str(_get(rec, "phase")),
                cluster=cluster_label(_get(rec, "cluster")),
                reason=str(_get(rec, "reason") or ""),
                predicted_runtime_s=_get(rec, "predicted_runtime_s"),
                predicted_cost_usd=_get(rec, "predicted_cost_usd"),
                actual_runtime_s=sum(rt) / len(rt) if rt else None,
                actual_cost_usd=sum(cost) / len(cost) if cost else None,
                learning=(
                    f"{_get(rec, 'learning_iteration') or 0}/{total}"
                    if total and _get(rec, "phase") == "learning"
                    else ""
                ),
                cost_low_usd=_get(rec, "cost_low_usd"),
                cost_high_usd=_get(rec, "cost_high_usd"),
                runtime_low_s=_get(rec, "runtime_low_s"),
                runtime_high_s=_get(rec, "runtime_high_s"),
            )
        )
    return out


#: Labels of the settings fields as the Edit dialog shows them (validation messages use them).
SETTING_LABELS = {
    "sla_minutes": "SLA (minutes)",
    "auto_apply": "Auto-apply",
    "maintain_scaling_type": "Maintain scaling type",
    "optimize_instance_size": "Optimise instance size",
    "allowed_families": "Allowed families",
    "force_on_demand": "Force on-demand",
    "allow_arm": "Allow another CPU architecture",
    "max_workers": "Max workers",
    "learning_runs": "Learning runs",
    "window_start": "Window start",
    "window_end": "Window end",
    "cluster_log_url": "Cluster log URL",
}


def readable_error(error: Mapping[str, Any]) -> str:
    """One pydantic-style error (``loc``, ``msg``) as a sentence naming the field as the page labels it."""
    loc = [str(x) for x in error.get("loc") or () if not isinstance(x, int)]
    field_name = next((x for x in reversed(loc) if x in SETTING_LABELS), loc[-1] if loc else "")
    label = SETTING_LABELS.get(field_name, field_name.replace("_", " "))
    msg = str(error.get("msg") or "is invalid")
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if msg.startswith("Input should be "):
        msg = "must be " + msg[len("Input should be "):]
    elif msg.startswith("String should match pattern"):
        msg = "must be a time HH:MM (24 h)" if field_name.startswith("window") else "has an invalid format"
    elif msg == "Extra inputs are not permitted":
        msg = "is not a setting"
    if field_name and not msg.lower().startswith(field_name.replace("_", " ")) and field_name not in msg:
        return f"{label} {msg}"
    return msg[:1].upper() + msg[1:]


def readable_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """Several validation errors as sentences separated by ``; ``."""
    return "; ".join(dict.fromkeys(readable_error(e) for e in errors))

