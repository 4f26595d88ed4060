"""The run cost model: compute_run_cost (observed timeline) and estimate_run_cost (config not yet run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_gradient.core.pricing import (
    ClusterTimeline,
    NodeInterval,
    PriceCatalog,
    PricingError,
    RunCost,
    UnknownNodeTypeError,
    UnknownPlanError,
    UnknownRegionError,
    VolumeInterval,
    compute_run_cost,
    estimate_run_cost,
    load_catalog,
)

H = 3_600_000  # one hour in ms
T0 = 1_700_000_000_000


def _cluster(
    node: str,
    workers: int,
    hours: float,
    *,
    market: str = "on_demand",
    driver: str | None = None,
    driver_market: str = "on_demand",
) -> ClusterTimeline:
    end = T0 + int(hours * H)
    nodes = [NodeInterval(driver or node, "driver", driver_market, T0, end)]
    nodes += [NodeInterval(node, "worker", market, T0, end) for _ in range(workers)]
    return ClusterTimeline(nodes=tuple(nodes))


@pytest.fixture
def cat() -> PriceCatalog:
    return load_catalog()


@pytest.fixture
def spot_cat(tmp_path: Path) -> PriceCatalog:
    """Shipped catalog with a spot discount and spread fixed by the test (hand-computable)."""
    p = tmp_path / "spot.json"
    p.write_text(
        json.dumps(
            {
                "clouds": {
                    "aws": {"spot_discount_spread": 0.2, "node_types": {"m5.xlarge": {"spot_discount": 0.6}}}
                }
            }
        )
    )
    return load_catalog(str(p))


def test_issue_example_five_m5_xlarge_one_hour_premium_jobs(cat: PriceCatalog) -> None:
    cost = compute_run_cost(
        _cluster("m5.xlarge", 4, 1.0),
        cat,
        cloud="aws",
        region="us-east-1",
        plan="Premium",
        compute_type="jobs",
        startup_overhead_s=0,
    )
    assert cost.total_usd == pytest.approx(5 * (0.192 + 0.69 * 0.15))
    assert cost.cloud_usd == pytest.approx(5 * 0.192)
    assert cost.dbu_usd == pytest.approx(5 * 0.69 * 0.15)
    assert cost.dbus == pytest.approx(5 * 0.69)
    assert cost.storage_usd == 0.0
    assert cost.low_usd == cost.high_usd == pytest.approx(cost.total_usd)  # on-demand: no range


def test_default_startup_overhead_bills_cloud_only(cat: PriceCatalog) -> None:
    cost = compute_run_cost(_cluster("m5.xlarge", 4, 1.0), cat, cloud="aws", region="us-east-1")
    assert cat.startup_overhead_s == 150
    assert cost.cloud_usd == pytest.approx(5 * 0.192 * (1 + 150 / 3600))
    assert cost.dbu_usd == pytest.approx(5 * 0.69 * 0.15)
    custom = compute_run_cost(
        _cluster("m5.xlarge", 4, 1.0), cat, cloud="aws", region="us-east-1", startup_overhead_s=180
    )
    assert custom.cloud_usd == pytest.approx(5 * 0.192 * (1 + 180 / 3600))
    with pytest.raises(PricingError, match="startup_overhead_s"):
        compute_run_cost(
            _cluster("m5.xlarge", 1, 1.0), cat, cloud="aws", region="us-east-1", startup_overhead_s=-1
        )


def test_spot_workers_get_a_range(spot_cat: PriceCatalog) -> None:
    # on-demand driver + 4 spot workers, 1 h: typical discount 0.6, deepest 0.6 + 0.2 = 0.8, fallback on-demand
    cost = compute_run_cost(
        _cluster("m5.xlarge", 4, 1.0, market="SPOT_WITH_FALLBACK"),
        spot_cat,
        cloud="aws",
        region="us-east-1",
        startup_overhead_s=0,
    )
    dbu = 5 * 0.69 * 0.15
    assert cost.cloud_usd == pytest.approx(0.192 + 4 * 0.192 * 0.4)
    assert cost.low_usd == pytest.approx(0.192 + 4 * 0.192 * 0.2 + dbu)
    assert cost.high_usd == pytest.approx(5 * 0.192 + dbu)
    assert cost.low_usd < cost.total_usd < cost.high_usd


def test_spot_discount_floor(tmp_path: Path) -> None:
    p = tmp_path / "deep.json"
    p.write_text(
        json.dumps(
            {
                "clouds": {
                    "aws": {"spot_discount_spread": 0.5, "node_types": {"m5.xlarge": {"spot_discount": 0.9}}}
                }
            }
        )
    )
    cost = compute_run_cost(
        _cluster("m5.xlarge", 0, 1.0, driver_market="spot"),
        load_catalog(str(p)),
        cloud="aws",
        region="us-east-1",
        startup_overhead_s=0,
    )
    assert cost.low_usd - cost.dbu_usd == pytest.approx(0.192 * 0.05)  # never below 5 % of on-demand


def test_photon_multiplies_dbus(cat: PriceCatalog) -> None:
    tl = _cluster("m5.xlarge", 4, 1.0)
    photon = compute_run_cost(tl, cat, cloud="aws", region="us-east-1", photon=True, startup_overhead_s=0)
    assert cat.photon_multiplier("aws") == 2.0
    assert photon.dbu_usd == pytest.approx(5 * 0.69 * 2.0 * 0.15)
    assert photon.cloud_usd == pytest.approx(5 * 0.192)
    same = compute_run_cost(
        tl, cat, cloud="aws", region="us-east-1", compute_type="jobs_photon", startup_overhead_s=0
    )
    assert same == photon
    ap = compute_run_cost(
        tl,
        cat,
        cloud="aws",
        region="us-east-1",
        compute_type="all_purpose",
        photon=True,
        startup_overhead_s=0,
    )
    assert ap.dbu_usd == pytest.approx(5 * 0.69 * 2.0 * 0.55)


def test_azure_mixed_driver_and_standard_plan(cat: PriceCatalog) -> None:
    # driver Standard_DS3_v2 + 2 × Standard_E8ds_v5, 30 minutes, westeurope, Standard plan Jobs Compute
    tl = _cluster("Standard_E8ds_v5", 2, 0.5, driver="Standard_DS3_v2")
    cost = compute_run_cost(
        tl, cat, cloud="azure", region="westeurope", plan="Standard", startup_overhead_s=0
    )
    assert cost.cloud_usd == pytest.approx(0.5 * (0.293 + 2 * 0.66))
    assert cost.dbu_usd == pytest.approx(0.5 * (0.75 + 2 * 2.0) * 0.15)


def test_volumes_are_priced_per_gb_month(cat: PriceCatalog) -> None:
    tl = ClusterTimeline(
        nodes=_cluster("m5.xlarge", 1, 1.0).nodes,
        volumes=(VolumeInterval("gp3", 100, T0, T0 + 73 * H), VolumeInterval("gp2", 500, T0, T0 + H // 2)),
    )
    cost = compute_run_cost(tl, cat, cloud="aws", region="us-east-1", startup_overhead_s=0)
    assert cost.storage_usd == pytest.approx(100 * 0.08 * 73 / 730 + 500 * 0.10 * 0.5 / 730)
    assert cost.total_usd == pytest.approx(cost.cloud_usd + cost.dbu_usd + cost.storage_usd)


def test_errors_name_the_problem(cat: PriceCatalog) -> None:
    with pytest.raises(UnknownNodeTypeError, match="'m5.mega'"):
        compute_run_cost(
            _cluster("m5.mega", 2, 1.0, driver="m5.xlarge"), cat, cloud="aws", region="us-east-1"
        )
    with pytest.raises(UnknownRegionError, match="'mars-1'"):
        compute_run_cost(_cluster("m5.xlarge", 2, 1.0), cat, cloud="aws", region="mars-1")
    with pytest.raises(UnknownPlanError, match="'Platinum'"):
        compute_run_cost(_cluster("m5.xlarge", 2, 1.0), cat, cloud="aws", region="us-east-1", plan="Platinum")
    with pytest.raises(UnknownNodeTypeError, match="'m6i.16xlarge'"):
        estimate_run_cost(
            catalog=cat,
            cloud="aws",
            region="us-east-1",
            node_type="m6i.16xlarge",
            driver_node_type=None,
            workers=2,
            runtime_s=60,
        )
    with pytest.raises(PricingError, match="no nodes"):
        compute_run_cost(ClusterTimeline(nodes=()), cat, cloud="aws", region="us-east-1")
    with pytest.raises(PricingError, match="ends before it starts"):
        NodeInterval("m5.xlarge", "worker", "spot", T0 + 1, T0)
    with pytest.raises(PricingError, match="unknown market 'reserved'"):
        NodeInterval("m5.xlarge", "worker", "reserved", T0, T0)
    with pytest.raises(PricingError, match="unknown role"):
        NodeInterval("m5.xlarge", "executor", "spot", T0, T0)
    with pytest.raises(PricingError, match="must be >= 0"):
        estimate_run_cost(
            catalog=cat,
            cloud="aws",
            region="us-east-1",
            node_type="m5.xlarge",
            driver_node_type=None,
            workers=-1,
            runtime_s=60,
        )


@pytest.mark.parametrize("first_on_demand", [0, 1, 3])
@pytest.mark.parametrize("photon", [False, True])
def test_estimate_matches_timeline_pricing(
    spot_cat: PriceCatalog, first_on_demand: int, photon: bool
) -> None:
    """An estimate equals pricing the equivalent observed timeline (same overhead, same spot split)."""
    workers = 5
    end = T0 + int(0.75 * H)
    nodes = [NodeInterval("r5.2xlarge", "driver", "on_demand" if first_on_demand >= 1 else "spot", T0, end)]
    for i in range(workers):
        market = "on_demand" if i + 1 < first_on_demand else "spot"
        nodes.append(NodeInterval("m5.xlarge", "worker", market, T0, end))
    vols = tuple(VolumeInterval("gp3", 64, T0, end) for _ in range(workers + 1))
    observed = compute_run_cost(
        ClusterTimeline(tuple(nodes), vols), spot_cat, cloud="aws", region="eu-west-1", photon=photon
    )
    est = estimate_run_cost(
        catalog=spot_cat,
        cloud="aws",
        region="eu-west-1",
        node_type="m5.xlarge",
        driver_node_type="r5.2xlarge",
        workers=workers,
        runtime_s=0.75 * 3600,
        spot=True,
        first_on_demand=first_on_demand,
        photon=photon,
        ebs_gb_per_node=64,
    )
    for field in ("cloud_usd", "dbu_usd", "storage_usd", "total_usd", "low_usd", "high_usd", "dbus"):
        assert getattr(est, field) == pytest.approx(getattr(observed, field)), field


def test_estimate_fractional_workers_and_on_demand(cat: PriceCatalog) -> None:
    # autoscaled cluster averaging 2.5 workers for 2 h, c5.2xlarge, no overhead
    est = estimate_run_cost(
        catalog=cat,
        cloud="aws",
        region="us-west-2",
        node_type="c5.2xlarge",
        driver_node_type=None,
        workers=2.5,
        runtime_s=7200,
        startup_overhead_s=0,
    )
    assert est.cloud_usd == pytest.approx(3.5 * 0.34 * 2)
    assert est.dbus == pytest.approx(3.5 * 1.22 * 2)
    assert est.low_usd == est.high_usd == pytest.approx(est.total_usd)
    # Databricks node ids are matched case-insensitively on Azure too
    az = estimate_run_cost(
        catalog=cat,
        cloud="Azure",
        region="eastus",
        node_type="standard_d4ds_v5",
        driver_node_type=None,
        workers=1,
        runtime_s=3600,
        startup_overhead_s=0,
        plan="premium",
    )
    assert az.total_usd == pytest.approx(2 * 0.226 + 2 * 0.75 * 0.30)


def test_run_cost_dict_roundtrip(cat: PriceCatalog) -> None:
    cost = compute_run_cost(
        _cluster("i3.xlarge", 3, 0.25, market="spot"), cat, cloud="aws", region="us-east-1"
    )
    assert RunCost.from_dict(json.loads(json.dumps(cost.to_dict()))) == cost


_CAT = load_catalog()
_AWS_NODES = [n.name for n in _CAT.node_types("aws", "us-west-2")]


@settings(max_examples=150, deadline=None)
@given(
    node=st.sampled_from(_AWS_NODES),
    driver=st.sampled_from(_AWS_NODES),
    workers=st.floats(0, 64),
    runtime_s=st.floats(0, 48 * 3600),
    spot=st.booleans(),
    first_on_demand=st.integers(0, 5),
    photon=st.booleans(),
    plan=st.sampled_from(["Standard", "Premium", "Enterprise"]),
    compute=st.sampled_from(["jobs", "jobs_photon", "all_purpose"]),
)
def test_estimate_invariants(
    node: str,
    driver: str,
    workers: float,
    runtime_s: float,
    spot: bool,
    first_on_demand: int,
    photon: bool,
    plan: str,
    compute: str,
) -> None:
    kw = dict(
        catalog=_CAT,
        cloud="aws",
        region="us-west-2",
        node_type=node,
        driver_node_type=driver,
        runtime_s=runtime_s,
        spot=spot,
        first_on_demand=first_on_demand,
        photon=photon,
        plan=plan,
        compute_type=compute,
        ebs_gb_per_node=32,
    )
    c = estimate_run_cost(workers=workers, **kw)  # type: ignore[arg-type]
    assert 0 <= c.low_usd <= c.total_usd + 1e-9 <= c.high_usd + 2e-9
    assert c.total_usd == pytest.approx(c.cloud_usd + c.dbu_usd + c.storage_usd)
    if not spot:
        assert c.low_usd == pytest.approx(c.high_usd)
    more = estimate_run_cost(workers=workers + 1, **kw)  # type: ignore[arg-type]
    assert more.total_usd >= c.total_usd
