"""Documented behaviour of the simulator's job models and shipped profiles."""

from __future__ import annotations

import statistics
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_gradient.core.optimizer.types import NodeOption, SearchSpace
from airflow_provider_gradient.core.pricing import load_catalog
from airflow_provider_gradient.simulator import (
    ClusterSpec,
    ClusterSpecError,
    ProfileError,
    list_profiles,
    load_profile,
    oracle,
    price,
    simulate,
)
from airflow_provider_gradient.simulator.nodes import node_facts
from airflow_provider_gradient.simulator.oracle import candidate_specs


def spec(node: str = "m5.2xlarge", workers: int = 8, **kw: object) -> ClusterSpec:
    return ClusterSpec(node, num_workers=workers, **kw)  # type: ignore[arg-type]


def test_ships_at_least_eight_valid_profiles() -> None:
    names = list_profiles()
    assert len(names) >= 8
    for name in names:
        p = load_profile(name)
        assert p.name == name and p.description
        res = simulate(p, ClusterSpec.from_new_cluster(p.baseline), seed=1)
        assert res.runtime_s > 0 and res.tasks > 0 and res.nodes[0].role == "driver"


def test_same_seed_same_result_and_noise_changes_it() -> None:
    a = simulate("etl_scaling", spec(), seed=5)
    b = simulate("etl_scaling", spec(), seed=5)
    c = simulate("etl_scaling", spec(), seed=6)
    assert a == b
    assert a.runtime_s != c.runtime_s


def test_run_to_run_noise_is_lognormal_with_documented_cv() -> None:
    runs = [simulate("etl_scaling", spec(), seed=s).runtime_s for s in range(300)]
    cv = statistics.pstdev(runs) / statistics.mean(runs)
    assert 0.04 < cv < 0.10  # profile noise_cv 0.07
    expected = simulate("etl_scaling", spec(), noise=False).runtime_s
    assert abs(statistics.mean(runs) / expected - 1) < 0.03


def test_oom_cliff_fails_below_memory_threshold_and_not_above() -> None:
    p = load_profile("memory_agg")
    threshold = p.task_memory_gb / p.oom_ratio  # unified memory per core below which tasks die
    catalog = load_catalog()
    below = above = 0
    for nt in catalog.node_types("aws"):
        facts = node_facts("aws", nt.name)
        for run_index in range(4):
            res = simulate(p, spec(nt.name, 6), run_index=run_index, seed=run_index)
            scaled = threshold * res.details["input_gb"] / p.input_gb
            if facts.memory_per_core_gb < scaled:
                below += 1
                assert not res.succeeded and res.failure_kind == "oom", nt.name
                assert "java.lang.OutOfMemoryError" in (res.failure_message or "")
            else:
                above += 1
                assert res.succeeded, nt.name
    assert below > 0 and above > 0


def test_spill_slows_memory_hungry_job_on_general_purpose_nodes() -> None:
    m5 = simulate("memory_agg", spec("m5.2xlarge", 8), noise=False)
    r5 = simulate("memory_agg", spec("r5.2xlarge", 8), noise=False)
    assert m5.succeeded and r5.succeeded
    assert m5.runtime_s > 1.2 * r5.runtime_s
    assert sum(s.memory_spilled_bytes for s in m5.stages) > 0
    assert sum(s.memory_spilled_bytes for s in r5.stages) == 0


def test_doubling_workers_barely_helps_the_driver_bound_job_but_helps_etl() -> None:
    def gain(profile: str, n: int) -> float:
        small = simulate(profile, spec(workers=n), noise=False).runtime_s
        big = simulate(profile, spec(workers=2 * n), noise=False).runtime_s
        return 1 - big / small

    assert gain("driver_bound", 8) < 0.05
    assert gain("etl_scaling", 8) > 0.35


def test_diminishing_returns_and_shuffle_cost_growing_with_workers() -> None:
    rt = {n: simulate("shuffle_join", spec("m5.2xlarge", n), noise=False).runtime_s for n in (4, 8, 32, 64)}
    assert rt[8] < 0.65 * rt[4]  # scales at small sizes
    assert rt[64] > 0.9 * rt[32]  # shuffle connections eat the gain at large sizes


def test_photon_speedup_is_job_specific() -> None:
    sql = simulate("photon_sql", spec("r5.2xlarge", 8), noise=False).runtime_s
    sql_ph = simulate("photon_sql", spec("r5.2xlarge", 8, photon=True), noise=False).runtime_s
    udf = simulate("cpu_udf", spec("c5.2xlarge", 8), noise=False).runtime_s
    udf_ph = simulate("cpu_udf", spec("c5.2xlarge", 8, photon=True), noise=False).runtime_s
    assert sql_ph < 0.5 * sql
    assert udf_ph > 0.95 * udf
    # ... and Photon costs about twice the DBUs per hour
    run = simulate("cpu_udf", spec("c5.2xlarge", 8, photon=True), noise=False)
    plain = simulate("cpu_udf", spec("c5.2xlarge", 8), noise=False)
    assert price(run).dbu_usd > 1.8 * price(plain).dbu_usd


def test_startup_dominates_the_small_job() -> None:
    res = simulate("small_startup", spec("m5.xlarge", 2), noise=False)
    assert res.startup_s > 2 * res.runtime_s


