"""ROI (core/roi.py): every branch of Gradient's metric choice, with hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from airflow_provider_gradient.core.roi import (
    METRIC_COST,
    METRIC_COST_PER_GB,
    RunPoint,
    annual_run_frequency,
    organisation_roi,
    pearson,
    project_roi,
)

GB = 1024**3
DAY = 86_400_000
T0 = 1_700_000_000_000


def _runs(base: list[tuple[float, float, float]], opt: list[tuple[float, float, float]]) -> list[RunPoint]:
    """Daily runs: baseline then optimized; each tuple = (input GB, runtime s, cost $)."""
    out = []
    for i, (gb, rt, cost) in enumerate(base + opt):
        out.append(
            RunPoint(
                started_ms=T0 + i * DAY,
                runtime_s=rt,
                cost_usd=cost,
                input_bytes=int(gb * GB),
                succeeded=True,
                recommendation_applied=i >= len(base),
            )
        )
    return out


def test_strong_correlation_cost_per_gb_is_larger() -> None:
    # runtime = 10 s/GB everywhere -> r = 1. Input doubled after Gradient; cost went 20 -> 24 on average
    # (cost change -20 %) but $/GB went 1.0 -> 0.6 (cost/GB change +40 %): max() picks cost/GB.
    runs = _runs([(10, 100, 10), (20, 200, 20), (30, 300, 30)], [(20, 200, 12), (40, 400, 24), (60, 600, 36)])
    roi = project_roi(reversed(runs))  # order does not matter
    assert roi.status == "ok"
    assert roi.correlation == pytest.approx(1.0)
    assert roi.metric == METRIC_COST_PER_GB
    assert roi.cost_change_pct == pytest.approx(-20.0)
    assert roi.cost_per_gb_change_pct == pytest.approx(40.0)
    assert roi.savings_pct == pytest.approx(40.0)
    # avg current size 40 GB × baseline $1/GB × 40 % × 3 optimized runs
    assert roi.savings_to_date_usd == pytest.approx(40 * 1.0 * 0.4 * 3)
    # 6 runs one day apart -> 5 intervals in 5 days -> 365 runs / year
    assert roi.annual_run_frequency == pytest.approx(365.0)
    assert roi.projected_12m_savings_usd == pytest.approx(40 * 1.0 * 0.4 * 365)
    assert "r=1.00 >= 0.7" in roi.reason and "cost/GB change %" in roi.reason
    assert (roi.baseline_runs, roi.optimized_runs, roi.ignored_runs) == (3, 3, 0)
    assert roi.first_applied_ms == T0 + 3 * DAY


def test_strong_correlation_cost_change_is_larger() -> None:
    # r = 1 again; cost 20 -> 8 (+60 %), $/GB 1.0 -> mean(1.6, 0.8, 0.5333) (+2.2 %): max() picks cost.
    runs = _runs([(10, 100, 10), (20, 200, 20), (30, 300, 30)], [(5, 50, 8), (10, 100, 8), (15, 150, 8)])
    roi = project_roi(runs)
    assert roi.metric == METRIC_COST
    assert roi.cost_change_pct == pytest.approx(60.0)
    assert roi.cost_per_gb_change_pct == pytest.approx((1 - (1.6 + 0.8 + 8 / 15) / 3) * 100)
    assert roi.savings_to_date_usd == pytest.approx(20 * 0.6 * 3)
    assert roi.projected_12m_savings_usd == pytest.approx(20 * 0.6 * 365)
    assert "cost change %" in roi.reason


def test_weak_correlation_uses_cost_change() -> None:
    sizes = [10, 20, 30, 10, 20, 30]
    runtimes = [300, 100, 200, 100, 300, 200]
    base = [(sizes[i], runtimes[i], 10.0) for i in range(3)]
    opt = [(sizes[i], runtimes[i], 7.0) for i in range(3, 6)]
    roi = project_roi(_runs(base, opt))
    r = float(np.corrcoef(sizes, runtimes)[0, 1])  # independent check of the correlation
    assert r < 0.7
    assert roi.correlation == pytest.approx(r)
    assert roi.metric == METRIC_COST
    assert roi.savings_pct == pytest.approx(30.0)
    assert roi.savings_to_date_usd == pytest.approx(10 * 0.3 * 3)
    assert roi.projected_12m_savings_usd == pytest.approx(10 * 0.3 * 365)
    assert "Weak correlation" in roi.reason and f"r {r:.2f} < 0.7" in roi.reason


def test_weak_correlation_costs_up_because_data_grew_uses_cost_per_gb() -> None:
    base = [(10, 100, 10.0), (12, 90, 10.0), (8, 110, 10.0)]
    opt = [(30, 100, 15.0), (28, 105, 15.0), (32, 95, 15.0)]
    roi = project_roi(_runs(base, opt))
    assert roi.correlation is not None and roi.correlation < 0.7
    assert roi.cost_change_pct == pytest.approx(-50.0)
    base_per_gb = (10 / 10 + 10 / 12 + 10 / 8) / 3
    cur_per_gb = (15 / 30 + 15 / 28 + 15 / 32) / 3
    pct = (base_per_gb - cur_per_gb) / base_per_gb
    assert roi.metric == METRIC_COST_PER_GB
    assert roi.savings_pct == pytest.approx(pct * 100)
    assert roi.savings_to_date_usd == pytest.approx(30 * base_per_gb * pct * 3)
    assert roi.projected_12m_savings_usd == pytest.approx(30 * base_per_gb * pct * 365)
    assert "input grew" in roi.reason


def test_weak_correlation_costs_up_same_data_reports_a_loss() -> None:
    base = [(10, 100, 10.0), (10, 120, 10.0), (10, 80, 10.0)]
    opt = [(10, 90, 12.0), (10, 110, 12.0)]
    roi = project_roi(_runs(base, opt))
    assert roi.correlation is None  # constant input size: r undefined
    assert roi.metric == METRIC_COST
    assert roi.cost_change_pct == pytest.approx(-20.0)
    assert roi.savings_to_date_usd == pytest.approx(10 * -0.2 * 2)
    assert "input size did not change" in roi.reason and "undefined" not in roi.reason


def test_unknown_data_size_falls_back_to_cost_change() -> None:
    runs = [
        RunPoint(T0 + i * DAY, 100, 10.0 if i < 2 else 6.0, None if i % 2 else 0, True, i >= 2)
        for i in range(4)
    ]
    roi = project_roi(runs)
    assert roi.metric == METRIC_COST
    assert roi.cost_per_gb_change_pct is None and roi.correlation is None
    assert roi.savings_to_date_usd == pytest.approx(10 * 0.4 * 2)
    assert "data size unknown" in roi.reason


def test_failed_unpriced_and_unapplied_runs_are_ignored() -> None:
    runs = _runs([(10, 100, 10), (20, 200, 20)], [(10, 100, 5), (20, 200, 10)])
    runs += [
        RunPoint(T0 + 4 * DAY, 50, 3.0, 10 * GB, False, True, failure_kind="oom"),  # failed
        RunPoint(T0 + 5 * DAY, 50, None, 10 * GB, True, True),  # not priced yet
        RunPoint(T0 + 6 * DAY, 100, 10.0, 10 * GB, True, False),  # after first applied, but not applied
    ]
    roi = project_roi(runs)
    assert (roi.baseline_runs, roi.optimized_runs, roi.ignored_runs) == (2, 2, 3)
    assert roi.cost_change_pct == pytest.approx(50.0)
    assert roi.annual_run_frequency == pytest.approx(6 * 365 / 6)


@pytest.mark.parametrize(
    ("runs", "status"),
    [
        ([], "no_runs"),
        (
            [RunPoint(T0, 100, 10.0, GB, True, False), RunPoint(T0 + DAY, 100, 10.0, GB, True, False)],
            "no_applied_recommendation",
        ),
        (
            [RunPoint(T0, 100, 10.0, GB, True, True), RunPoint(T0 + DAY, 100, 8.0, GB, True, True)],
            "no_baseline",
        ),
        (
            [RunPoint(T0, 100, 10.0, GB, True, False), RunPoint(T0 + DAY, 100, 8.0, GB, False, True)],
            "no_optimized_runs",
        ),
        (
            [RunPoint(T0, 100, 0.0, GB, True, False), RunPoint(T0 + DAY, 100, 8.0, GB, True, True)],
            "no_baseline_cost",
        ),
    ],
)
def test_degenerate_projects_have_no_savings(runs: list[RunPoint], status: str) -> None:
    roi = project_roi(runs)
    assert roi.status == status
    assert roi.metric is None
    assert roi.savings_to_date_usd == 0.0 and roi.projected_12m_savings_usd == 0.0
    assert roi.reason


def test_single_run_frequency_and_pearson_edge_cases() -> None:
    assert annual_run_frequency([T0]) is None
    assert annual_run_frequency([T0, T0]) is None
    assert annual_run_frequency([T0, T0 + 7 * DAY]) == pytest.approx(365 / 7)
    assert pearson([1, 2], [1, 2]) is None  # too few points
    assert pearson([1, 1, 1], [1, 2, 3]) is None  # constant
    assert pearson([0.1, 0.1, 0.1], [1, 2, 3]) is None  # constant, inexact mean
    assert pearson([1, 2, 3], [5, 5, 5]) is None
    xs, ys = [1.0, 4.0, 2.0, 8.0, 5.0], [2.0, 3.0, 1.0, 9.0, 4.0]
    assert pearson(xs, ys) == pytest.approx(float(np.corrcoef(xs, ys)[0, 1]))
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_organisation_is_the_sum_over_projects() -> None:
    a = project_roi(_runs([(10, 100, 10), (10, 120, 10)], [(10, 90, 8), (10, 80, 8)]))
    b = project_roi(_runs([(10, 100, 30)], [(10, 100, 15)]))
    none = project_roi([])
    org = organisation_roi([a, b, none])
    assert (org.projects, org.projects_with_roi) == (3, 2)
    # a: 10 × 20 % × 2 = 4 $; b: 30 × 50 % × 1 = 15 $
    assert org.savings_to_date_usd == pytest.approx(4 + 15)
    assert org.projected_12m_savings_usd == pytest.approx(
        a.projected_12m_savings_usd + b.projected_12m_savings_usd
    )
    assert org.projected_12m_savings_usd == pytest.approx(10 * 0.2 * 365 + 30 * 0.5 * 365)
    assert org.baseline_cost_usd == pytest.approx(20 + 30)
    assert org.current_cost_usd == pytest.approx(16 + 15)
    assert org.to_dict()["projects"] == 3 and a.to_dict()["metric"] == METRIC_COST
