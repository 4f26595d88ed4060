"""Collected facts -> RunIn: outcome classification, node timeline and cost."""

from __future__ import annotations

from pathlib import Path

import pytest
from small_logs import OOM_LINE, one_stage_summary

from airflow_provider_gradient.core.pricing import compute_run_cost, load_catalog
from airflow_provider_gradient.service.collected import (
    CloudInstance,
    CloudVolume,
    ClusterFacts,
    CollectedRun,
    IngestError,
    RunStateFacts,
)
from airflow_provider_gradient.service.ingest import classify_outcome, to_run_in
from airflow_provider_gradient.service.run_cost import build_timeline, price_run, timeline_from_events

T0 = 1_700_000_000_000
MIN = 60_000
SPEC = {
    "node_type_id": "m5.xlarge",
    "driver_node_type_id": "m5.2xlarge",
    "autoscale": {"min_workers": 2, "max_workers": 6},
    "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 2},
}
EVENTS = (
    {"timestamp": T0, "type": "CREATING", "details": {}},
    {"timestamp": T0 + 3 * MIN, "type": "RUNNING", "details": {"current_num_workers": 2}},
    {"timestamp": T0 + 10 * MIN, "type": "UPSIZE_COMPLETED", "details": {"current_num_workers": 5}},
    {"timestamp": T0 + 20 * MIN, "type": "NODES_LOST", "details": {"current_num_workers": 4}},
    {"timestamp": T0 + 30 * MIN, "type": "TERMINATING", "details": {"reason": {"code": "JOB_FINISHED"}}},
)


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def test_timeline_follows_resizes_and_lost_nodes() -> None:
    tl = timeline_from_events(SPEC, EVENTS, T0 + MIN, T0 + 29 * MIN)
    driver = [n for n in tl.nodes if n.role == "driver"]
    workers = [n for n in tl.nodes if n.role == "worker"]
    assert [(d.node_type, d.start_ms, d.end_ms, d.market) for d in driver] == [("m5.2xlarge", T0, T0 + 30 * MIN, "on_demand")]
    assert len(workers) == 5
    worker_minutes = sum(w.end_ms - w.start_ms for w in workers) / MIN
    # 2 workers 3->30 min (54), 3 more 10->20 (30) of which 2 stay to 30 (20): 54 + 10 + 2*20 = 104
    assert worker_minutes == pytest.approx(2 * 27 + 3 * 10 + 2 * 10)
    # first_on_demand=2 counts the driver: exactly one worker on demand, the rest spot
    assert sorted(w.market for w in workers) == ["on_demand", "spot", "spot", "spot", "spot"]


def test_timeline_without_events_uses_spec_size() -> None:
    tl = timeline_from_events({"node_type_id": "m5.xlarge", "num_workers": 3}, (), T0, T0 + 10 * MIN)
    assert len(tl.nodes) == 4 and {n.market for n in tl.nodes} == {"on_demand"}
    with pytest.raises(IngestError, match="node_type_id"):
        timeline_from_events({"num_workers": 1}, (), T0, T0 + MIN)


@pytest.mark.parametrize(
    ("state", "cluster", "summary_oom", "expected"),
    [
        (("TERMINATED", "SUCCESS", ""), {}, False, "success"),
        (("TERMINATED", "FAILED", "Task failed: java.lang.OutOfMemoryError: Java heap space"), {}, False, "oom"),
        (("INTERNAL_ERROR", "FAILED", "Cluster terminated"), {"termination_reason": {"code": "DRIVER_OUT_OF_MEMORY"}}, False, "oom"),
        (("TERMINATED", "FAILED", "Task failed"), {}, True, "oom"),
        (("TERMINATED", "FAILED", "Notebook raised ValueError"), {}, False, "failed"),
        (("TERMINATED", "CANCELED", "Run cancelled by user"), {}, False, "cancelled"),
        (("SKIPPED", "", ""), {}, False, "cancelled"),
        (("TERMINATED", "TIMEDOUT", "Run timed out after 600 seconds."), {}, False, "timeout"),
        (("TERMINATED", "TIMEDOUT", "Timed out"), {}, True, "oom"),  # the event log says why it was slow
    ],
)
def test_classify_outcome(
    state: tuple[str, str, str], cluster: dict, summary_oom: bool, expected: str, tmp_path: Path
) -> None:
    summary = one_stage_summary(tmp_path, failure=OOM_LINE if summary_oom else None)
    assert summary.oom_detected is summary_oom
    facts = ClusterFacts("c-1", cluster=cluster)
    assert classify_outcome(RunStateFacts(*state), facts, summary) == expected


def test_price_from_events_matches_cost_model(catalog) -> None:  # type: ignore[no-untyped-def]
    run = CollectedRun(1, RunStateFacts("TERMINATED", "SUCCESS"), T0 + MIN, T0 + 29 * MIN, SPEC,
                       ClusterFacts("c-1", cluster={}, events=EVENTS))
    timeline, from_cloud = build_timeline(run)
    assert not from_cloud
    cost = price_run(run, catalog, cloud="aws", region="us-east-1")
    assert cost.total_usd > 0
    assert cost == compute_run_cost(timeline, catalog, cloud="aws", region="us-east-1")


