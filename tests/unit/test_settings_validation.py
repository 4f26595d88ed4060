"""Absurd settings: negative / zero / NaN SLA, 0 or 10,000 workers, unknown node types and families, an SLA
shorter than any observed runtime. Each gives a clear typed error naming the field, or safe behaviour
(documented in docs/reliability.md)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from airflow_provider_gradient.core.optimizer import ClusterShape, OptimizerError, OptimizerSettings
from airflow_provider_gradient.core.pricing import UnknownNodeTypeError, estimate_run_cost, load_catalog
from airflow_provider_gradient.service import (
    ConflictError,
    GradientService,
    GradientValidationError,
    Recommendation,
    RunIn,
)
from airflow_provider_gradient.service.schemas import MAX_WORKERS_LIMIT

pytestmark = pytest.mark.sqlite_only

BASE = {"node_type_id": "m5.xlarge", "num_workers": 4, "spark_version": "13.3.x-scala2.12"}


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"sla_minutes": -5}, "sla_minutes", "greater than 0"),
        ({"sla_minutes": 0}, "sla_minutes", "greater than 0"),
        ({"sla_minutes": math.nan}, "sla_minutes", ""),
        ({"sla_minutes": math.inf}, "sla_minutes", ""),
        ({"sla_minutes": "soon"}, "sla_minutes", ""),
        ({"max_workers": 0}, "max_workers", "greater than or equal to 1"),
        ({"max_workers": -3}, "max_workers", "greater than or equal to 1"),
        ({"max_workers": MAX_WORKERS_LIMIT + 1}, "max_workers", str(MAX_WORKERS_LIMIT)),
        ({"max_workers": 2.5}, "max_workers", ""),
        ({"learning_runs": 0}, "learning_runs", ""),
        ({"learning_runs": 10_000}, "learning_runs", ""),
        ({"window_start": "25:00", "window_end": "01:00"}, "window_start", ""),
        ({"window_start": "01:00"}, "window", "together"),
        ({"allowed_families": ["m5", "<script>"]}, "allowed_families", "pattern"),
        ({"allowed_families": [""]}, "allowed_families", ""),
        ({"cluster_log_url": "s3://b/" + "x" * 2000}, "cluster_log_url", ""),
        ({"no_such_setting": True}, "no_such_setting", "not permitted"),
    ],
)
def test_absurd_settings_rejected_with_named_field(
    svc: GradientService, patch: dict[str, Any], field: str, words: str
) -> None:
    p = svc.get_or_create_project("absurd.task", baseline_cluster=BASE)
    before = svc.get_project(p.id).settings
    with pytest.raises(GradientValidationError) as exc:
        svc.update_settings(p.id, patch)
    msg = str(exc.value)
    assert field in msg and words in msg, msg
    assert exc.value.errors and all(e["msg"] for e in exc.value.errors)
    assert svc.get_project(p.id).settings == before, "a rejected patch must change nothing"


@pytest.mark.parametrize("settings", [{"sla_minutes": -1}, {"max_workers": 0}, {"learning_runs": -2}])
def test_absurd_settings_rejected_at_creation(svc: GradientService, settings: dict[str, Any]) -> None:
    with pytest.raises(GradientValidationError) as exc:
        svc.get_or_create_project("absurd.create", settings=settings)
    assert next(iter(settings)) in str(exc.value)
    assert svc.find_project("absurd.create") is None


def test_limits_are_accepted(svc: GradientService) -> None:
    p = svc.get_or_create_project("limits.task", baseline_cluster=BASE)
    s = svc.update_settings(p.id, {"max_workers": MAX_WORKERS_LIMIT, "sla_minutes": 0.01}).settings
    assert s.max_workers == MAX_WORKERS_LIMIT and s.sla_minutes == 0.01
    s = svc.update_settings(p.id, {"max_workers": 1}).settings
    assert s.max_workers == 1


def test_optimizer_rejects_absurd_values_naming_them() -> None:
    with pytest.raises(OptimizerError, match="sla_minutes"):
        OptimizerSettings(sla_minutes=-1)
    with pytest.raises(OptimizerError, match="num_workers"):
        ClusterShape("m5.xlarge", num_workers=-1)
    with pytest.raises(OptimizerError, match="autoscale"):
        ClusterShape("m5.xlarge", autoscale_min=8, autoscale_max=2)
    with pytest.raises(OptimizerError, match="node_type_id"):
        ClusterShape("", num_workers=2)


def test_unknown_node_type_pricing_names_it() -> None:
    cat = load_catalog()
    with pytest.raises(UnknownNodeTypeError, match="z99.mega"):
        estimate_run_cost(catalog=cat, cloud="aws", region="us-east-1", node_type="z99.mega",
                          driver_node_type="m5.xlarge", workers=2, runtime_s=60)


def test_unknown_baseline_node_type_is_a_conflict_not_a_crash(svc: GradientService) -> None:
    p = svc.get_or_create_project("unknown.node", baseline_cluster={"node_type_id": "z99.mega", "num_workers": 2})
    with pytest.raises(ConflictError, match="z99.mega"):
        svc.generate_recommendation(p.id)
    assert svc.latest_recommendation(p.id) is None


def test_unknown_family_is_a_conflict_naming_it(svc: GradientService) -> None:
    p = svc.get_or_create_project("unknown.family", baseline_cluster=BASE, settings={"allowed_families": ["nosuch"]})
    with pytest.raises(ConflictError, match="nosuch"):
        svc.generate_recommendation(p.id)


def _drive(svc: GradientService, app_id: str, settings: dict[str, Any], runs: int,
           runtime_s: Any = lambda w: 1800.0 * 4 / max(w, 1)) -> list[Recommendation]:
    """Run the loop ``runs`` times: apply the latest recommendation, record a run whose runtime follows
    ``runtime_s(workers)``, ask for the next recommendation."""
    p = svc.get_or_create_project(app_id, baseline_cluster=BASE, settings=settings)
    recs: list[Recommendation] = []
    for i in range(runs):
        cfg = recs[-1].cluster if recs else BASE
        w = cfg.get("num_workers") or (cfg.get("autoscale") or {}).get("max_workers") or 1
        svc.record_run(p.id, RunIn(
            databricks_run_id=i, outcome="success", cluster_config=cfg, start_ms=i * 10**8,
            end_ms=i * 10**8 + int(runtime_s(w) * 1000), input_bytes=10**10,
            recommendation_id=recs[-1].id if recs else None,
        ))
        recs.append(svc.generate_recommendation(p.id))
    return recs


def _workers(cluster: dict[str, Any]) -> int:
    return int(cluster.get("num_workers") or (cluster.get("autoscale") or {}).get("max_workers") or 0)


def test_ten_thousand_workers_cap_stays_sane(svc: GradientService) -> None:
    """max_workers=10,000 is allowed, but a step never jumps beyond max_change_factor² of what was observed."""
    recs = _drive(svc, "huge.cap", {"max_workers": MAX_WORKERS_LIMIT}, 6)
    observed = 4
    for r in recs:
        w = _workers(r.cluster)
        assert 1 <= w <= observed * 4, f"jumped to {w} workers: {r.reason}"
        observed = max(observed, w)


def test_one_worker_cap_is_respected_or_baseline_kept(svc: GradientService) -> None:
    """max_workers below today's size: never more workers than today's cluster, never above the cap otherwise."""
    recs = _drive(svc, "tiny.cap", {"max_workers": 1}, 6)
    for r in recs:
        w = _workers(r.cluster)
        assert w <= 1 or (r.cluster["node_type_id"] == BASE["node_type_id"] and w == BASE["num_workers"]), r.cluster


def test_sla_shorter_than_any_runtime_is_honest(svc: GradientService) -> None:
    """A 1-minute SLA on a 30-minute job: recommendations keep coming, say the SLA is not met, stay bounded.

    The job scales, so while no run met the SLA the cluster may grow by the step cap squared (factor 4) per
    recommendation, never more; a job that stopped scaling does not grow that fast
    (``test_optimizer_exploration.py::test_a_job_that_stopped_scaling_does_not_grow_by_a_squared_step``).
    """
    recs = _drive(svc, "sla.impossible", {"sla_minutes": 1}, 6)
    optimizing = [r for r in recs if r.phase == "optimizing"]
    assert optimizing, "the project never left learning"
    observed = BASE["num_workers"]
    for r in recs:
        w = _workers(r.cluster)
        if r.phase == "optimizing":
            assert "SLA" in r.reason and "meets the 1-min SLA" not in r.reason, r.reason
            assert w <= 4 * observed, (w, observed)
        observed = max(observed, w)


def test_sla_shorter_than_any_runtime_never_slower_than_observed(svc: GradientService) -> None:
    """When no shape can meet the SLA, the recommendation is the fastest safe one, not the cheapest (this was
    a bug: a '- 1e-6 * cost' tie-break over an all-zero p_sla picked the slowest shape; fixed in c32394a)."""
    recs = _drive(svc, "sla.fastest", {"sla_minutes": 1}, 5)
    observed_workers = [BASE["num_workers"], *(_workers(r.cluster) for r in recs[:-1])]
    fastest_observed = min(1800.0 * 4 / max(w, 1) for w in observed_workers)
    for r in recs:
        if r.phase == "optimizing" and r.predicted_runtime_s is not None:
            assert r.predicted_runtime_s <= fastest_observed * 1.25, (r.predicted_runtime_s, r.reason)
