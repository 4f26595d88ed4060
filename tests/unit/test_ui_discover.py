"""Discover analysis (service.discover) over hand-made Databricks API answers: core-hours, costs,
findings, savings, timelines and CSV."""

from __future__ import annotations

import csv
import io

import pytest

from airflow_provider_gradient.core.pricing import estimate_run_cost, load_catalog
from airflow_provider_gradient.service.discover import (
    DAY_MS,
    DiscoverError,
    WorkspaceScan,
    analyze,
    report_csv,
    summarize,
)

NOW = 1_790_000_000_000 - (1_790_000_000_000 % DAY_MS) + 12 * 3_600_000  # noon UTC
H = 3_600_000
I3 = {"spark_version": "15.4.x-scala2.12", "node_type_id": "i3.xlarge"}


def _run(run_id: int, start: int, dur_ms: int, task: dict, *, run_type: str = "JOB_RUN", job_id: int = 0,
         name: str = "") -> dict:
    return {
        "run_id": run_id, "job_id": job_id, "run_name": name, "run_type": run_type,
        "start_time": start, "end_time": start + dur_ms,
        "tasks": [{"task_key": "t", "start_time": start, "end_time": start + dur_ms, **task}],
    }


@pytest.fixture
def scan() -> WorkspaceScan:
    jobs = (
        {"job_id": 1, "settings": {"name": "etl <b>nightly</b>"}},
        {"job_id": 2, "settings": {"name": "managed job"}},
    )
    photon = {**I3, "num_workers": 4, "runtime_engine": "PHOTON"}
    runs = (
        _run(11, NOW - 2 * DAY_MS, H, {"new_cluster": photon}, job_id=1),
        _run(12, NOW - 1 * DAY_MS, H, {"new_cluster": photon}, job_id=1),
        _run(13, NOW - 1 * DAY_MS, H // 2,
             {"new_cluster": {**I3, "autoscale": {"min_workers": 2, "max_workers": 6}}},
             run_type="SUBMIT_RUN", name="dag.task"),
        _run(14, NOW - 3 * H, 2 * H, {"existing_cluster_id": "ap-1", "cluster_instance": {"cluster_id": "ap-1"}},
             job_id=1),
        _run(15, NOW - 5 * H, H, {"new_cluster": {**I3, "num_workers": 2,
                                                    "custom_tags": {"gradient:project-id": "7"}}}, job_id=2),
        _run(16, NOW - 40 * DAY_MS, H, {"new_cluster": photon}, job_id=1),  # outside the window
    )
    clusters = {"ap-1": {**I3, "num_workers": 2, "cluster_source": "UI", "cluster_id": "ap-1"}}
    return WorkspaceScan("ws", jobs, runs, clusters, NOW - 30 * DAY_MS, NOW, region="us-east-1")


def test_top_jobs_core_hours_costs_and_savings(scan: WorkspaceScan) -> None:
    cat = load_catalog()
    assert cat.node_type("aws", "i3.xlarge").vcpus == 4
    rep = analyze([scan], cat)
    by_key = {j.key: j for j in rep.jobs}
    assert set(by_key) == {"job:1", "job:2", "submit:dag.task"}

    etl = by_key["job:1"]
    # 2 photon runs: (4 workers x 4 + driver 4) = 20 cores x 1 h; all-purpose run: (2x4+4) = 12 cores x 2 h
    assert etl.runs == 3
    assert etl.core_hours == pytest.approx(20 + 20 + 24)
    photon_cost = estimate_run_cost(catalog=cat, cloud="aws", region="us-east-1", node_type="i3.xlarge",
                                    driver_node_type="i3.xlarge", workers=4, runtime_s=3600, photon=True)
    ap_cost = estimate_run_cost(catalog=cat, cloud="aws", region="us-east-1", node_type="i3.xlarge",
                                driver_node_type="i3.xlarge", workers=2, runtime_s=7200,
                                compute_type="all_purpose")
    assert etl.cost_usd == pytest.approx(2 * photon_cost.total_usd + ap_cost.total_usd)
    # all-purpose -> jobs compute saves DBU x (1 - 0.15/0.55); plus 20 % of the rest of every unmanaged run
    ap_saving = ap_cost.dbu_usd * (1 - 0.15 / 0.55)
    expected = ap_saving + 0.2 * (2 * photon_cost.total_usd + ap_cost.total_usd - ap_saving)
    assert etl.estimated_savings_usd == pytest.approx(expected)
    assert etl.findings == {"photon", "all_purpose"}
    assert etl.name == "etl <b>nightly</b>"

    sub = by_key["submit:dag.task"]
    assert sub.findings == {"autoscaling", "submitted"}
    assert sub.core_hours == pytest.approx((4 * 4 + 4) * 0.5)  # autoscale 2..6 counted as 4 workers

    managed = by_key["job:2"]
    assert managed.findings == {"managed"} and managed.estimated_savings_usd == 0.0

    # ranked by cost: the three-run job first
    assert rep.jobs[0].key == "job:1"
    assert rep.findings == {"photon": 1, "autoscaling": 1, "all_purpose": 1, "submitted": 1, "managed": 1}
    assert rep.total_estimated_savings_usd == pytest.approx(sum(j.estimated_savings_usd for j in rep.jobs))


