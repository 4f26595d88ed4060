"""ROI of a project and of the organisation: savings to date and projected 12-month savings.

Pure functions over :class:`RunPoint` value objects; the metric choice follows Gradient's documented
method (https://docs.synccomputing.com/sync-gradient/roi-reporting):

1. Pearson correlation r between input data size and runtime (successful runs with a known, non-zero size).
2. r >= 0.7: use max(cost change %, cost/GB change %).
3. r < 0.7 (or r undefined): use cost change %, except when costs increased because the data size
   increased: then cost/GB change %.

Formulas (``pct`` = the chosen change, as a fraction; positive = cheaper than the baseline):

The annual run frequency comes from the runs' *logical dates* (the Airflow DAG runs' schedule) when at
least two runs have one, else from the Databricks start times.

- cost change:  savings to date = avg baseline cost × pct × optimized runs;
                projected 12 months = avg baseline cost × pct × annual run frequency.
- cost/GB:      savings to date = avg current GB × avg baseline $/GB × pct × optimized runs;
                projected 12 months = avg current GB × avg baseline $/GB × pct × annual run frequency.

Periods: *baseline* = successful runs started before the first run that used an applied recommendation;
*optimized* = successful runs that used an applied recommendation. Failed runs and runs without a cost
are left out of the averages (they are counted in ``ignored_runs``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

#: Correlation at or above which data size is considered to drive runtime (Gradient's threshold).
CORRELATION_THRESHOLD = 0.7
_MS_PER_YEAR = 365.0 * 24 * 3_600_000
_GB = 1024.0**3

METRIC_COST = "cost_change"
METRIC_COST_PER_GB = "cost_per_gb_change"


@dataclass(frozen=True, slots=True)
class RunPoint:
    """What ROI and insights need to know about one run.

    :param cost_usd: total cost of the run (None = not priced yet).
    :param input_bytes: input data size (None or 0 = unknown).
    :param recommendation_applied: the run used a cluster recommended by Gradient.
    :param failure_kind: ``oom`` / ``spot`` / ``timeout`` / ``other`` for failed runs, ``cancelled`` for a run
        cancelled by a user or by Airflow (not successful, but no failure either).
    :param spot_interruptions: spot nodes lost during the run.
    :param executors_avg: time-weighted average executors (autoscaling insight).
    :param executors_max: maximum executors.
    :param autoscaling: the cluster had autoscaling on.
    :param log_status: ``complete`` / ``incomplete`` / ``missing`` (event log collection), None = unknown.
    :param logical_ms: logical date of the Airflow DAG run that submitted the run (its schedule), if known.
    """

    started_ms: int
    runtime_s: float
    cost_usd: float | None
    input_bytes: int | None
    succeeded: bool
    recommendation_applied: bool
    failure_kind: str | None = None
    spot_interruptions: int = 0
    executors_avg: float | None = None
    executors_max: float | None = None
    autoscaling: bool = False
    log_status: str | None = None
    logical_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ProjectRoi:
    """ROI of one project. Percentages are in percent (25.0 = 25 % cheaper than the baseline).

    :param status: ``ok``, or why there is no ROI yet: ``no_runs``, ``no_applied_recommendation``,
        ``no_baseline``, ``no_optimized_runs``, ``no_baseline_cost``.
    :param metric: ``cost_change`` or ``cost_per_gb_change`` (None when status is not ``ok``).
    :param reason: one sentence saying which metric was used and why (or why there is no ROI).
    :param correlation: Pearson r between input size and runtime (None = undefined).
    """

    status: str
    metric: str | None
    reason: str
    correlation: float | None
    baseline_runs: int
    optimized_runs: int
    ignored_runs: int
    baseline_avg_cost_usd: float | None
    current_avg_cost_usd: float | None
    cost_change_pct: float | None
    cost_per_gb_change_pct: float | None
    savings_pct: float | None
    savings_to_date_usd: float
    projected_12m_savings_usd: float
    annual_run_frequency: float | None
    first_applied_ms: int | None

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict of all fields."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class OrganisationRoi:
    """ROI summed over projects."""

    projects: int
    projects_with_roi: int
    savings_to_date_usd: float
    projected_12m_savings_usd: float
    baseline_cost_usd: float
    current_cost_usd: float

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict of all fields."""
        return asdict(self)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson correlation of two equal-length series; None when undefined (< 3 points or constant)."""
    n = len(xs)
    if n != len(ys) or n < 3 or min(xs) == max(xs) or min(ys) == max(ys):
        return None
    mx = sum(xs) / n
    my = sum(ys) / n
    sxy = sxx = syy = 0.0
    for x, y in zip(xs, ys, strict=True):
        dx = x - mx
        dy = y - my
        sxy += dx * dy
        sxx += dx * dx
        syy += dy * dy
    if sxx <= 0.0 or syy <= 0.0:
        return None
    r = sxy / math.sqrt(sxx * syy)
    if not math.isfinite(r):
        return None
    return max(-1.0, min(1.0, r))


def annual_run_frequency(started_ms: Sequence[int]) -> float | None:
    """Runs per year from the observed cadence: (n - 1) runs over the first-to-last span; None if < 2 runs."""
    if len(started_ms) < 2:
        return None
    span = max(started_ms) - min(started_ms)
    if span <= 0:
        return None
    return (len(started_ms) - 1) * _MS_PER_YEAR / span


def run_frequency(runs: Sequence[RunPoint]) -> float | None:
    """Runs per year: from the logical dates (the DAG's schedule) when two or more runs have one, else from
    the Databricks start times. Retries of one DAG run share a logical date and count once."""
    logical = sorted({r.logical_ms for r in runs if r.logical_ms is not None})
    if len(logical) >= 2:
        return annual_run_frequency(logical)
    return annual_run_frequency([r.started_ms for r in runs])


def _mean(values: Iterable[float]) -> float | None:
    vals = values if isinstance(values, list) else list(values)
    return sum(vals) / len(vals) if vals else None


def _empty(status: str, reason: str, **kw: object) -> ProjectRoi:
    fields: dict[str, object] = {
        "status": status,
        "metric": None,
        "reason": reason,
        "correlation": None,
        "baseline_runs": 0,
        "optimized_runs": 0,
        "ignored_runs": 0,
        "baseline_avg_cost_usd": None,
        "current_avg_cost_usd": None,
        "cost_change_pct": None,
        "cost_per_gb_change_pct": None,
        "savings_pct": None,
        "savings_to_date_usd": 0.0,
        "projected_12m_savings_usd": 0.0,
        "annual_run_frequency": None,
        "first_applied_ms": None,
    }
    fields.update(kw)
    return ProjectRoi(**fields)  # type: ignore[arg-type]


def _known_size(r: RunPoint) -> bool:
    return r.input_bytes is not None and r.input_bytes > 0


def project_roi(runs: Iterable[RunPoint], *, threshold: float = CORRELATION_THRESHOLD) -> ProjectRoi:
    """ROI of one project from all its runs (any order).

    :param runs: every run of the project (failed and unpriced runs are allowed; they are ignored).
    :param threshold: correlation threshold for the metric choice (Gradient: 0.7).
    """
    ordered = sorted(runs, key=lambda r: r.started_ms)
    if not ordered:
        return _empty("no_runs", "No runs yet.")
    freq = run_frequency(ordered)
    applied = [r for r in ordered if r.recommendation_applied]
    if not applied:
        return _empty(
            "no_applied_recommendation",
            "No recommendation has been applied yet: every run is baseline.",
            baseline_runs=sum(1 for r in ordered if r.succeeded and r.cost_usd is not None),
            annual_run_frequency=freq,
        )
    first_ms = applied[0].started_ms
    usable = [r for r in ordered if r.succeeded and r.cost_usd is not None]
    baseline = [r for r in usable if r.started_ms < first_ms]
    optimized = [r for r in usable if r.recommendation_applied]
    ignored = len(ordered) - len(baseline) - len(optimized)
    common = {
        "baseline_runs": len(baseline),
        "optimized_runs": len(optimized),
        "ignored_runs": ignored,
        "annual_run_frequency": freq,
        "first_applied_ms": first_ms,
    }
    if not baseline:
        return _empty(
            "no_baseline", "No successful priced run before the first applied recommendation.", **common
        )
    if not optimized:
        return _empty("no_optimized_runs", "No successful priced run with the recommendation yet.", **common)

    base_cost = _mean(r.cost_usd or 0.0 for r in baseline) or 0.0
    cur_cost = _mean(r.cost_usd or 0.0 for r in optimized) or 0.0
    common.update(baseline_avg_cost_usd=base_cost, current_avg_cost_usd=cur_cost)
    if base_cost <= 0:
        return _empty("no_baseline_cost", "The baseline runs cost nothing: no change to measure.", **common)
    cost_change = (base_cost - cur_cost) / base_cost

    # cost per GB (runs with a known size only)
    base_sized = [r for r in baseline if _known_size(r)]
    cur_sized = [r for r in optimized if _known_size(r)]
    per_gb_change: float | None = None
    base_per_gb = cur_gb = base_gb = None
    if base_sized and cur_sized:
        base_per_gb = _mean((r.cost_usd or 0.0) / ((r.input_bytes or 1) / _GB) for r in base_sized)
        cur_per_gb = _mean((r.cost_usd or 0.0) / ((r.input_bytes or 1) / _GB) for r in cur_sized)
        cur_gb = _mean((r.input_bytes or 0) / _GB for r in cur_sized)
        base_gb = _mean((r.input_bytes or 0) / _GB for r in base_sized)
        if base_per_gb and cur_per_gb is not None:
            per_gb_change = (base_per_gb - cur_per_gb) / base_per_gb

    sized = [r for r in usable if _known_size(r)]
    corr = pearson([float(r.input_bytes or 0) for r in sized], [r.runtime_s for r in sized])
    corr_txt = "undefined" if corr is None else f"{corr:.2f}"

    metric = METRIC_COST
    if per_gb_change is None:
        reason = f"Cost change % (input data size unknown for the baseline or optimized runs; r={corr_txt})."
    elif corr is not None and corr >= threshold:
        if per_gb_change > cost_change:
            metric = METRIC_COST_PER_GB
        reason = (
            f"Input size and runtime are strongly correlated (r={corr_txt} >= {threshold}): "
            f"the larger of cost change % ({cost_change * 100:.1f}) and cost/GB change % "
            f"({per_gb_change * 100:.1f}) is used: {'cost/GB' if metric == METRIC_COST_PER_GB else 'cost'} change %."
        )
    else:
        grew = base_gb is not None and cur_gb is not None and cur_gb > base_gb
        why = f"r {corr_txt} < {threshold}"
        if corr is None:
            xs = [float(r.input_bytes or 0) for r in sized]
            why = ("the input size did not change" if len(sized) >= 3 and min(xs) == max(xs)
                   else "too few runs with a known input size" if len(sized) < 3 else "r undefined")
        if cost_change < 0 and grew:
            metric = METRIC_COST_PER_GB
            reason = (
                f"Weak correlation between input size and runtime ({why}), but costs increased "
                f"because the input grew ({base_gb:.2f} GB -> {cur_gb:.2f} GB average): cost/GB change % is used."
            )
        else:
            reason = (f"Weak correlation between input size and runtime ({why}): cost change % is used."
                      if corr is not None else f"No correlation between input size and runtime to use ({why}): "
                      f"cost change % is used.")

    n = len(optimized)
    annual = freq or 0.0
    if metric == METRIC_COST_PER_GB:
        assert per_gb_change is not None and cur_gb is not None and base_per_gb is not None
        pct = per_gb_change
        unit = cur_gb * base_per_gb
    else:
        pct = cost_change
        unit = base_cost
    return ProjectRoi(
        status="ok",
        metric=metric,
        reason=reason,
        correlation=corr,
        baseline_runs=len(baseline),
        optimized_runs=n,
        ignored_runs=ignored,
        baseline_avg_cost_usd=base_cost,
        current_avg_cost_usd=cur_cost,
        cost_change_pct=cost_change * 100.0,
        cost_per_gb_change_pct=None if per_gb_change is None else per_gb_change * 100.0,
        savings_pct=pct * 100.0,
        savings_to_date_usd=unit * pct * n,
        projected_12m_savings_usd=unit * pct * annual,
        annual_run_frequency=freq,
        first_applied_ms=first_ms,
    )


def organisation_roi(projects: Iterable[ProjectRoi]) -> OrganisationRoi:
    """Organisation-level ROI: the sum over projects (projects without ROI contribute 0)."""
    items = list(projects)
    ok = [p for p in items if p.status == "ok"]
    return OrganisationRoi(
        projects=len(items),
        projects_with_roi=len(ok),
        savings_to_date_usd=sum(p.savings_to_date_usd for p in ok),
        projected_12m_savings_usd=sum(p.projected_12m_savings_usd for p in ok),
        baseline_cost_usd=sum((p.baseline_avg_cost_usd or 0.0) * p.baseline_runs for p in ok),
        current_cost_usd=sum((p.current_avg_cost_usd or 0.0) * p.optimized_runs for p in ok),
    )