def test_cloud_instances_win_and_volumes_are_priced(catalog) -> None:  # type: ignore[no-untyped-def]
    cluster = ClusterFacts(
        "c-2",
        cluster={"driver": {"instance_id": "i-d"}},
        events=EVENTS,
        instances=(
            CloudInstance("i-d", "m5.2xlarge", "on_demand", T0, T0 + 30 * MIN),
            CloudInstance("i-w1", "m5.xlarge", "spot", T0 + MIN, None),
        ),
        volumes=(CloudVolume("v-1", "gp3", 100, T0, T0 + 30 * MIN),),
    )
    run = CollectedRun(2, RunStateFacts("TERMINATED", "SUCCESS"), T0, T0 + 31 * MIN, SPEC, cluster)
    timeline, from_cloud = build_timeline(run)
    assert from_cloud
    assert [(n.role, n.market, n.end_ms) for n in timeline.nodes] == [
        ("driver", "on_demand", T0 + 30 * MIN),
        ("worker", "spot", T0 + 31 * MIN),
    ]
    cost = price_run(run, catalog, cloud="aws", region="us-east-1")
    assert cost.storage_usd > 0 and cost.total_usd > cost.storage_usd


def test_to_run_in_for_an_oom_run(catalog) -> None:  # type: ignore[no-untyped-def]
    run = CollectedRun(
        42,
        RunStateFacts("INTERNAL_ERROR", "FAILED", "Cluster terminated"),
        T0,
        T0 + 12 * MIN,
        {"node_type_id": "m5.xlarge", "num_workers": 2},
        ClusterFacts("c-3", cluster={"termination_reason": {"code": "DRIVER_OUT_OF_MEMORY"}}),
        log_status="incomplete",
        log_reason="final eventlog part missing after 3 tries",
        recommendation_id=7,
        task_keys=("etl",),
    )
    run_in = to_run_in(run, catalog, cloud="aws", region="us-east-1", extra={"dag_id": "d", "task_id": "t"})
    assert run_in.outcome == "oom"
    assert run_in.cost is not None and run_in.cost.total_usd > 0
    assert run_in.failure_message == "Cluster terminated (cluster: DRIVER_OUT_OF_MEMORY)"
    assert (run_in.recommendation_id, run_in.log_status, run_in.task_key, run_in.dag_id) == (7, "incomplete", "etl", "d")
    assert run_in.start_ms == T0 and run_in.end_ms == T0 + 12 * MIN


def test_unknown_node_type_is_a_clear_error(catalog) -> None:  # type: ignore[no-untyped-def]
    run = CollectedRun(3, RunStateFacts("TERMINATED", "SUCCESS"), T0, T0 + MIN, {"node_type_id": "zz.huge", "num_workers": 1})
    with pytest.raises(IngestError, match=r"zz\.huge"):
        to_run_in(run, catalog, cloud="aws", region="us-east-1")


def test_oom_message_names_the_evidence_and_where(catalog, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 15 item 11: not the generic "Workload failed" but the OutOfMemoryError line and its source."""
    summary = one_stage_summary(tmp_path, failure=OOM_LINE)
    run = CollectedRun(
        43,
        RunStateFacts("TERMINATED", "FAILED", "Workload failed, see run output for details"),
        T0,
        T0 + 12 * MIN,
        {"node_type_id": "m5.xlarge", "num_workers": 2},
        summary=summary,
    )
    run_in = to_run_in(run, catalog, cloud="aws", region="us-east-1")
    assert run_in.outcome == "oom"
    assert run_in.failure_message == (
        "Out of memory: java.lang.OutOfMemoryError: Java heap space (found in the Spark event log). "
        "Databricks: Workload failed, see run output for details"
    )
    exit_137 = CollectedRun(44, RunStateFacts("TERMINATED", "FAILED", "Task failed\nContainer exited with exit code 137"),
                            T0, T0 + MIN, {"node_type_id": "m5.xlarge", "num_workers": 2})
    msg = to_run_in(exit_137, catalog, cloud="aws", region="us-east-1").failure_message
    assert msg == "Task failed\nContainer exited with exit code 137"  # the evidence already is the message


def test_a_run_the_record_step_refuses_names_the_field_never_its_value(tmp_path: Path) -> None:
    """The record step's error (what the task log and the pending queue show) names the refused field but never
    quotes a value: pydantic's own message did, and the Airflow side of a run (a run id built from a presigned
    URL, here with a Databricks token and an AWS signature) or its cluster can carry secrets."""
    from secret_cases import AKIA, DAPI, issue_cluster

    from airflow_provider_gradient.service import GradientService
    from airflow_provider_gradient.service.record import record_collected

    svc = GradientService.from_url(f"sqlite:///{tmp_path / 'g.db'}")
    pid = svc.get_or_create_project("p.t").id
    run = CollectedRun(44, RunStateFacts("TERMINATED", "FAILED", "Workload failed"), T0, T0 + MIN, issue_cluster())
    run_id = f"manual__{'x' * 200}?X-Amz-Credential={AKIA}&token={DAPI}"  # over the 250 characters of a run id
    (result,) = record_collected(svc, {"new_cluster": run}, {"new_cluster": pid}, cloud="aws", region="us-east-1",
                                 extra={"airflow_run_id": run_id, "dag_id": "d"}, recommend=False)
    assert result.error is not None and "airflow_run_id" in result.error, result.error
    # pydantic quoted the start and the end of the value: the token's tail was in the task log
    assert DAPI[-12:] not in result.error and "manual__" not in result.error, result.error
    assert result.error.startswith("GradientValidationError: run.airflow_run_id:"), result.error
    assert svc.list_runs(pid) == []  # nothing recorded from a refused run