def test_input_drift_kinds() -> None:
    growing = load_profile("growing_data")
    assert growing.input_gb_at(70) == pytest.approx(growing.input_gb * 1.05**10)
    seasonal = load_profile("seasonal_reporting")
    sizes = [seasonal.input_gb_at(i) for i in range(30)]
    assert max(sizes) > 1.5 * seasonal.input_gb and min(sizes) < 0.5 * seasonal.input_gb
    assert seasonal.input_gb_at(7) == pytest.approx(seasonal.input_gb_at(37))
    rnd = load_profile("memory_agg")
    assert rnd.input_gb_at(3) == rnd.input_gb_at(3) != rnd.input_gb_at(4)
    early = simulate("growing_data", spec(), run_index=0, noise=False).runtime_s
    late = simulate("growing_data", spec(), run_index=140, noise=False).runtime_s
    assert late > 2 * early


def test_autoscaling_adds_workers_with_lag_and_bills_them() -> None:
    fixed2 = simulate("etl_scaling", spec(workers=2), noise=False)
    fixed12 = simulate("etl_scaling", spec(workers=12), noise=False)
    auto = simulate("etl_scaling", ClusterSpec("m5.2xlarge", autoscale_min=2, autoscale_max=12), noise=False)
    assert fixed12.runtime_s < auto.runtime_s < fixed2.runtime_s
    workers = [n for n in auto.nodes if n.role == "worker"]
    assert len(workers) == 12
    lag = load_profile("etl_scaling").autoscale_lag_s
    late = [n for n in workers if n.start_s > auto.app_start_s]
    assert len(late) == 10 and min(n.start_s for n in late) >= auto.app_start_s + lag * 0.5
    assert all(n.end_s >= auto.app_end_s for n in workers)  # still billed until termination


def test_spot_interruptions_lose_work_and_can_abort_and_on_demand_is_immune() -> None:
    results = [simulate("spot_long", spec("r5.4xlarge", 10, spot=True), seed=s) for s in range(40)]
    assert sum(r.spot_interruptions for r in results) > 10
    assert any(r.failure_kind == "spot" for r in results)
    assert any(r.succeeded for r in results)
    lost = [n for r in results for n in r.nodes if n.removed_reason == "spot_interruption"]
    assert lost and all(n.market == "spot" for n in lost)
    immune = [simulate("spot_long", spec("r5.4xlarge", 10, spot=True, first_on_demand=11), seed=s) for s in range(10)]
    assert all(r.spot_interruptions == 0 for r in immune)
    calm = simulate("spot_long", spec("r5.4xlarge", 10), noise=False).runtime_s
    risky = simulate("spot_long", spec("r5.4xlarge", 10, spot=True), noise=False)
    assert risky.runtime_s > calm and risky.details["spot_failure_probability"] > 0


def test_cluster_spec_from_databricks_new_cluster() -> None:
    s = ClusterSpec.from_new_cluster({
        "spark_version": "15.4.x-scala2.12", "node_type_id": "r5.xlarge", "autoscale": {"min_workers": 2, "max_workers": 8},
        "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 2}, "runtime_engine": "PHOTON",
    })
    assert (s.autoscale_min, s.autoscale_max, s.spot, s.first_on_demand, s.photon) == (2, 8, True, 2, True)
    assert ClusterSpec.from_new_cluster(s.to_new_cluster()) == s
    with pytest.raises(ClusterSpecError, match="node_type_id"):
        ClusterSpec.from_new_cluster({"num_workers": 2})
    with pytest.raises(ClusterSpecError, match="10000"):
        ClusterSpec("m5.xlarge", num_workers=20000)


def test_profiles_from_yaml_file_and_callable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "nightly.yaml"
    path.write_text("name: nightly\ninput_gb: 10\nserial_s: 30\nwork_core_s_per_gb: 100\n")
    assert load_profile(str(path)).input_gb == 10
    (tmp_path / "my_models.py").write_text(textwrap.dedent("""
        def job():
            return {"name": "custom_job", "input_gb": 5, "photon_speedup": 2.0}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    prof = load_profile("my_models:job")
    assert prof.name == "custom_job" and simulate(prof, spec(), noise=False).succeeded
    sys.modules.pop("my_models", None)
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "bad", "input_gbs": 3}')
    with pytest.raises(ProfileError, match="unknown keys"):
        load_profile(str(bad))
    with pytest.raises(ProfileError, match="unknown profile"):
        load_profile("no_such_profile")
    with pytest.raises(ProfileError, match="oom_ratio"):
        load_profile(str(_write(tmp_path / "x.json", '{"name": "x", "oom_ratio": 0.5}')))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _space(names: tuple[str, ...], max_workers: int = 16) -> SearchSpace:
    cat = load_catalog()
    nodes = []
    for n in names:
        t = cat.node_type("aws", n)
        nodes.append(NodeOption(n, t.family, t.vcpus, t.memory_gb, cat.hourly_usd("aws", "us-east-1", n),
                                t.dbu_per_hour, t.spot_discount))
    return SearchSpace("aws", "us-east-1", tuple(nodes), cat.dbu_rate_usd("aws", "Premium", "jobs"), 1, max_workers)


def test_oracle_is_the_cheapest_feasible_config() -> None:
    space = _space(("c5.2xlarge", "m5.2xlarge", "r5.2xlarge"), 12)
    sla = 40.0
    best = oracle("memory_agg", space, sla)
    spec_, cost, runtime = best
    assert runtime <= sla * 60 and spec_.node_type_id != "c5.2xlarge"  # c5 runs out of memory
    for cand in candidate_specs(space):
        r = simulate("memory_agg", cand, noise=False)
        if r.succeeded and r.runtime_s <= sla * 60 and r.details["spot_failure_probability"] <= 0.05:
            assert price(r).total_usd >= cost - 1e-9
    with pytest.raises(ValueError, match="no config"):
        oracle("spot_long", space, 1.0)
