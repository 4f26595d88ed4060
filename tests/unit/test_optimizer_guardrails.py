"""Guardrails of the optimiser: memory, fallback, step cap, scaling type, spot, learning design."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from airflow_provider_gradient.core.optimizer import (
    ClusterShape,
    NodeOption,
    Observation,
    OptimizerSettings,
    Recommendation,
    SearchSpace,
    recommend,
)

NODES = (
    NodeOption("c5.xlarge", "c5", 4, 8.0, 0.17, 0.61, 0.6),
    NodeOption("m5.xlarge", "m5", 4, 16.0, 0.192, 0.69, 0.6),
    NodeOption("r5.xlarge", "r5", 4, 32.0, 0.252, 0.9, 0.6),
    NodeOption("m5.2xlarge", "m5", 8, 32.0, 0.384, 1.37, 0.6),
)
MEM = {n.name: n.memory_gb for n in NODES}
VCPU = {n.name: n.vcpus for n in NODES}
SPACE = SearchSpace(cloud="aws", region="us-east-1", node_types=NODES, dbu_usd=0.15, max_workers=32,
                    worker_counts=(2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 32))
BASE = ClusterShape("m5.xlarge", num_workers=8)


def job(shape: ClusterShape) -> tuple[float, bool]:
    """A job that scales as 1/cores and needs 64 GB and 3 GB per core (else OOM)."""
    w = shape.effective_workers
    cores = w * VCPU[shape.node_type_id]
    ok = MEM[shape.node_type_id] * w >= 64 and MEM[shape.node_type_id] / VCPU[shape.node_type_id] >= 3
    return 60.0 + 96000.0 / cores, ok


def drive(n: int, settings: OptimizerSettings, runtime: Callable[[ClusterShape], tuple[float, bool]] = job,
          baseline: ClusterShape = BASE, space: SearchSpace = SPACE) -> tuple[list[Observation], list[Recommendation]]:
    hist: list[Observation] = []
    recs: list[Recommendation] = []
    shape = baseline
    for i in range(n):
        t, ok = runtime(shape)
        hist.append(Observation(shape=shape, runtime_s=t if ok else t * 0.4, succeeded=ok,
                                failure_kind=None if ok else "oom", started_ms=i))
        rec = recommend(space, hist, settings, baseline)
        recs.append(rec)
        shape = rec.shape
    return hist, recs


def _mem(shape: ClusterShape) -> tuple[float, float]:
    return MEM[shape.node_type_id] / VCPU[shape.node_type_id], MEM[shape.node_type_id] * shape.effective_workers


def test_never_recommends_a_memory_failed_shape_or_smaller_neighbour() -> None:
    hist, recs = drive(12, OptimizerSettings(sla_minutes=60))
    failed = [o.shape for o in hist if o.failure_kind == "oom"]
    assert failed, "the scenario must produce at least one memory failure"
    for f in failed:
        fm = _mem(f)
        later = [r.shape for r in recs[[o.shape for o in hist].index(f):]]
        for s in later:
            m = _mem(s)
            assert not (m[0] <= fm[0] and m[1] <= fm[1]), f"recommended {s} after {f} ran out of memory"
    # and the run sequence itself never repeats a memory failure
    ooms = [o for o in hist if o.failure_kind == "oom"]
    assert len(ooms) == len({(o.shape.node_type_id, o.shape.num_workers) for o in ooms})


def test_oom_shape_banned_even_when_predicted_cheapest() -> None:
    small = ClusterShape("m5.xlarge", num_workers=2)
    hist = [Observation(BASE, 1000.0, True), Observation(small, 400.0, False, "oom")]
    for _k in range(2, 10):
        hist.append(Observation(ClusterShape("m5.xlarge", num_workers=8), 1000.0, True))
        rec = recommend(SPACE, hist, OptimizerSettings(sla_minutes=120), BASE)
        m = _mem(rec.shape)
        assert not (m[0] <= 4 and m[1] <= 32), rec.shape
    assert "out of memory" in rec.reason


def test_oom_makes_bigger_nodes_of_as_little_memory_per_core_risky() -> None:
    """A task gets about its node's memory per core: after 8×c5.xlarge (2 GB per core) ran out of memory, 8×c5.4xlarge
    (four times the total memory, still 2 GB per core) is no safe recommendation, while m5 (4 GB per core) is."""
    from airflow_provider_gradient.core.optimizer.memory import OOM_NEIGHBOUR_RISK, memory_risk
    from airflow_provider_gradient.core.optimizer.space import build_candidates

    nodes = NODES + (NodeOption("c5.4xlarge", "c5", 16, 32.0, 0.68, 2.43, 0.6),)
    space = dataclasses.replace(SPACE, node_types=nodes)
    base = ClusterShape("m5.xlarge", num_workers=8)
    hist = [Observation(base, 1000.0, True, started_ms=0),
            Observation(ClusterShape("c5.xlarge", num_workers=8), 300.0, False, "oom", started_ms=1)]
    cands = build_candidates(space, OptimizerSettings(sla_minutes=60), base)
    risk = memory_risk(cands, hist, space)
    big_c5 = cands.index_of("c5.4xlarge", 8)
    m5 = cands.index_of("m5.xlarge", 6)
    assert big_c5 is not None and m5 is not None
    assert not risk.banned[big_c5], "not dominated: more total memory"
    assert risk.p_fail[big_c5] >= OOM_NEIGHBOUR_RISK
    assert risk.p_fail[m5] < 0.12
    # a success at 2 GB per core (e.g. a smaller input) says a task fits there: bigger c5 nodes are fine again
    ok_c5 = hist + [Observation(ClusterShape("c5.4xlarge", num_workers=4), 900.0, True, started_ms=2)]
    risk2 = memory_risk(cands, ok_c5, space)
    big_c5_16 = cands.index_of("c5.4xlarge", 16)
    assert big_c5_16 is not None and risk2.p_fail[big_c5_16] < 0.12


def test_falls_back_toward_last_good_shape_after_sla_miss() -> None:
    good = ClusterShape("m5.xlarge", num_workers=8)
    bad = ClusterShape("m5.xlarge", num_workers=6)
    hist = [Observation(good, 1000.0, True, started_ms=0), Observation(ClusterShape("m5.xlarge", num_workers=16), 560.0,
            True, started_ms=1), Observation(ClusterShape("m5.xlarge", num_workers=4), 1900.0, True, started_ms=2),
            Observation(ClusterShape("r5.xlarge", num_workers=8), 990.0, True, started_ms=3),
            Observation(bad, 1300.0, True, started_ms=4)]
    rec = recommend(SPACE, hist, OptimizerSettings(sla_minutes=1050 / 60), BASE)
    assert rec.phase == "optimizing"
    assert "falling back toward" in rec.reason
    assert rec.shape.effective_workers >= 8 or rec.shape.node_type_id != "m5.xlarge"
    assert rec.predicted_runtime_s is not None and rec.predicted_runtime_s <= 1050


def test_step_cap_limits_each_change() -> None:
    settings = OptimizerSettings(sla_minutes=5, max_change_factor=2.0)
    hist, recs = drive(10, settings)
    prev = [o.shape for o in hist]
    for before, rec in zip(prev, recs, strict=True):
        wb = before.effective_workers * VCPU[before.node_type_id]
        wa = rec.shape.effective_workers * VCPU[rec.shape.node_type_id]
        best_seen = max(o.shape.effective_workers * VCPU[o.shape.node_type_id] for o in hist)
        # never more than factor² above anything measured, and learning steps within the factor of the baseline
        assert wa <= best_seen * 4 + 1e-9, (before, rec.shape)
        del wb
    for rec in recs[:3]:
        cores = rec.shape.effective_workers * VCPU[rec.shape.node_type_id]
        assert 16 <= cores <= 64, rec.shape


def test_maintains_autoscale_and_fixed_scaling_types() -> None:
    auto = ClusterShape("m5.xlarge", autoscale_min=2, autoscale_max=8)
    _, recs = drive(6, OptimizerSettings(sla_minutes=30), baseline=auto)
    assert all(r.shape.is_autoscale for r in recs)
    assert all("autoscale" in r.cluster and "num_workers" not in r.cluster for r in recs)
    _, recs = drive(6, OptimizerSettings(sla_minutes=30))
    assert not any(r.shape.is_autoscale for r in recs)
    _, recs = drive(3, OptimizerSettings(sla_minutes=30, maintain_scaling_type=False), baseline=auto)
    assert not any(r.shape.is_autoscale for r in recs)


def test_spot_only_when_the_job_tolerates_it() -> None:
    spot_base = ClusterShape("m5.xlarge", num_workers=8, spot=True)
    _, recs = drive(5, OptimizerSettings(sla_minutes=30), baseline=spot_base)
    assert recs[-1].shape.spot, "short job on spot stays on spot"
    assert recs[-1].cluster["aws_attributes"]["availability"] == "SPOT_WITH_FALLBACK"
    _, recs = drive(5, OptimizerSettings(sla_minutes=30, force_on_demand=True), baseline=spot_base)
    assert not any(r.shape.spot for r in recs)
    # spot interruptions -> on-demand
    hist = [Observation(spot_base, 900.0, True), Observation(spot_base, 400.0, False, "spot")]
    rec = recommend(SPACE, hist, OptimizerSettings(sla_minutes=30), spot_base)
    assert not rec.shape.spot
    # long job (> 1 h predicted) -> on-demand
    def slow(shape: ClusterShape) -> tuple[float, bool]:
        t, ok = job(shape)
        return t * 6, ok
    _, recs = drive(5, OptimizerSettings(sla_minutes=600), runtime=slow, baseline=spot_base)
    assert not recs[-1].shape.spot
    # a space that forbids spot
    no_spot = dataclasses.replace(SPACE, allow_spot=False)
    _, recs = drive(3, OptimizerSettings(sla_minutes=30), baseline=spot_base, space=no_spot)
    assert not any(r.shape.spot for r in recs)


def test_learning_design_is_small_and_near_the_baseline() -> None:
    settings = OptimizerSettings(sla_minutes=30, learning_runs=4)
    hist, recs = drive(5, settings)
    assert [r.phase for r in recs[:3]] == ["learning"] * 3
    assert [r.learning_iteration for r in recs[:3]] == [2, 3, 4]
    assert recs[3].phase == "optimizing"
    shapes = {(o.shape.node_type_id, o.shape.num_workers) for o in hist[:4]}
    assert len(shapes) == 4, "learning runs are distinct experiments"
    assert ("m5.xlarge", 16) in shapes or ("m5.xlarge", 4) in shapes, "one run measures scaling"


def test_allowed_families_and_fixed_instance_size() -> None:
    _, recs = drive(8, OptimizerSettings(sla_minutes=30, allowed_families=("m5",)))
    assert {r.shape.node_type_id for r in recs} <= {"m5.xlarge", "m5.2xlarge"}
    _, recs = drive(8, OptimizerSettings(sla_minutes=30, optimize_instance_size=False))
    assert {r.shape.node_type_id for r in recs} == {"m5.xlarge"}


def test_max_workers_setting_is_respected() -> None:
    _, recs = drive(8, OptimizerSettings(sla_minutes=5, max_workers=10))
    assert all(r.shape.effective_workers <= 10 for r in recs)


@pytest.mark.parametrize("bad", [dict(max_change_factor=0.5), dict(learning_runs=0), dict(sla_confidence=1.5)])
def test_bad_settings_raise(bad: dict[str, float]) -> None:
    from airflow_provider_gradient.core.optimizer import OptimizerError

    with pytest.raises(OptimizerError):
        OptimizerSettings(**bad)  # type: ignore[arg-type]
