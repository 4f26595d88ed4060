"""Service: storing, superseding, applying and generating recommendations. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from airflow_provider_gradient.core.eventlog import StageSummary
from airflow_provider_gradient.service import (
    ConflictError,
    GradientService,
    NotFoundError,
    RecommendationIn,
    RunCost,
    RunIn,
)
from airflow_provider_gradient.service.recommend import build_inputs

BASELINE = {
    "node_type_id": "m5.xlarge",
    "driver_node_type_id": "m5.xlarge",
    "num_workers": 4,
    "aws_attributes": {"availability": "ON_DEMAND", "first_on_demand": 1},
}


def _rec(n: int, phase: str = "learning") -> RecommendationIn:
    return RecommendationIn(
        cluster={"node_type_id": "m5.xlarge", "num_workers": n},
        phase=phase,  # type: ignore[arg-type]
        learning_iteration=1,
        learning_total=4,
        predicted_runtime_s=100.0 + n,
        predicted_cost_usd=1.0 * n,
        reason=f"try {n} workers",
    )


def test_new_ready_supersedes_previous(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    assert svc.latest_recommendation(p.id) is None
    r1 = svc.store_recommendation(p.id, _rec(2))
    assert svc.latest_recommendation(p.id) == r1 and r1.state == "ready"
    r2 = svc.store_recommendation(p.id, _rec(3))
    assert svc.latest_recommendation(p.id) == r2
    assert svc.get_recommendation(r1.id).state == "superseded"
    states = [r.state for r in svc.list_recommendations(p.id)]
    assert states == ["ready", "superseded"]
    # other projects are untouched
    q = svc.get_or_create_project("c.d")
    rq = svc.store_recommendation(q.id, _rec(5))
    assert svc.latest_recommendation(p.id) == r2 and svc.latest_recommendation(q.id) == rq


def test_mark_applied(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    r = svc.store_recommendation(p.id, _rec(2))
    a = svc.mark_applied(r.id, databricks_run_id=4242)
    assert a.state == "applied" and a.applied_to_run == 4242 and a.applied_ms is not None
    assert svc.latest_recommendation(p.id) is None
    assert svc.latest_recommendation(p.id, state="applied") == a
    assert svc.latest_recommendation(p.id, state=None) == a
    again = svc.mark_applied(r.id)  # idempotent; keeps the run
    assert again.applied_to_run == 4242
    with pytest.raises(NotFoundError):
        svc.mark_applied(999_999)
    f = svc.store_recommendation(p.id, _rec(9), state="failed")
    with pytest.raises(ConflictError):
        svc.mark_applied(f.id)


def test_optimizing_recommendation_switches_phase(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    svc.store_recommendation(p.id, _rec(2, "learning"))
    assert svc.get_project(p.id).phase == "learning"
    svc.store_recommendation(p.id, _rec(2, "optimizing"))
    assert svc.get_project(p.id).phase == "optimizing"


def test_generate_without_baseline_is_a_conflict(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    with pytest.raises(ConflictError, match="baseline"):
        svc.generate_recommendation(p.id)


def _history(svc: GradientService, app_id: str, n: int) -> int:
    p = svc.get_or_create_project(app_id, baseline_cluster=BASELINE, settings={"sla_minutes": 30})
    for i in range(n):
        workers = 4 + 2 * i
        svc.record_run(
            p.id,
            RunIn(
                databricks_run_id=1000 + i,
                outcome="success" if i != 1 else "oom",
                start_ms=i * 3_600_000,
                end_ms=i * 3_600_000 + int(1_200_000 / (1 + i)),
                cluster_config={**BASELINE, "num_workers": workers},
                input_bytes=5 * 10**10,
                metrics={"tasks": 400, "memory_spilled_bytes": 10**9, "app_name": "x"},
                cost=RunCost(cloud_usd=1.0, dbu_usd=1.0, total_usd=2.0),
                log_status="complete",
            ),
        )
    svc.record_run(
        p.id, RunIn(databricks_run_id=1, outcome="cancelled", start_ms=1, end_ms=2, cluster_config=BASELINE)
    )
    return p.id


def test_build_inputs_from_store(svc: GradientService) -> None:
    pid = _history(svc, "etl.load", 3)
    svc.update_settings(pid, {"allowed_families": ["m5", "r5"], "force_on_demand": True, "max_workers": 32})
    project = svc.get_project(pid)
    inputs = build_inputs(project, svc.list_runs(pid, limit=None))
    space, history, settings, baseline = (inputs[k] for k in ("space", "history", "settings", "baseline"))
    assert space.cloud == "aws" and space.region == "us-east-1"
    assert space.node_types and {n.family for n in space.node_types} <= {"m5", "r5"}
    assert all(n.hourly_usd > 0 and n.dbu_per_hour > 0 for n in space.node_types)
    assert space.dbu_usd > 0 and space.allow_spot is False and space.max_workers == 32
    assert settings.sla_minutes == 30 and settings.force_on_demand is True and settings.max_workers == 32
    assert baseline.node_type_id == "m5.xlarge" and baseline.num_workers == 4
    # oldest first, the cancelled run left out, failure kinds mapped
    assert [h.shape.num_workers for h in history] == [4, 6, 8]
    assert [h.failure_kind for h in history] == [None, "oom", None]
    assert history[0].runtime_s == 1200.0 and history[0].cost_usd == 2.0
    assert history[0].metrics["tasks"] == 400.0 and "app_name" not in history[0].metrics


def test_generate_recommendation_stores_ready(svc: GradientService) -> None:
    pid = _history(svc, "etl.load", 2)
    rec = svc.generate_recommendation(pid)
    assert rec.state == "ready" and rec.project_id == pid
    assert rec.cluster.get("node_type_id") and rec.phase in ("learning", "optimizing")
    assert svc.latest_recommendation(pid) == rec
    rec2 = svc.generate_recommendation("etl.load")
    assert svc.latest_recommendation(pid) == rec2
    assert svc.get_recommendation(rec.id).state == "superseded"


def test_generate_with_unknown_families_is_a_conflict(svc: GradientService) -> None:
    pid = _history(svc, "etl.load", 1)
    svc.update_settings(pid, {"allowed_families": ["nosuchfamily"]})
    with pytest.raises(ConflictError, match="no node type"):
        svc.generate_recommendation(pid)


def test_observations_carry_stages_from_stored_metrics(svc: GradientService, eventlogs_dir) -> None:
    """A run recorded with AppSummary.to_dict() metrics gives the optimiser its StageSummary objects back."""
    from airflow_provider_gradient.core.eventlog import parse_event_log

    path = eventlogs_dir / "apache-spark" / "local-1426533911241"
    if not path.exists():
        pytest.skip("event log not in the shared corpus")
    summary = parse_event_log(path)
    p = svc.get_or_create_project("a.b", baseline_cluster=BASELINE)
    svc.record_run(p.id, RunIn(databricks_run_id=1, outcome="success", start_ms=0, end_ms=1000,
                               cluster_config=BASELINE, metrics=summary.to_dict(), log_status="complete"))
    (obs,) = build_inputs(svc.get_project(p.id), svc.list_runs(p.id))["history"]
    assert obs.stages == tuple(summary.stage_details)
    assert obs.metrics["tasks"] == float(summary.tasks)
    stored = summary.to_dict()["stage_details"]
    assert StageSummary.from_dict(stored[0]) == summary.stage_details[0]
    assert isinstance(StageSummary.from_dict(stored[0]).duration_quantiles_ms, tuple)


def test_a_stored_stage_that_does_not_fit_gives_no_stages(svc: GradientService) -> None:
    """Stages are optional input: a stored stage with a field missing leaves them out, never fails the run."""
    p = svc.get_or_create_project("a.b", baseline_cluster=BASELINE)
    metrics = {"tasks": 3, "stage_details": [{"stage_id": 1, "attempt": 0}]}
    svc.record_run(p.id, RunIn(databricks_run_id=1, outcome="success", start_ms=0, end_ms=1000,
                               cluster_config=BASELINE, metrics=metrics, log_status="complete"))
    (obs,) = build_inputs(svc.get_project(p.id), svc.list_runs(p.id))["history"]
    assert obs.stages == () and obs.metrics["tasks"] == 3.0
    with pytest.raises(TypeError):
        StageSummary.from_dict(metrics["stage_details"][0])


def _applied_then(svc: GradientService, app_id: str, outcome: str, run_id: int) -> int:
    """A recommendation applied (by the loop's record step) to a run that ended with ``outcome``."""
    p = svc.get_or_create_project(app_id, baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 2})
    used = svc.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": 3}, phase="learning"))
    out = svc.record_and_recommend(p.id, RunIn(databricks_run_id=run_id, outcome=outcome, start_ms=0, end_ms=60_000,
                                               recommendation_id=used.id,
                                               cluster_config={"node_type_id": "m5.xlarge", "num_workers": 3}))
    assert out.applied is not None and out.applied.applied_run_outcome == outcome
    return used.id


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        ("oom", "applied — run failed (oom)"),
        ("timeout", "applied — run failed (timeout)"),
        ("failed", "applied — run failed"),
        ("cancelled", "applied — run cancelled"),
        ("success", "applied"),
    ],
)
def test_an_applied_recommendation_says_when_its_run_failed(svc: GradientService, outcome: str, status: str) -> None:
    rec_id = _applied_then(svc, "oom.task", outcome, 71)
    rec = svc.get_recommendation(rec_id)
    assert rec.state == "applied" and rec.applied_run_outcome == outcome and rec.status() == status
    assert rec.status(ascii_only=True) == status.replace("—", "-")
    assert svc.latest_recommendation("oom.task", state="applied") == rec
    assert next(r for r in svc.list_recommendations("oom.task") if r.id == rec_id) == rec
    ready = svc.latest_recommendation("oom.task")
    assert ready is not None and ready.applied_run_outcome is None and ready.status() == "ready"


