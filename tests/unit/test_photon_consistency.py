"""A Photon runtime is Photon for every layer, whichever of the two signals says so.

Databricks runs Photon for ``runtime_engine: PHOTON`` and for a legacy ``…-photon-…`` ``spark_version``. The
optimiser, the pricing of a recorded run, the emulator and Discover must all read both as Photon and price the
DBUs at the catalog's Photon rate (they used to disagree: the optimiser and the run pricing looked at
``runtime_engine`` only, and the optimiser priced its candidates at the standard DBU rate).
"""

from __future__ import annotations

import dataclasses

import pytest

from airflow_provider_gradient.core.cluster_merge import merge_cluster
from airflow_provider_gradient.core.optimizer import ClusterShape
from airflow_provider_gradient.core.optimizer.space import shape_cost_usd
from airflow_provider_gradient.core.pricing import PriceCatalog, estimate_run_cost, load_catalog
from airflow_provider_gradient.service import GradientService
from airflow_provider_gradient.service.collected import CollectedRun, RunStateFacts
from airflow_provider_gradient.service.discover import WorkspaceScan, task_usages
from airflow_provider_gradient.service.recommend import build_inputs
from airflow_provider_gradient.service.run_cost import price_run
from airflow_provider_gradient.simulator import ClusterSpec, load_profile, price, simulate

SIGNALS = {
    "runtime_engine": {"spark_version": "15.4.x-scala2.12", "runtime_engine": "PHOTON"},
    "spark_version": {"spark_version": "15.4.x-photon-scala2.12"},
}
BASE = {"node_type_id": "m5.xlarge", "num_workers": 4, "aws_attributes": {"availability": "ON_DEMAND"}}
HOUR_MS = 3_600_000
NOW = 1_790_000_000_000


@pytest.fixture(scope="module")
def cat() -> PriceCatalog:
    return load_catalog()


def _estimate(cat: PriceCatalog, *, photon: bool, overhead: float | None) -> float:
    return estimate_run_cost(catalog=cat, cloud="aws", region="us-east-1", node_type="m5.xlarge",
                             driver_node_type="m5.xlarge", workers=4, runtime_s=3600.0, photon=photon,
                             startup_overhead_s=overhead).total_usd


@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_photon_runtime_is_photon_for_optimiser_pricing_emulator_and_discover(
    signal: str, cat: PriceCatalog, sqlite_url: str
) -> None:
    cluster = {**BASE, **SIGNALS[signal]}
    photon_hour, standard_hour = _estimate(cat, photon=True, overhead=0.0), _estimate(cat, photon=False, overhead=0.0)
    assert photon_hour > standard_hour * 1.2  # the two prices are far apart: a wrong reading cannot pass

    # optimiser: the baseline is Photon, its search space prices an hour of it as Photon, the recommendation
    # keeps Photon once merged into what the task submits
    svc = GradientService.from_url(sqlite_url)
    project = svc.get_or_create_project("photon.task", baseline_cluster=cluster)
    inputs = build_inputs(project, [])
    assert inputs["baseline"].photon is True
    assert shape_cost_usd(inputs["space"], inputs["baseline"], 3600.0) == pytest.approx(photon_hour)
    rec = svc.generate_recommendation(project.id)
    submitted = merge_cluster(cluster, rec.cluster)
    assert ClusterShape.from_databricks(submitted).photon is True
    assert "-photon-" not in submitted["spark_version"] or "runtime_engine" not in submitted

    # pricing a recorded run (clusters/get not answered: the submitted spec, no events): Photon DBUs
    run = CollectedRun(databricks_run_id=1, state=RunStateFacts("TERMINATED", "SUCCESS"), start_ms=NOW,
                       end_ms=NOW + HOUR_MS, submitted_cluster=cluster)
    assert price_run(run, cat, cloud="aws", region="us-east-1").total_usd == pytest.approx(
        _estimate(cat, photon=True, overhead=None)
    )

    # emulator: the cluster runs with Photon's speed-up and its timeline is billed at the Photon DBU rate
    spec = ClusterSpec.from_new_cluster(cluster)
    assert spec.photon is True and ClusterSpec.from_new_cluster(submitted).photon is True
    profile = load_profile("small_startup")
    res = simulate(profile, spec, seed=1, noise=False)
    assert res.details["photon_factor"] == profile.photon_speedup
    as_standard = dataclasses.replace(res, spec=dataclasses.replace(spec, photon=False))
    assert price(res).dbu_usd == pytest.approx(cat.photon_multiplier("aws") * price(as_standard).dbu_usd)

    # Discover: a job run on that cluster is a Photon job, costed at the Photon rate
    scan = WorkspaceScan(
        "ws", ({"job_id": 1, "settings": {"name": "nightly"}},),
        ({"run_id": 7, "job_id": 1, "start_time": NOW, "end_time": NOW + HOUR_MS,
          "tasks": [{"task_key": "t", "start_time": NOW, "end_time": NOW + HOUR_MS, "new_cluster": cluster}]},),
        {}, NOW - HOUR_MS, NOW + 2 * HOUR_MS, region="us-east-1",
    )
    (usage,) = task_usages(scan, cat)
    assert "photon" in usage.findings
    assert usage.cost_usd == pytest.approx(_estimate(cat, photon=True, overhead=None))
