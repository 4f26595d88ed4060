"""Issue 15 item 6: an autoscaled cluster is modelled at the worker count it really averaged (from its node
timeline), priced at that average, and its min/max are chosen from how the runs used the range (not min = max ×
the baseline's ratio); the reason says why."""

from __future__ import annotations

import pytest

from airflow_provider_gradient.core.optimizer import (
    ClusterShape,
    NodeOption,
    Observation,
    OptimizerSettings,
    SearchSpace,
    recommend,
)
from airflow_provider_gradient.core.optimizer.autoscale import size_autoscale
from airflow_provider_gradient.core.optimizer.space import node_rate_usd
from airflow_provider_gradient.core.pricing import ClusterTimeline, NodeInterval
from airflow_provider_gradient.service.run_cost import worker_stats

NODES = (
    NodeOption("m5.xlarge", "m5", 4, 16.0, 0.192, 0.69, 0.6),
    NodeOption("m5.2xlarge", "m5", 8, 32.0, 0.384, 1.37, 0.6),
    NodeOption("r5.xlarge", "r5", 4, 32.0, 0.252, 0.9, 0.6),
)
SPACE = SearchSpace(cloud="aws", region="us-east-1", node_types=NODES, dbu_usd=0.15, max_workers=32)
BASE = ClusterShape("m5.xlarge", autoscale_min=2, autoscale_max=8)


def _run(shape: ClusterShape, avg: float, runtime_s: float = 1500.0, i: int = 0) -> Observation:
    return Observation(shape=shape, runtime_s=runtime_s, succeeded=True, started_ms=i,
                       metrics={"cluster_workers_avg": avg, "executors_avg": avg})


def test_an_autoscaled_run_is_modelled_at_its_measured_average() -> None:
    o = _run(BASE, 7.4)
    assert o.shape.effective_workers == pytest.approx(7.4)  # not the midpoint 5
    assert o.shape.to_databricks()["autoscale"] == {"min_workers": 2, "max_workers": 8}
    # the event log's executors average when the cluster events are missing
    o2 = Observation(shape=BASE, runtime_s=10, succeeded=True, metrics={"executors_avg": 3.0})
    assert o2.shape.effective_workers == pytest.approx(3.0)
    assert Observation(shape=BASE, runtime_s=10, succeeded=True).shape.effective_workers == 5.0


def test_idle_cluster_gets_a_lower_min_and_the_max_that_keeps_the_average() -> None:
    """Averaged 3 of 2–8: at its minimum ~83 % of the run, so the min drops; the max keeps the average."""
    size = size_autoscale(4, [_run(BASE, 3.0)], BASE, floor=1, cap=32)
    assert size.min_workers == 1
    busy = (3.0 - 2) / 6
    expected = size.min_workers + busy * (size.max_workers - size.min_workers)
    assert expected == pytest.approx(4, abs=busy)
    assert "minimum" in size.note and "lowered" in size.note and "average" in size.note


def test_busy_cluster_gets_a_higher_min() -> None:
    """Averaged 7.8 of 2–8: scaled up nearly all the run, so the min rises (less ramp-up at the start)."""
    size = size_autoscale(8, [_run(BASE, 7.8)], BASE, floor=1, cap=32)
    assert size.min_workers == 4 and size.max_workers >= 8
    assert "raised" in size.note


def test_recommendation_prices_the_average_and_chooses_min_from_the_runs() -> None:
    hist = [_run(BASE, 3.0, 1500.0, 0)]
    rec = recommend(SPACE, hist, OptimizerSettings(sla_minutes=60, learning_runs=1), BASE)
    s = rec.shape
    assert s.is_autoscale
    assert s.autoscale_min is not None and s.autoscale_max is not None
    # min chosen from the measured use, not max × the baseline's ratio (2/8)
    assert s.autoscale_min != max(1, round(s.autoscale_max * 2 / 8)) or s.autoscale_min < 2, s
    # priced at the expected average node count, below the max
    assert rec.predicted_cost_usd is not None and rec.predicted_runtime_s is not None
    node = next(n for n in NODES if n.name == s.node_type_id)
    rate = rec.predicted_cost_usd * 3600.0 / rec.predicted_runtime_s
    assert rate < s.autoscale_max * node_rate_usd(node, SPACE.dbu_usd) - 1e-6, (rate, s)
    assert "averaged 3.0 of 2–8" in rec.reason and "priced at that average" in rec.reason, rec.reason


def test_worker_stats_from_the_node_timeline() -> None:
    """2 workers from t=10 s, 6 more from 20 s to 80 s, run ends at 100 s: avg over the 90 s with workers."""
    nodes = [NodeInterval("m5.xlarge", "driver", "on_demand", 0, 100_000)]
    nodes += [NodeInterval("m5.xlarge", "worker", "on_demand", 10_000, 100_000) for _ in range(2)]
    nodes += [NodeInterval("m5.xlarge", "worker", "on_demand", 20_000, 80_000) for _ in range(6)]
    stats = worker_stats(ClusterTimeline(nodes=tuple(nodes)), 0, 100_000)
    assert stats == {"cluster_workers_avg": pytest.approx((2 * 90 + 6 * 60) / 90, abs=1e-3),
                     "cluster_workers_min": 2.0, "cluster_workers_max": 8.0}