def test_a_recommendation_approved_without_a_run_has_no_run_outcome(svc: GradientService) -> None:
    p = svc.get_or_create_project("approved.task")
    rec = svc.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": 3}, phase="learning"))
    applied = svc.mark_applied(rec.id)
    assert applied.applied_run_outcome is None and applied.status() == "applied"
    svc.record_run(p.id, RunIn(databricks_run_id=5, outcome="oom"))  # another run, not the one it was applied to
    assert svc.get_recommendation(rec.id).status() == "applied"


def _applied_to(svc: GradientService, project_id: int, n: int, run_id: int, outcome: str | None) -> int:
    """A recommendation applied to run ``run_id`` (recorded with ``outcome``; None: not recorded yet)."""
    rec = svc.store_recommendation(project_id, _rec(n))
    svc.mark_applied(rec.id, run_id)
    if outcome is not None:
        svc.record_run(project_id, RunIn(databricks_run_id=run_id, outcome=outcome, start_ms=0, end_ms=60_000))
    return rec.id


def test_current_skips_an_applied_recommendation_whose_run_failed(svc: GradientService) -> None:
    """``current`` is what the job definition should hold: never a cluster whose run just failed."""
    p = svc.get_or_create_project("current.task", baseline_cluster=BASELINE)
    assert svc.latest_recommendation(p.id, state="current") is None  # nothing yet: the baseline
    ok = _applied_to(svc, p.id, 3, 501, "success")
    oom = _applied_to(svc, p.id, 2, 502, "oom")
    assert svc.latest_recommendation(p.id, state="applied").id == oom  # type: ignore[union-attr]  # unchanged
    current = svc.latest_recommendation(p.id, state="current")
    assert current is not None and current.id == ok and current.status() == "applied"
    pending = _applied_to(svc, p.id, 5, 503, None)  # its run is not recorded yet: not failed
    assert svc.latest_recommendation(p.id, state="current").id == pending  # type: ignore[union-attr]
    svc.record_run(p.id, RunIn(databricks_run_id=503, outcome="timeout", start_ms=0, end_ms=60_000))
    assert svc.latest_recommendation(p.id, state="current").id == ok  # type: ignore[union-attr]
    approved = svc.mark_applied(svc.store_recommendation(p.id, _rec(6)).id)  # approved without a run
    assert svc.latest_recommendation(p.id, state="current") == approved
    ready = svc.store_recommendation(p.id, _rec(7))
    assert svc.latest_recommendation(p.id, state="current") == ready  # a ready one comes first


def test_current_is_none_when_every_applied_run_failed(svc: GradientService) -> None:
    p = svc.get_or_create_project("failed.task", baseline_cluster=BASELINE)
    _applied_to(svc, p.id, 2, 601, "oom")
    _applied_to(svc, p.id, 3, 602, "failed")
    other = svc.get_or_create_project("other.task")  # same Databricks run id in another project succeeded
    svc.record_run(other.id, RunIn(databricks_run_id=601, outcome="success", start_ms=0, end_ms=1))
    assert svc.latest_recommendation(p.id, state="applied") is not None
    assert svc.latest_recommendation(p.id, state="current") is None
