"""Insights (core/insights.py): each rule fires on a hand-made history and stays quiet otherwise."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_provider_gradient.core.insights import (
    AUTOSCALING_IDLE,
    DORMANT,
    FAILING_RUNS,
    INSIGHT_CODES,
    LEARNING_STALLED,
    LOG_INCOMPLETE,
    OOM,
    SLA_AT_RISK,
    SPOT_INTERRUPTIONS,
    VARIABLE_DATA_SIZE,
    Insight,
    InsightSettings,
    at_clock,
    project_insights,
)
from airflow_provider_gradient.core.roi import RunPoint

GB = 1024**3
DAY = 86_400_000
T0 = 1_700_000_000_000


def _run(i: int, **kw: object) -> RunPoint:
    base = RunPoint(
        started_ms=T0 + i * DAY,
        runtime_s=600.0,
        cost_usd=5.0,
        input_bytes=10 * GB,
        succeeded=True,
        recommendation_applied=True,
        log_status="complete",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def _healthy(n: int = 6) -> list[RunPoint]:
    return [_run(i) for i in range(n)]


NOW = T0 + 6 * DAY


def _codes(found: tuple[Insight, ...]) -> dict[str, Insight]:
    return {i.code: i for i in found}


def test_healthy_project_has_no_insights() -> None:
    assert project_insights(_healthy(), InsightSettings(sla_minutes=30, phase="optimizing"), now_ms=NOW) == ()
    assert project_insights([], now_ms=NOW) == ()


def test_variable_data_size() -> None:
    sizes = [1, 10, 2, 20, 5]
    runs = [_run(i, input_bytes=s * GB) for i, s in enumerate(sizes)]
    hit = _codes(project_insights(runs, now_ms=NOW))[VARIABLE_DATA_SIZE]
    assert hit.severity == "info" and "1.0-20.0 GB" in hit.message
    steady = [_run(i, input_bytes=(10 + i % 2) * GB) for i in range(5)]  # CV ~0.05
    assert VARIABLE_DATA_SIZE not in _codes(project_insights(steady, now_ms=NOW))
    unknown = [_run(i, input_bytes=None) for i in range(5)]
    assert VARIABLE_DATA_SIZE not in _codes(project_insights(unknown, now_ms=NOW))


def test_dormant() -> None:
    runs = _healthy(3)  # last run at T0 + 2 days
    assert DORMANT not in _codes(project_insights(runs, now_ms=T0 + 31 * DAY))
    hit = _codes(project_insights(runs, now_ms=T0 + 40 * DAY))[DORMANT]
    assert "No run in 38 days" in hit.message
    short = InsightSettings(dormant_days=7)
    assert DORMANT in _codes(project_insights(runs, short, now_ms=T0 + 10 * DAY))
    never = _codes(project_insights([], InsightSettings(created_ms=T0), now_ms=T0 + 45 * DAY))
    assert "since the project was created 45 days ago" in never[DORMANT].message


def test_sla_at_risk_exceeded_and_near() -> None:
    s = InsightSettings(sla_minutes=12)  # 720 s
    over = _healthy(4) + [_run(4, runtime_s=800), _run(5, runtime_s=700)]
    hit = _codes(project_insights(over, s, now_ms=NOW))[SLA_AT_RISK]
    assert hit.severity == "critical" and "1 of the last 5 runs exceeded the 12 min SLA" in hit.message
    near = _healthy(4) + [_run(4, runtime_s=700)]  # 700 >= 0.9 × 720 = 648
    hit = _codes(project_insights(near, s, now_ms=NOW))[SLA_AT_RISK]
    assert hit.severity == "warning" and "worst 11.7 min" in hit.message
    # 600 s < 648 s: fine; and no SLA = no insight
    assert SLA_AT_RISK not in _codes(project_insights(_healthy(), s, now_ms=NOW))
    assert SLA_AT_RISK not in _codes(project_insights(over, InsightSettings(), now_ms=NOW))


def test_failing_runs() -> None:
    runs = _healthy(5) + [_run(5, succeeded=False, failure_kind="other"), _run(6, succeeded=False)]
    # 2 failures of 7 runs = 29 % < 30 %: quiet with the default window of 10
    assert FAILING_RUNS not in _codes(project_insights(runs, now_ms=NOW))
    found = _codes(project_insights(runs, InsightSettings(recent_runs=5), now_ms=NOW))
    assert found[FAILING_RUNS].severity == "critical"  # last run failed
    assert "2 of the last 5 runs failed (other)" in found[FAILING_RUNS].message
    few = _healthy(9) + [_run(9, succeeded=False, failure_kind="timeout")]
    assert FAILING_RUNS not in _codes(project_insights(few, now_ms=NOW))  # 1 of 10 < 30 %


def test_oom() -> None:
    runs = _healthy(3) + [_run(3, succeeded=False, failure_kind="oom")]
    found = _codes(project_insights(runs, now_ms=NOW))
    assert (
        found[OOM].severity == "critical" and "1 of the last 4 runs ran out of memory" in found[OOM].message
    )
    assert FAILING_RUNS not in found  # OOM has its own badge
    recovered = runs + [_run(4)]
    assert _codes(project_insights(recovered, now_ms=NOW))[OOM].severity == "warning"


def test_spot_interruptions() -> None:
    runs = _healthy(4) + [
        _run(4, spot_interruptions=2, runtime_s=900),
        _run(5, spot_interruptions=1, runtime_s=780),
    ]
    hit = _codes(project_insights(runs, now_ms=NOW))[SPOT_INTERRUPTIONS]
    # median interrupted 840 s vs median clean 600 s -> 40 % longer
    assert "took 40 % longer" in hit.message
    mild = _healthy(4) + [_run(4, spot_interruptions=1, runtime_s=650)]
    assert SPOT_INTERRUPTIONS not in _codes(project_insights(mild, now_ms=NOW))
    failed = _healthy(2) + [_run(2, succeeded=False, failure_kind="spot")]
    assert (
        "failed after losing spot nodes"
        in _codes(project_insights(failed, now_ms=NOW))[SPOT_INTERRUPTIONS].message
    )


def test_autoscaling_idle() -> None:
    runs = [_run(i, autoscaling=True, executors_avg=3.0, executors_max=10.0) for i in range(3)]
    hit = _codes(project_insights(runs, now_ms=NOW))[AUTOSCALING_IDLE]
    assert "30 % of the peak executors" in hit.message
    busy = [_run(i, autoscaling=True, executors_avg=8.0, executors_max=10.0) for i in range(3)]
    assert AUTOSCALING_IDLE not in _codes(project_insights(busy, now_ms=NOW))
    fixed = [_run(i, autoscaling=False, executors_avg=3.0, executors_max=10.0) for i in range(3)]
    assert AUTOSCALING_IDLE not in _codes(project_insights(fixed, now_ms=NOW))


def test_log_collection_incomplete() -> None:
    runs = _healthy(3) + [_run(3, log_status="missing")]
    hit = _codes(project_insights(runs, now_ms=NOW))[LOG_INCOMPLETE]
    assert hit.severity == "warning" and "1 of the last 4 runs" in hit.message
    allbad = [_run(i, log_status="incomplete") for i in range(3)]
    assert _codes(project_insights(allbad, now_ms=NOW))[LOG_INCOMPLETE].severity == "critical"
    pending = _healthy(3) + [_run(3, log_status="pending")]  # not collected yet: not a problem
    assert LOG_INCOMPLETE not in _codes(project_insights(pending, now_ms=NOW))
    unknown = [_run(i, log_status=None) for i in range(3)]
    assert LOG_INCOMPLETE not in _codes(project_insights(unknown, now_ms=NOW))


def test_learning_stalled() -> None:
    learning = InsightSettings(phase="learning", learning_total=4)
    not_applied = [_run(i, recommendation_applied=i < 2) for i in range(5)]
    hit = _codes(project_insights(not_applied, learning, now_ms=NOW))[LEARNING_STALLED]
    assert "last 3 runs did not use a recommendation" in hit.message
    long = [_run(i, recommendation_applied=i % 3 == 0) for i in range(8)]  # 3 applied of 8 >= 2 × 4
    assert (
        "Still learning after 8 runs (plan: 4)"
        in _codes(project_insights(long, learning, now_ms=NOW))[LEARNING_STALLED].message
    )
    failing = _healthy(2) + [_run(i, succeeded=False, failure_kind="other") for i in (2, 3, 4)]
    assert (
        "last 3 runs failed"
        in _codes(project_insights(failing, learning, now_ms=NOW))[LEARNING_STALLED].message
    )
    assert LEARNING_STALLED not in _codes(project_insights(_healthy(3), learning, now_ms=NOW))
    assert LEARNING_STALLED not in _codes(
        project_insights(not_applied, InsightSettings(phase="optimizing"), now_ms=NOW)
    )


def test_codes_are_ordered_and_known() -> None:
    runs = [
        _run(
            i,
            runtime_s=900,
            input_bytes=(1 + 9 * (i % 2)) * GB,
            log_status="missing",
            succeeded=i != 4,
            failure_kind="oom" if i == 4 else None,
        )
        for i in range(5)
    ]
    found = project_insights(runs, InsightSettings(sla_minutes=10), now_ms=T0 + 100 * DAY)
    codes = [i.code for i in found]
    assert codes == [c for c in INSIGHT_CODES if c in codes]
    assert {SLA_AT_RISK, OOM, LOG_INCOMPLETE, VARIABLE_DATA_SIZE, DORMANT} <= set(codes)
    assert all(i.severity in ("info", "warning", "critical") for i in found)


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_histories_do_not_crash(n: int) -> None:
    runs = [_run(i, input_bytes=0, executors_max=0.0, executors_avg=0.0, autoscaling=True) for i in range(n)]
    project_insights(runs, InsightSettings(sla_minutes=0.0, phase="learning", learning_total=0), now_ms=NOW)


def test_keyword_settings_and_default_clock() -> None:
    over = _healthy(4) + [_run(4, runtime_s=800)]
    by_kw = project_insights(over, sla_minutes=12, now_ms=NOW)
    assert by_kw == project_insights(over, InsightSettings(sla_minutes=12), now_ms=NOW)
    assert SLA_AT_RISK in _codes(by_kw)
    # no now_ms: the wall clock (years after T0) -> dormant
    assert DORMANT in _codes(project_insights(over, sla_minutes=12))
    with pytest.raises(TypeError):
        project_insights(over, no_such_setting=1, now_ms=NOW)


@pytest.mark.parametrize("n_runs", [0, 1, 6])
def test_at_clock_gives_the_insights_of_another_clock(n_runs: int) -> None:
    """The clock-dependent insights of insights computed at one clock, recomputed for another: the same as
    computing them all at that clock (what the summaries cache relies on)."""
    runs = [_run(i, input_bytes=(1 + 9 * (i % 2)) * GB, succeeded=i != 2) for i in range(n_runs)]
    s = InsightSettings(sla_minutes=10.5, phase="learning", learning_total=2, created_ms=T0 - DAY)
    last = max((r.started_ms for r in runs), default=None)
    clocks = [T0 + k * DAY for k in (0, 10, 40, 400)]
    for then in clocks:
        for now in clocks:
            computed = project_insights(runs, s, now_ms=then)
            assert at_clock(computed, last, s, now_ms=now) == project_insights(runs, s, now_ms=now), (then, now)
