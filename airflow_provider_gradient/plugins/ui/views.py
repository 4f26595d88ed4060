"""View models of the Gradient pages: labels, run and recommendation rows, chart points and CSV, built from
the service's value objects and read model (summaries, ROI and KPIs are computed by the service:
``service/summaries.py``).

Pure functions (no Airflow, no I/O) so the pages' numbers are unit-testable with real inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_gradient.charts import ChartPoint
from airflow_provider_gradient.core.cluster import cluster_label
from airflow_provider_gradient.core.csv_cell import csv_text
from airflow_provider_gradient.service.schemas import Recommendation, Run
from airflow_provider_gradient.service.summaries import ProjectSummary, run_cost, run_runtime_s

#: Runs shown on a project's timeline charts.
CHART_RUNS = 60


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


def savings_label(summary: ProjectSummary) -> str:
    """A project's ROI change in words (``42% cheaper`` / ``3.4% more expensive``), empty without ROI."""
    return change_label(summary.roi.savings_pct)


def savings_class(summary: ProjectSummary) -> str:
    """``good`` / ``bad`` / ``""`` (CSS class) by the sign of a project's savings to date."""
    return sign_class(summary.roi.savings_to_date_usd if summary.roi.status == "ok" else None)


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
    #: what the run was billed as (``RunPricing.label``; "" when recorded without it)
    billed_as: str = ""
    #: why it is not priced, or what was assumed (``RunPricing.note``)
    pricing_note: str | None = None


def run_views(runs: Sequence[Run]) -> list[RunView]:
    """Runs oldest first as :class:`RunView`."""
    ordered = sorted(runs, key=lambda r: (r.start_ms or 0, r.databricks_run_id))
    out = []
    for r in ordered:
        c = run_cost(r)
        out.append(
            RunView(
                databricks_run_id=r.databricks_run_id,
                start_ms=r.start_ms,
                outcome=r.outcome,
                runtime_s=run_runtime_s(r),
                cloud_usd=c[0] if c else 0.0,
                dbu_usd=c[1] if c else 0.0,
                storage_usd=c[2] if c else 0.0,
                total_usd=c[3] if c else None,
                recommendation_id=r.recommendation_id,
                cluster=cluster_label(r.cluster_config),
                metrics=r.metrics or {},
                log_status=r.log_status,
                input_bytes=_input_bytes(r),
                failure_message=r.failure_message,
                billed_as=r.pricing.label() if r.pricing is not None else "",
                pricing_note=r.pricing.note if r.pricing is not None else None,
            )
        )
    return out


def _input_bytes(run: Run) -> int | None:
    value: Any = run.input_bytes
    if value is None:
        value = (run.metrics or {}).get("input_bytes")
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
    #: the state as shown, e.g. "applied — run failed (oom)" (:meth:`Recommendation.status`)
    status: str
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


def recommendation_views(recs: Sequence[Recommendation], runs: Sequence[RunView]) -> list[RecommendationView]:
    """Recommendation history, newest first, each with the actual outcome of the run(s) that used it."""
    by_rec: dict[int, list[RunView]] = {}
    for v in runs:
        if v.recommendation_id is not None:
            by_rec.setdefault(v.recommendation_id, []).append(v)
    out = []
    for rec in sorted(recs, key=lambda r: r.id, reverse=True):
        used = [v for v in by_rec.get(rec.id, []) if v.outcome == "success"]
        rt = [v.runtime_s for v in used if v.runtime_s is not None]
        cost = [v.total_usd for v in used if v.total_usd is not None]
        total = rec.learning_total
        out.append(
            RecommendationView(
                id=rec.id,
                created_ms=rec.created_ms,
                state=rec.state,
                status=rec.status(),
                phase=rec.phase,
                cluster=cluster_label(rec.cluster),
                reason=rec.reason,
                predicted_runtime_s=rec.predicted_runtime_s,
                predicted_cost_usd=rec.predicted_cost_usd,
                actual_runtime_s=sum(rt) / len(rt) if rt else None,
                actual_cost_usd=sum(cost) / len(cost) if cost else None,
                learning=(
                    f"{rec.learning_iteration}/{total}"
                    if total and rec.phase == "learning"
                    else ""
                ),
                cost_low_usd=rec.cost_low_usd,
                cost_high_usd=rec.cost_high_usd,
                runtime_low_s=rec.runtime_low_s,
                runtime_high_s=rec.runtime_high_s,
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

