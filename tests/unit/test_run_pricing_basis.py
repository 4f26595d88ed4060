"""A recorded run is priced by the compute it was billed as and the region it ran in, read from what Databricks
and the cloud reported (``core/pricing/basis.py``), and recorded with what its price was computed from.

Through the service's own record use case into a real store (no mock of our code): an all-purpose cluster
(``cluster_source`` ``UI``/``API``, what a task on an ``existing_cluster_id`` runs on) is billed at the
all-purpose $/DBU with Photon's multiplier; an unknown ``cluster_source`` is priced at the jobs rate and the record
says the compute type is unknown; Delta Live Tables (no $/DBU in the shipped catalog) is recorded unpriced, with
why; the region comes from the zone, the cloud instances or the event log before any configured one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_gradient.core.pricing import (
    compute_run_cost,
    compute_use,
    load_catalog,
    region_of_zone,
    reported_region,
)
from airflow_provider_gradient.core.pricing.catalog import PriceCatalog
from airflow_provider_gradient.service import GradientService
from airflow_provider_gradient.service.collected import (
    CloudInstance,
    ClusterFacts,
    CollectedRun,
    RunStateFacts,
)
from airflow_provider_gradient.service.record import record_collected
from airflow_provider_gradient.service.run_cost import build_timeline

T0 = 1_700_000_000_000
HOUR = 3_600_000
SUBMITTED = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2}


def _run(report: dict[str, Any], *, run_id: int = 1, instances: tuple[CloudInstance, ...] = ()) -> CollectedRun:
    events = ({"timestamp": T0, "type": "CREATING"}, {"timestamp": T0 + HOUR, "type": "TERMINATED"})
    return CollectedRun(
        databricks_run_id=run_id,
        state=RunStateFacts("TERMINATED", "SUCCESS"),
        start_ms=T0,
        end_ms=T0 + HOUR,
        submitted_cluster=SUBMITTED,
        cluster=ClusterFacts("c-1", {**SUBMITTED, **report}, events, instances),
    )


@pytest.fixture
def svc(tmp_path: Path) -> GradientService:
    return GradientService.from_url(f"sqlite:///{tmp_path / 'g.db'}")


@pytest.fixture(scope="module")
def catalog() -> PriceCatalog:
    return load_catalog()


def _record(svc: GradientService, run: CollectedRun, region: str | None = "us-east-1") -> Any:
    pid = svc.get_or_create_project("p.t").id
    (result,) = record_collected(svc, {"new_cluster": run}, {"new_cluster": pid}, cloud="aws", region=region,
                                 recommend=False)
    assert result.error is None, result.error
    return svc.get_run(pid, run.databricks_run_id)


def _expected(run: CollectedRun, catalog: PriceCatalog, compute_type: str, photon: bool = False) -> float:
    timeline = build_timeline(run)[0]
    return compute_run_cost(timeline, catalog, cloud="aws", region="us-east-1", compute_type=compute_type,
                            photon=photon).dbu_usd


@pytest.mark.parametrize("source", ["UI", "API"])
def test_all_purpose_cluster_is_billed_at_the_all_purpose_rate(
    svc: GradientService, catalog: PriceCatalog, source: str
) -> None:
    run = _run({"cluster_source": source, "runtime_engine": "PHOTON"})
    stored = _record(svc, run)
    assert stored.cost.dbu_usd == pytest.approx(_expected(run, catalog, "all_purpose", photon=True))
    # $0.55/DBU x 2 (Photon) vs $0.15: 7.3x the jobs-compute DBUs
    assert stored.cost.dbu_usd == pytest.approx(_expected(run, catalog, "jobs") * 0.55 * 2 / 0.15)
    p = stored.pricing
    assert (p.compute_type, p.compute_known, p.photon, p.priced) == ("all_purpose", True, True, True)
    assert p.compute_source == f"clusters/get cluster_source={source}" and p.label() == "All-purpose · Photon · us-east-1"


def test_job_cluster_with_photon_is_jobs_photon(svc: GradientService, catalog: PriceCatalog) -> None:
    run = _run({"cluster_source": "JOB", "spark_version": "15.4.x-photon-scala2.12"})
    stored = _record(svc, run)
    assert stored.cost.dbu_usd == pytest.approx(_expected(run, catalog, "jobs") * 2)
    assert (stored.pricing.compute_type, stored.pricing.photon) == ("jobs", True)


def test_unknown_compute_is_priced_at_the_jobs_rate_and_says_so(svc: GradientService, catalog: PriceCatalog) -> None:
    run = _run({"cluster_source": "SOMETHING_NEW"})
    stored = _record(svc, run)
    assert stored.cost.dbu_usd == pytest.approx(_expected(run, catalog, "jobs"))
    p = stored.pricing
    assert (p.compute_type, p.compute_known, p.priced) == ("unknown", False, True)
    assert "compute type unknown" in p.note and "SOMETHING_NEW" in p.note and "jobs compute rate" in p.note
    assert p.label().startswith("compute unknown (jobs rate)")


def test_compute_without_a_catalog_rate_is_recorded_unpriced(svc: GradientService) -> None:
    stored = _record(svc, _run({"cluster_source": "PIPELINE"}))
    assert stored.cost is None and stored.outcome == "success"  # the run is kept, not queued or lost
    p = stored.pricing
    assert (p.compute_type, p.priced) == ("dlt", False)
    assert "not priced" in p.note and "'dlt'" in p.note and "price_catalog" in p.note


def test_region_read_from_zone_then_instances_then_configured(svc: GradientService, catalog: PriceCatalog) -> None:
    zoned = _record(svc, _run({"aws_attributes": {"zone_id": "us-west-2b"}}, run_id=1), region="us-east-1")
    assert (zoned.pricing.region, zoned.pricing.region_source) == ("us-west-2", "aws_attributes.zone_id=us-west-2b")
    inst = CloudInstance("i-1", "m5.xlarge", "on_demand", T0, T0 + HOUR, "driver", zone="eu-west-1c")
    placed = _record(svc, _run({"aws_attributes": {"zone_id": "auto"}}, run_id=2, instances=(inst,)),
                     region="us-east-1")
    assert placed.pricing.region == "eu-west-1"
    assert placed.cost.cloud_usd == pytest.approx(catalog.hourly_usd("aws", "eu-west-1", "m5.xlarge") * 1.0)
    # the project follows where its clusters really ran; a run reporting nothing is priced there
    assert svc.get_project("p.t").region == "eu-west-1"
    configured = _record(svc, _run({}, run_id=3), region="us-west-2")
    assert (configured.pricing.region, configured.pricing.region_source) == ("eu-west-1", "the project's region")
    assert not configured.pricing.region_reported and placed.pricing.region_reported


def test_a_configured_default_region_gives_way_to_the_reported_one(tmp_path: Path) -> None:
    svc = GradientService.from_url(f"sqlite:///{tmp_path / 'g.db'}", default_region="us-east-1")
    assert svc.get_or_create_project("p.t").region == "us-east-1"  # [gradient] region, as configured
    stored = _record(svc, _run({"aws_attributes": {"zone_id": "ap-southeast-2a"}}), region="us-east-1")
    assert stored.pricing.region == "ap-southeast-2"
    assert svc.get_project("p.t").region == "ap-southeast-2"


def test_no_region_anywhere_is_unpriced_and_the_project_learns_it_later(svc: GradientService) -> None:
    unknown = _record(svc, _run({}, run_id=1), region=None)
    assert unknown.cost is None and unknown.pricing.region is None and not unknown.pricing.priced
    assert "region is not known" in unknown.pricing.note
    project = svc.get_project("p.t")
    assert project.region is None
    # the next run's cluster reports its zone: priced, and the project's region is filled
    known = _record(svc, _run({"aws_attributes": {"zone_id": "eu-west-1a"}}, run_id=2), region=None)
    assert known.cost is not None and known.pricing.region == "eu-west-1"
    assert svc.get_project("p.t").region == "eu-west-1"
    # a run reporting nothing now uses the project's region
    later = _record(svc, _run({}, run_id=3), region=None)
    assert later.cost is not None and later.pricing.region == "eu-west-1"


def test_recommendations_of_a_project_without_region_say_so(svc: GradientService) -> None:
    p = svc.get_or_create_project("p.t", baseline_cluster=SUBMITTED)
    assert p.region is None
    rec = svc.generate_recommendation(p.id)
    assert "region unknown: costs estimated at aws us-east-1 list prices" in rec.reason


@pytest.mark.parametrize(
    ("report", "submitted", "expected"),
    [
        ({"cluster_source": "JOB"}, SUBMITTED, ("jobs", False)),
        ({"cluster_source": "JOB", "spark_version": "apache-spark-2.4.x-scala2.11"}, SUBMITTED, ("jobs_light", False)),
        ({"cluster_source": "UI"}, None, ("all_purpose", False)),
        ({"cluster_source": "API", "runtime_engine": "PHOTON"}, None, ("all_purpose", True)),
        ({"cluster_source": "SQL"}, None, ("sql", False)),
        ({}, SUBMITTED, ("jobs", False)),  # runs/submit new_cluster: a job cluster even without a report
        ({}, None, ("unknown", False)),
        ({"cluster_source": "NEW"}, SUBMITTED, ("unknown", False)),
    ],
)
def test_compute_use(report: dict[str, Any], submitted: dict[str, Any] | None, expected: tuple[str, bool]) -> None:
    use = compute_use(report, submitted)
    assert (use.compute_type, use.photon) == expected
    assert use.priced_as == (expected[0] if expected[0] != "unknown" else "jobs")


def test_existing_cluster_is_all_purpose() -> None:
    assert compute_use({}, None, existing_cluster=True).compute_type == "all_purpose"


@pytest.mark.parametrize(
    ("zone", "region"),
    [("us-west-2a", "us-west-2"), ("eu-central-1b", "eu-central-1"), ("us-gov-west-1a", "us-gov-west-1"),
     ("us-central1-a", "us-central1"), ("auto", None), ("", None), (None, None)],
)
def test_region_of_zone(zone: str | None, region: str | None) -> None:
    assert region_of_zone(zone) == region


def test_reported_region_order() -> None:
    assert reported_region({"aws_attributes": {"zone_id": "auto"}}, "us-east-1", ["westeurope"])[0] == "westeurope"
    assert reported_region({}, "eastus2")[0] == "eastus2"
    assert reported_region({"gcp_attributes": {"zone_id": "europe-west4-b"}}, "x")[0] == "europe-west4"
    assert reported_region(None)[0] is None


def test_a_jobs_light_project_is_estimated_at_the_jobs_light_rate(svc: GradientService, catalog: PriceCatalog) -> None:
    from airflow_provider_gradient.service.recommend import build_inputs

    light = {"cluster_source": "JOB", "spark_version": "apache-spark-2.4.x-scala2.11"}
    stored = _record(svc, _run(light))
    assert stored.pricing.compute_type == "jobs_light"
    project = svc.get_project("p.t")
    assert project.compute_type == "jobs_light"
    space = build_inputs(project, svc.list_runs(project.id))["space"]
    assert space.dbu_usd == pytest.approx(catalog.dbu_rate_usd("aws", "Premium", "jobs_light"))


@pytest.mark.parametrize("report", [{"cluster_source": "JOB"}, {"cluster_source": "UI", "runtime_engine": "PHOTON"}])
def test_a_run_is_priced_at_its_projects_plan(svc: GradientService, catalog: PriceCatalog,
                                               report: dict[str, Any]) -> None:
    """The worker prices at ``[gradient] plan_type`` (Premium here); a project whose own plan is Standard -- the
    plan its recommendations are estimated at -- stores the run at Standard's $/DBU, as the cost model prices
    that timeline at Standard (the record stays one call: no project read by the worker)."""
    pid = svc.get_or_create_project("std.t", plan_type="Standard").id
    run = _run(report)
    (result,) = record_collected(svc, {"new_cluster": run}, {"new_cluster": pid}, cloud="aws", region="us-east-1",
                                 plan="Premium", recommend=False)
    assert result.error is None, result.error
    stored = svc.get_run(pid, run.databricks_run_id)
    ct = "all_purpose" if report["cluster_source"] == "UI" else "jobs"
    at_standard = compute_run_cost(build_timeline(run)[0], catalog, cloud="aws", region="us-east-1", plan="Standard",
                                   compute_type=ct, photon="runtime_engine" in report)
    assert stored.cost is not None and stored.pricing is not None
    assert stored.cost.dbu_usd == pytest.approx(at_standard.dbu_usd)
    assert stored.cost.total_usd == pytest.approx(at_standard.total_usd) == result.cost_usd
    assert stored.pricing.plan_type == "Standard" and "worker priced it at Premium" in stored.pricing.note
    # a plan the catalog has no $/DBU for (Azure Databricks has no Enterprise): unpriced, and why -- not Premium's
    ent = svc.get_or_create_project("ent.t", plan_type="Enterprise", cloud="azure").id
    azure = CollectedRun(
        databricks_run_id=9, state=RunStateFacts("TERMINATED", "SUCCESS"), start_ms=T0, end_ms=T0 + HOUR,
        submitted_cluster={"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_D4ds_v5", "num_workers": 1},
        cluster=ClusterFacts("c-9", {"cluster_source": "JOB"}, ({"timestamp": T0, "type": "CREATING"},)),
    )
    (res,) = record_collected(svc, {"new_cluster": azure}, {"new_cluster": ent}, cloud="azure", region="eastus",
                              plan="Premium", recommend=False)
    assert res.error is None, res.error
    unpriced = svc.get_run(ent, 9)
    assert unpriced.cost is None and unpriced.pricing is not None and not unpriced.pricing.priced
    assert unpriced.pricing.plan_type == "Enterprise" and "Enterprise" in (unpriced.pricing.note or "")


def test_a_run_is_priced_in_its_clusters_cloud_and_the_project_follows(svc: GradientService,
                                                                       catalog: PriceCatalog) -> None:
    """A worker configured for AWS records an Azure cluster (clusters/get reports azure_attributes): priced at
    Azure's prices (it failed: an unknown AWS node type), and the project -- created with the AWS default -- is
    estimated in Azure from then on, so its recommendations and its runs agree."""
    pid = svc.get_or_create_project("az.t").id
    assert svc.get_project(pid).cloud == "aws"
    spec = {"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_D4ds_v5", "num_workers": 1}
    events = ({"timestamp": T0, "type": "CREATING"}, {"timestamp": T0 + HOUR, "type": "TERMINATED"})
    run = CollectedRun(
        databricks_run_id=11, state=RunStateFacts("TERMINATED", "SUCCESS"), start_ms=T0, end_ms=T0 + HOUR,
        submitted_cluster=spec,
        cluster=ClusterFacts("c-11", {**spec, "cluster_source": "JOB",
                                      "azure_attributes": {"availability": "ON_DEMAND_AZURE"}}, events),
    )
    (result,) = record_collected(svc, {"new_cluster": run}, {"new_cluster": pid}, cloud="aws", region="eastus",
                                 recommend=False)
    assert result.error is None, result.error
    stored = svc.get_run(pid, 11)
    expected = compute_run_cost(build_timeline(run)[0], catalog, cloud="azure", region="eastus")
    assert stored.cost is not None and stored.cost.total_usd == pytest.approx(expected.total_usd)
    assert stored.pricing is not None and stored.pricing.cloud == "azure"
    assert "cloud azure (the cluster's; [gradient] cloud is aws)" in (stored.pricing.note or "")
    assert svc.get_project(pid).cloud == "azure"
