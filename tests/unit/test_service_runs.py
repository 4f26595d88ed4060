"""Service: recording runs (idempotent, merge rules, redaction) and listing them. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_provider_gradient.core.redact import REDACTED, redact_tree
from airflow_provider_gradient.service import (
    GradientService,
    GradientValidationError,
    NotFoundError,
    RecommendationIn,
    RunCost,
    RunIn,
)


def test_record_same_run_three_times_one_row(svc: GradientService) -> None:
    p = svc.get_or_create_project("etl.load")
    first = svc.record_run(
        p.id,
        RunIn(
            databricks_run_id=777,
            outcome="success",
            start_ms=1_000,
            end_ms=61_000,
            log_status="pending",
            task_key="load",
            cluster_id="0101-abc",
        ),
    )
    second = svc.record_run(
        p.id,
        RunIn(
            databricks_run_id=777,
            outcome="success",
            log_status="incomplete",
            log_reason="event log not delivered",
        ),
    )
    third = svc.record_run(
        "etl.load",
        RunIn(
            databricks_run_id=777,
            outcome="success",
            log_status="complete",
            metrics={"tasks": 120, "memory_spilled_bytes": 0},
            input_bytes=10**9,
            cost=RunCost(
                cloud_usd=1.0, dbu_usd=0.5, storage_usd=0.01, total_usd=1.51, low_usd=0.9, high_usd=1.51
            ),
        ),
    )
    runs = svc.list_runs(p.id)
    assert len(runs) == 1
    assert first.id == second.id == third.id
    r = runs[0]
    assert r == third
    assert r.log_status == "complete" and r.log_reason is None
    assert r.task_key == "load" and r.cluster_id == "0101-abc"  # kept from the first record
    assert r.start_ms == 1_000 and r.duration_s == 60.0
    assert r.metrics == {"tasks": 120, "memory_spilled_bytes": 0}
    assert r.cost is not None and r.cost.total_usd == 1.51 and r.cost.low_usd == 0.9
    assert svc.get_run(p.id, 777) == r
    assert second.log_status == "incomplete" and second.log_reason == "event log not delivered"


def test_complete_log_is_never_downgraded(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    svc.record_run(
        p.id, RunIn(databricks_run_id=1, outcome="success", log_status="complete", metrics={"tasks": 5})
    )
    late = svc.record_run(
        p.id,
        RunIn(
            databricks_run_id=1,
            outcome="success",
            log_status="incomplete",
            log_reason="timeout",
            metrics={"tasks": 1},
        ),
    )
    assert late.log_status == "complete" and late.metrics == {"tasks": 5} and late.log_reason is None


def test_same_run_id_in_two_projects_are_two_runs(svc: GradientService) -> None:
    a = svc.get_or_create_project("a.b")
    b = svc.get_or_create_project("c.d")
    svc.record_run(a.id, RunIn(databricks_run_id=5, outcome="success"))
    svc.record_run(b.id, RunIn(databricks_run_id=5, outcome="failed", failure_message="boom"))
    assert svc.get_run(a.id, 5).outcome == "success"
    assert svc.get_run(b.id, 5).outcome == "failed"


def test_list_runs_newest_first_with_limit(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    for i in range(10):
        svc.record_run(p.id, RunIn(databricks_run_id=100 + i, outcome="success", start_ms=i * 1000))
    svc.record_run(p.id, RunIn(databricks_run_id=999, outcome="cancelled"))  # no start time: last
    runs = svc.list_runs(p.id)
    assert [r.databricks_run_id for r in runs] == [109, 108, 107, 106, 105, 104, 103, 102, 101, 100, 999]
    assert [r.databricks_run_id for r in svc.list_runs(p.id, limit=3)] == [109, 108, 107]
    assert [r.databricks_run_id for r in svc.list_runs(p.id, limit=2, offset=3)] == [106, 105]
    assert svc.get_project(p.id).last_run_ms >= 9000  # the run without a start time counts when recorded


def test_run_cost_accepts_core_dataclass(svc: GradientService) -> None:
    @dataclasses.dataclass(frozen=True)
    class CoreRunCost:  # shape of core.pricing.RunCost
        cloud_usd: float
        dbu_usd: float
        storage_usd: float
        total_usd: float
        low_usd: float
        high_usd: float

    p = svc.get_or_create_project("a.b")
    r = svc.record_run(
        p.id, RunIn(databricks_run_id=1, outcome="success", cost=CoreRunCost(1, 2, 0, 3, 2.5, 3))
    )
    assert r.cost == RunCost(cloud_usd=1, dbu_usd=2, storage_usd=0, total_usd=3, low_usd=2.5, high_usd=3)


def test_secrets_are_redacted_before_storing(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    metrics = {
        "tasks": 3,
        "spark_properties": {
            "spark.hadoop.fs.s3a.secret.key": "AKIASECRETVALUE",
            "spark.hadoop.fs.s3a.access.key": "AKIAEXAMPLE",
            "spark.databricks.token": "dapi123",
            "spark.my.password": "hunter2",
            "spark.executor.memory": "8g",
            "spark.custom.conf": "uses-a-token-inside",
        },
        "environment": [["spark.some.Password", "x"], ["spark.app.name", "job"]],
    }
    cluster = {
        "node_type_id": "m5.xlarge",
        "num_workers": 2,
        "spark_env_vars": {"DB_PASSWORD": "pw"},
        "spark_conf": {
            "spark.hadoop.fs.azure.account.key.x.dfs.core.windows.net": "k",
            "fs.azure.sas.token.provider": "p",
        },
    }
    r = svc.record_run(
        p.id, RunIn(databricks_run_id=1, outcome="success", metrics=metrics, cluster_config=cluster)
    )
    props = r.metrics["spark_properties"]
    for key in (
        "spark.hadoop.fs.s3a.secret.key",
        "spark.hadoop.fs.s3a.access.key",
        "spark.databricks.token",
        "spark.my.password",
        "spark.custom.conf",
    ):
        assert props[key] == REDACTED, key
    assert props["spark.executor.memory"] == "8g"
    assert r.metrics["environment"] == [["spark.some.Password", REDACTED], ["spark.app.name", "job"]]
    assert r.cluster_config["spark_env_vars"]["DB_PASSWORD"] == REDACTED
    assert r.cluster_config["spark_conf"]["fs.azure.sas.token.provider"] == REDACTED
    stored = repr(svc.list_runs(p.id))
    for secret in ("AKIASECRETVALUE", "AKIAEXAMPLE", "dapi123", "hunter2", "uses-a-token-inside"):
        assert secret not in stored


def test_redact_tree_leaves_plain_data_alone() -> None:
    data = {"a": 1, "b": [1, 2, {"c": "text with token"}], "failure_reasons": {"OOM": 2}}
    assert redact_tree(data) == data


def test_record_run_validation(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    with pytest.raises(GradientValidationError):
        svc.record_run(p.id, {"databricks_run_id": 1, "outcome": "exploded"})
    with pytest.raises(GradientValidationError):
        svc.record_run(p.id, {"databricks_run_id": -1, "outcome": "success"})
    with pytest.raises(GradientValidationError):
        svc.record_run(p.id, {"databricks_run_id": 1, "outcome": "success", "start_ms": 10, "end_ms": 5})
    with pytest.raises(GradientValidationError):
        svc.record_run(p.id, {"databricks_run_id": 1, "outcome": "success", "recommendation_id": 424242})
    with pytest.raises(NotFoundError):
        svc.record_run("missing", {"databricks_run_id": 1, "outcome": "success"})
    assert svc.list_runs(p.id) == []


def test_run_links_its_recommendation(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    rec = svc.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": 2}, phase="learning"))
    r = svc.record_run(p.id, RunIn(databricks_run_id=9, outcome="oom", recommendation_id=rec.id))
    assert r.recommendation_id == rec.id and r.outcome == "oom"


def test_record_and_recommend_records_marks_applied_and_recommends(svc: GradientService) -> None:
    """The loop's record step in one call; retried (same run again) it still stores one run."""
    p = svc.get_or_create_project("loop.task", baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 2})
    used = svc.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": 3}, phase="learning"))
    run = RunIn(databricks_run_id=501, outcome="success", start_ms=1_000, end_ms=601_000, recommendation_id=used.id,
                cluster_config={"node_type_id": "m5.xlarge", "num_workers": 3}, cost=RunCost(total_usd=1.5))
    out = svc.record_and_recommend(p.app_id, run)
    assert out.run.databricks_run_id == 501 and out.run.recommendation_id == used.id
    assert out.applied is not None and out.applied.state == "applied" and out.applied.applied_to_run == 501
    assert out.recommendation is not None and out.recommendation.state == "ready" and out.recommendation_error is None
    assert out.project.id == p.id and out.project.last_run_ms == 1_000
    again = svc.record_and_recommend(p.id, run, recommend=False)
    assert again.recommendation is None and len(svc.list_runs(p.id)) == 1


