"""Insights per project (badges in the UI): pure rules over the project's runs, settings and "now".

Each rule looks at the most recent runs (``InsightSettings.recent_runs``) and yields at most one
:class:`Insight` with a stable ``code`` (filterable), a ``severity`` (``info`` < ``warning`` < ``critical``)
and a short message. :data:`INSIGHT_CODES` lists every code.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_gradient.core.roi import RunPoint

_MS_PER_DAY = 86_400_000
#: log statuses that are not a collection problem ("pending" = not collected yet)
_LOG_OK = frozenset({"complete", "pending"})

VARIABLE_DATA_SIZE = "variable_data_size"
DORMANT = "dormant"
#: ``RunPoint.failure_kind`` of a cancelled run: not a success, but no failure (not counted as one).
CANCELLED = "cancelled"
SLA_AT_RISK = "sla_at_risk"
FAILING_RUNS = "failing_runs"
OOM = "oom"
SPOT_INTERRUPTIONS = "spot_interruptions"
AUTOSCALING_IDLE = "autoscaling_idle"
LOG_INCOMPLETE = "log_incomplete"
LEARNING_STALLED = "learning_stalled"

#: Every insight code, in display order.
INSIGHT_CODES: tuple[str, ...] = (
    SLA_AT_RISK,
    OOM,
    FAILING_RUNS,
    SPOT_INTERRUPTIONS,
    AUTOSCALING_IDLE,
    LOG_INCOMPLETE,
    LEARNING_STALLED,
    VARIABLE_DATA_SIZE,
    DORMANT,
)
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class Insight:
    """One badge: ``code`` (see :data:`INSIGHT_CODES`), ``severity`` (info/warning/critical), ``message``."""

    code: str
    severity: str
    message: str


@dataclass(frozen=True, slots=True)
class InsightSettings:
    """Project facts and thresholds the rules use.

    :param sla_minutes: the project's runtime SLA (None = no SLA: no SLA insight).
    :param phase: ``learning`` or ``optimizing`` (None = unknown).
    :param learning_total: learning runs the optimiser plans (K of "learning k/K").
    :param created_ms: project creation time (a project with no run since is dormant after ``dormant_days``).
    :param recent_runs: how many of the latest runs the rules look at.
    :param sla_near_fraction: a runtime above this fraction of the SLA is "near" it.
    :param variable_size_cv: coefficient of variation of input size above which the size is "variable".
    :param failure_rate: share of failed recent runs that raises ``failing_runs``.
    :param spot_slowdown: interrupted runs this much slower (ratio of medians) than clean runs.
    :param idle_ratio: executors avg/max below this on autoscaling runs raises ``autoscaling_idle``.
    """

    sla_minutes: float | None = None
    phase: str | None = None
    learning_total: int | None = None
    created_ms: int | None = None
    dormant_days: float = 30.0
    recent_runs: int = 10
    sla_near_fraction: float = 0.9
    variable_size_cv: float = 0.5
    failure_rate: float = 0.3
    spot_slowdown: float = 1.2
    idle_ratio: float = 0.6
    learning_stall_factor: float = 2.0


def _variable_data_size(runs: Sequence[RunPoint], s: InsightSettings, now_ms: int) -> Insight | None:
    sizes = [float(r.input_bytes) for r in runs if r.input_bytes]
    if len(sizes) < 4:
        return None
    mean = statistics.fmean(sizes)
    cv = statistics.pstdev(sizes) / mean
    if cv < s.variable_size_cv:
        return None
    gb = [x / 1024**3 for x in sizes]
    return Insight(
        VARIABLE_DATA_SIZE,
        "info",
        f"Input size varies a lot ({min(gb):.1f}-{max(gb):.1f} GB, CV {cv:.2f}): "
        "runtime and cost follow the data, ROI may use cost/GB.",
    )


def _dormant(runs: Sequence[RunPoint], s: InsightSettings, now_ms: int) -> Insight | None:
    return _dormant_since(runs[-1].started_ms if runs else None, s, now_ms)


def _dormant_since(last_started_ms: int | None, s: InsightSettings, now_ms: int) -> Insight | None:
    last = s.created_ms if last_started_ms is None else last_started_ms
    if last is None:
        return None
    days = (now_ms - last) / _MS_PER_DAY
    if days < s.dormant_days:
        return None
    what = (
        f"No run in {days:.0f} days"
        if last_started_ms is not None
        else f"No run since the project was created {days:.0f} days ago"
    )
    return Insight(DORMANT, "info", f"{what}: the job may be retired or moved.")


def _sla_at_risk(runs: Sequence[RunPoint], s: InsightSettings, now_ms: int) -> Insight | None:
    if not s.sla_minutes or s.sla_minutes <= 0:
        return None
    sla_s = s.sla_minutes * 60.0
    recent = [r for r in runs if r.succeeded][-5:]
    if not recent:
        return None
    over = [r for r in recent if r.runtime_s > sla_s]
    worst = max(r.runtime_s for r in recent) / 60.0
    if over:
        return Insight(
            SLA_AT_RISK,
            "critical",
            f"{len(over)} of the last {len(recent)} runs exceeded the {s.sla_minutes:g} min SLA "
            f"(worst {worst:.1f} min).",
        )
    near = [r for r in recent if r.runtime_s >= s.sla_near_fraction * sla_s]
    if near:
        return Insight(
            SLA_AT_RISK,
            "warning",
            f"{len(near)} of the last {len(recent)} runs came within {100 * (1 - s.sla_near_fraction):.0f} % "
            f"of the {s.sla_minutes:g} min SLA (worst {worst:.1f} min).",
        )
    return None


def _failed(r: RunPoint) -> bool:
    """A run that failed (a cancelled one did not: a user or Airflow stopped it)."""
    return not r.succeeded and r.failure_kind != CANCELLED


def _failing(runs: Sequence[RunPoint], s: InsightSettings, now_ms: int) -> Insight | None:
    all_failed = [r for r in runs if _failed(r)]
    failed = [r for r in all_failed if r.failure_kind != "oom"]
    if not failed or len(all_failed) / len(runs) < s.failure_rate:
        return None
    severity = "critical" if _failed(runs[-1]) else "warning"
    kinds = sorted({r.failure_kind or "other" for r in failed})
    return Insight(
        FAILING_RUNS,
        severity,
        f"{len(all_failed)} of the last {len(runs)} runs failed ({', '.join(kinds)}).",
    )


def _oom(runs: Sequence[RunPoint], s: InsightSettings, now_ms: int) -> Insight | None:
    ooms = [r for r in runs if not r.succeeded and r.failure_kind == "oom"]
    if not ooms:
        return None
    last = runs[-1]
    severity = "critical" if not last.succeeded and last.failure_kind == "oom" else "warning"
    return Insight(
        OOM,
        severity,
        f"{len(ooms)} of the last {len(runs)} runs ran out of memory: those cluster shapes are excluded "
        "from recommendations.",
    )


def _spot(runs: Sequence[RunPoint], s: InsightSettings, now_ms: int) -> Insight | None:
    hit = [r.runtime_s for r in runs if r.succeeded and r.spot_interruptions > 0]
    clean = [r.runtime_s for r in runs if r.succeeded and r.spot_interruptions == 0]
    spot_failed = [r for r in runs if not r.succeeded and r.failure_kind == "spot"]
    if spot_failed:
        return Insight(
            SPOT_INTERRUPTIONS,
            "warning",
            f"{len(spot_failed)} of the last {len(runs)} runs failed after losing spot nodes: "
            "consider more on-demand nodes (first_on_demand) or on-demand.",
        )
    if not hit or not clean:
        return None
    slow = statistics.median(hit) / statistics.median(clean)
    if slow < s.spot_slowdown:
        return None
    return Insight(
        SPOT_INTERRUPTIONS,
        "warning",
        f"Runs that lost spot nodes ({len(hit)} of the last {len(runs)}) took {100 * (slow - 1):.0f} % longer "
        "than the others.",
    )


def _autoscaling_idle(runs: Sequence[RunPoint], s: InsightSettings, now_ms: int) -> Insight | None:
    ratios = [
        r.executors_avg / r.executors_max
        for r in runs
        if r.autoscaling and r.executors_avg is not None and r.executors_max
    ]
    if not ratios:
        return None
    mean = statistics.fmean(ratios)
    if mean >= s.idle_ratio:
        return None
    return Insight(
        AUTOSCALING_IDLE,
        "warning",
        f"Autoscaling keeps nodes idle: on average {100 * mean:.0f} % of the peak executors were in use "
        f"over {len(ratios)} recent runs; a fixed size or a lower max workers may be cheaper.",
    )


def _log_incomplete(runs: Sequence[RunPoint], s: InsightSettings, now_ms: int) -> Insight | None:
    bad = [r for r in runs if r.log_status is not None and r.log_status not in _LOG_OK]
    if not bad:
        return None
    severity = "critical" if len(bad) == len(runs) else "warning"
    return Insight(
        LOG_INCOMPLETE,
        severity,
        f"{len(bad)} of the last {len(runs)} runs have a missing or incomplete event log: "
        "recommendations need the logs (check cluster_log_conf and the log destination).",
    )


def _learning_stalled(all_runs: Sequence[RunPoint], s: InsightSettings, now_ms: int) -> Insight | None:
    if s.phase != "learning" or not all_runs:
        return None
    k = s.learning_total or 0
    if (
        k > 0
        and len(all_runs) >= s.learning_stall_factor * k
        and sum(r.recommendation_applied for r in all_runs) < k
    ):
        return Insight(
            LEARNING_STALLED,
            "warning",
            f"Still learning after {len(all_runs)} runs (plan: {k}): recommendations are not being applied; "
            "turn on auto-apply or apply them manually.",
        )
    tail = all_runs[-3:]
    if len(tail) == 3 and not any(r.recommendation_applied for r in tail):
        return Insight(
            LEARNING_STALLED,
            "warning",
            "Learning stalled: the last 3 runs did not use a recommendation.",
        )
    if len(tail) == 3 and all(_failed(r) for r in tail):
        return Insight(LEARNING_STALLED, "warning", "Learning stalled: the last 3 runs failed.")
    return None


_RULES: tuple[Callable[[Sequence[RunPoint], InsightSettings, int], Insight | None], ...] = (
    _sla_at_risk,
    _oom,
    _failing,
    _spot,
    _autoscaling_idle,
    _log_incomplete,
    _variable_data_size,
)


#: The insight codes that depend on the clock (``now_ms``), not only on the runs and the settings.
CLOCK_CODES: frozenset[str] = frozenset({DORMANT})


def at_clock(
    insights: Iterable[Insight],
    last_started_ms: int | None,
    settings: InsightSettings | None = None,
    *,
    now_ms: int | None = None,
) -> tuple[Insight, ...]:
    """``insights`` (of :func:`project_insights`, at any clock) with those of :data:`CLOCK_CODES` computed
    again for ``now_ms``: what :func:`project_insights` gives at that clock.

    :param insights: the project's insights
    :param last_started_ms: start of the project's latest run (None: no run yet)
    :param settings: the project's facts and thresholds, as given to :func:`project_insights`
    :param now_ms: the current time (epoch ms); None = the wall clock.
    """
    s = settings or InsightSettings()
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    found = [i for i in insights if i.code not in CLOCK_CODES]
    dormant = _dormant_since(last_started_ms, s, now)
    if dormant is not None:
        found.append(dormant)
    order = {c: i for i, c in enumerate(INSIGHT_CODES)}
    return tuple(sorted(found, key=lambda i: order[i.code]))


def project_insights(
    runs: Iterable[RunPoint],
    settings: InsightSettings | None = None,
    *,
    now_ms: int | None = None,
    **overrides: Any,
) -> tuple[Insight, ...]:
    """Insights of one project, in :data:`INSIGHT_CODES` order.

    :param runs: the project's runs (any order).
    :param settings: project facts and thresholds (defaults when None).
    :param now_ms: the current time (epoch ms), for ``dormant``; None = the wall clock.
    :param overrides: :class:`InsightSettings` fields to set on top of ``settings``
        (e.g. ``sla_minutes=30, phase="learning"``); an unknown name is a ``TypeError``.
    """
    s = settings or InsightSettings()
    if overrides:
        s = dataclasses.replace(s, **overrides)
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    ordered = sorted(runs, key=lambda r: r.started_ms)
    recent = ordered[-max(1, s.recent_runs) :]
    found: list[Insight] = []
    if recent:
        for rule in _RULES:
            hit = rule(recent, s, now)
            if hit is not None:
                found.append(hit)
    for special in (_learning_stalled(ordered, s, now), _dormant(ordered, s, now)):
        if special is not None:
            found.append(special)
    order = {c: i for i, c in enumerate(INSIGHT_CODES)}
    return tuple(sorted(found, key=lambda i: order[i.code]))