def test_timelines_count_jobs_and_core_hours_per_day(scan: WorkspaceScan) -> None:
    rep = analyze([scan], load_catalog())
    assert len(rep.days) == 31 and len(rep.jobs_per_day) == 31
    assert sum(rep.core_hours_per_day) == pytest.approx(rep.total_core_hours)
    day = dict(zip(rep.days, rep.jobs_per_day, strict=True))
    today, yesterday = rep.days[-1], rep.days[-2]
    assert day[today] == 2  # job 1 (all-purpose run) and job 2
    assert day[yesterday] == 2  # job 1 and the submitted run
    assert rep.to_dict()["timeline"][-1]["jobs"] == 2


def test_csv_is_formula_safe_and_complete(scan: WorkspaceScan) -> None:
    jobs = scan.jobs + ({"job_id": 3, "settings": {"name": "=HYPERLINK(\"http://x\")"}},)
    runs = scan.runs + (_run(17, NOW - H, H, {"new_cluster": {**I3, "num_workers": 1}}, job_id=3),)
    rep = analyze([WorkspaceScan("ws", jobs, runs, scan.clusters, scan.since_ms, scan.until_ms, region="us-east-1")],
                  load_catalog())
    rows = list(csv.DictReader(io.StringIO(report_csv(rep))))
    assert len(rows) == 4
    names = {r["name"] for r in rows}
    assert "'=HYPERLINK(\"http://x\")" in names
    assert float(rows[0]["cost_usd"]) >= float(rows[-1]["cost_usd"])


def test_bad_input_is_named() -> None:
    with pytest.raises(DiscoverError, match="at least one"):
        analyze([])
    with pytest.raises(DiscoverError, match="rightsizing_rate"):
        summarize([], since_ms=0, until_ms=DAY_MS, rightsizing_rate=1.5)


def test_unknown_node_type_is_counted_unpriced(scan: WorkspaceScan) -> None:
    runs = (_run(21, NOW - H, H, {"new_cluster": {"node_type_id": "zz.weird", "num_workers": 2}}, job_id=9),)
    rep = analyze([WorkspaceScan("ws", (), runs, {}, scan.since_ms, scan.until_ms, region="us-east-1")], load_catalog())
    assert rep.jobs[0].unpriced_runs == 1 and rep.jobs[0].cost_usd == 0.0
    assert not rep.jobs[0].priced and "zz.weird" in " ".join(rep.jobs[0].unpriced_reasons)


def test_discover_prices_runs_on_the_recorded_runs_basis(scan: WorkspaceScan) -> None:
    """Discover prices a run as the record step would (core/pricing/basis.py): the region from the cluster's zone,
    else the connection's region extra, else [gradient] region -- never a silent us-east-1 -- the plan from the
    settings, the compute type from cluster_source (a SQL or pipeline cluster is no all-purpose one)."""
    cat = load_catalog()
    one = (_run(31, NOW - H, H, {"new_cluster": {**I3, "num_workers": 2}}, job_id=1),)
    unknown = analyze([WorkspaceScan("ws", scan.jobs, one, {}, scan.since_ms, scan.until_ms)], cat)
    (job,) = unknown.jobs
    assert not job.priced and job.cost_usd == 0.0 and job.unpriced_runs == 1, job
    assert job.unpriced_reasons == {"region unknown: the cluster reported no zone; set the Databricks connection's "
                                    "region extra or [gradient] region"}
    assert unknown.to_dict()["jobs"][0]["unpriced_reasons"] == sorted(job.unpriced_reasons)

    def cost(region: str, plan: str = "Premium") -> float:
        return estimate_run_cost(catalog=cat, cloud="aws", region=region, node_type="i3.xlarge",
                                 driver_node_type="i3.xlarge", workers=2, runtime_s=3600, plan=plan).total_usd

    settings = analyze([WorkspaceScan("ws", scan.jobs, one, {}, scan.since_ms, scan.until_ms)], cat,
                       region="eu-west-1", plan="Standard")
    assert settings.jobs[0].cost_usd == pytest.approx(cost("eu-west-1", "Standard"))
    conn = analyze([WorkspaceScan("ws", scan.jobs, one, {}, scan.since_ms, scan.until_ms, region="us-west-2")], cat,
                   region="eu-west-1")
    assert conn.jobs[0].cost_usd == pytest.approx(cost("us-west-2"))
    zoned = ({**one[0], "tasks": [{**one[0]["tasks"][0], "new_cluster": {
        **I3, "num_workers": 2, "aws_attributes": {"zone_id": "eu-west-1b"}}}]},)
    zone = analyze([WorkspaceScan("ws", scan.jobs, zoned, {}, scan.since_ms, scan.until_ms, region="us-west-2")], cat)
    assert zone.jobs[0].cost_usd == pytest.approx(cost("eu-west-1"))

    # compute type from cluster_source: SQL is not all-purpose; a pipeline (DLT) has no $/DBU in the catalog
    sources = tuple(_run(40 + i, NOW - H, H, {"existing_cluster_id": None, "cluster_instance": {"cluster_id": f"c{i}"}},
                         job_id=40 + i) for i in range(3))
    clusters = {f"c{i}": {**I3, "num_workers": 2, "cluster_source": src}
                for i, src in enumerate(("PIPELINE", "SQL", "API"))}
    rep = analyze([WorkspaceScan("ws", (), sources, clusters, scan.since_ms, scan.until_ms, region="us-east-1")], cat)
    by_key = {j.key: j for j in rep.jobs}
    assert not by_key["job:40"].priced and "dlt" in " ".join(by_key["job:40"].unpriced_reasons)
    assert "all_purpose" not in by_key["job:40"].findings | by_key["job:41"].findings
    assert "all_purpose" in by_key["job:42"].findings and by_key["job:42"].priced