def test_record_and_recommend_never_marks_another_projects_recommendation(svc: GradientService) -> None:
    mine = svc.get_or_create_project("mine.task")
    theirs = svc.get_or_create_project("theirs.task")
    rec = svc.store_recommendation(theirs.id, RecommendationIn(cluster={"num_workers": 3}, phase="learning"))
    with pytest.raises(GradientValidationError, match="recommendation_id"):
        svc.record_and_recommend(mine.id, RunIn(databricks_run_id=1, outcome="success", recommendation_id=rec.id))
    assert svc.get_recommendation(rec.id).state == "ready" and svc.list_runs(mine.id) == []


def test_record_and_recommend_keeps_the_run_when_nothing_to_optimise(svc: GradientService) -> None:
    p = svc.get_or_create_project("failing.task")  # no baseline, a run without a cluster: nothing to optimise
    out = svc.record_and_recommend(p.id, RunIn(databricks_run_id=9, outcome="failed"))
    assert out.run.databricks_run_id == 9 and svc.list_runs(p.id)[0].outcome == "failed"
    assert (out.recommendation is None) == (out.recommendation_error is not None)


def _used_and_run(svc: GradientService, app_id: str = "retry.task") -> tuple[int, RunIn]:
    p = svc.get_or_create_project(app_id, baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 2})
    used = svc.store_recommendation(p.id, RecommendationIn(cluster={"num_workers": 3}, phase="learning"))
    run = RunIn(databricks_run_id=601, outcome="success", start_ms=1_000, end_ms=601_000, recommendation_id=used.id,
                cluster_config={"node_type_id": "m5.xlarge", "num_workers": 3}, cost=RunCost(total_usd=1.5),
                dag_id="etl", task_id="load", try_number=1)
    return p.id, run


def test_retried_record_and_recommend_returns_the_first_outcome(svc: GradientService) -> None:
    """A retry of the record step (same run; a later try of the recording task) creates no second
    recommendation and marks nothing applied again: it answers what the first call answered."""
    pid, run = _used_and_run(svc)
    first = svc.record_and_recommend(pid, run)
    assert first.recommendation is not None and first.applied is not None and first.applied.applied_to_run == 601
    for retry in (run, run.model_copy(update={"try_number": 2, "airflow_run_id": "manual__retry"})):
        again = svc.record_and_recommend(pid, retry)
        assert again.recommendation == first.recommendation and again.recommendation_error is None
        assert again.applied == first.applied  # same applied_ms: not marked a second time
    recs = svc.list_recommendations(pid)
    assert [(r.id, r.state) for r in recs] == [(first.recommendation.id, "ready"), (first.applied.id, "applied")]
    assert svc.mark_applied(first.applied.id, databricks_run_id=601) == first.applied
    assert svc.get_run(pid, 601).next_recommendation_id == first.recommendation.id


def test_record_with_new_facts_recommends_again(svc: GradientService) -> None:
    """Not a retry: a later record of the run that tells the optimiser something new (its complete event log)
    recommends again, once; the recommendation it used stays applied as first marked."""
    pid, run = _used_and_run(svc)
    first = svc.record_and_recommend(pid, run)
    richer = run.model_copy(update={"log_status": "complete", "metrics": {"tasks": 40}, "input_bytes": 10**9})
    second = svc.record_and_recommend(pid, richer)
    assert second.recommendation is not None and first.recommendation is not None
    assert second.recommendation.id != first.recommendation.id
    assert second.applied is not None and first.applied is not None
    assert second.applied.applied_ms == first.applied.applied_ms
    assert svc.record_and_recommend(pid, richer).recommendation == second.recommendation
    assert len(svc.list_recommendations(pid)) == 3  # the used one, the first next one (superseded), the second
    assert second.run.next_recommendation_id == second.recommendation.id


def test_concurrent_retries_of_one_record_make_one_recommendation(svc: GradientService) -> None:
    """An HTTP retry can reach the server while the first request is still running: 4 racing identical records
    all answer the same next recommendation, and only one is stored."""
    import threading

    pid, run = _used_and_run(svc)
    barrier = threading.Barrier(4)
    out: list[int | None] = []

    def record() -> None:
        barrier.wait()
        o = svc.record_and_recommend(pid, run)
        out.append(o.recommendation.id if o.recommendation is not None else None)

    threads = [threading.Thread(target=record) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(out) == 4 and len(set(out)) == 1 and out[0] is not None
    assert len(svc.list_recommendations(pid)) == 2
