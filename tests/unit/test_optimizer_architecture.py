"""Issue 15 item 7: the optimiser keeps the baseline's CPU architecture unless ARM is allowed, and
``allowed_families`` may leave out the baseline's own family (its run is measured, it is never recommended)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_provider_gradient.core.optimizer import (
    ClusterShape,
    NodeOption,
    Observation,
    OptimizerError,
    OptimizerSettings,
    Recommendation,
    SearchSpace,
    recommend,
)
from airflow_provider_gradient.core.pricing import ARM64, X86_64, cpu_architecture, load_catalog

CAT = load_catalog()
NAMES = ("m5.xlarge", "m5.2xlarge", "r5.xlarge", "r5.2xlarge", "c5.xlarge", "m6gd.xlarge", "m6gd.2xlarge")
NODES = tuple(
    NodeOption(n, CAT.node_type("aws", n).family, CAT.node_type("aws", n).vcpus, CAT.node_type("aws", n).memory_gb,
               CAT.hourly_usd("aws", "us-east-1", n), CAT.node_type("aws", n).dbu_per_hour,
               CAT.node_type("aws", n).spot_discount)
    for n in NAMES
)
SPACE = SearchSpace(cloud="aws", region="us-east-1", node_types=NODES, dbu_usd=0.15, max_workers=32,
                    worker_counts=(1, 2, 3, 4, 6, 8, 12, 16), driver_billed=True)
VCPU = {n.name: n.vcpus for n in NODES}
BASE = ClusterShape("m5.xlarge", num_workers=4)


def job(shape: ClusterShape) -> float:
    """Scales well with cores, indifferent to memory: a cheaper-per-core family (Graviton) wins."""
    return 120.0 + 48_000.0 / (shape.effective_workers * VCPU[shape.node_type_id])


def drive(n: int, settings: OptimizerSettings, baseline: ClusterShape = BASE,
          runtime: Callable[[ClusterShape], float] = job) -> list[Recommendation]:
    hist: list[Observation] = []
    recs: list[Recommendation] = []
    shape = baseline
    for i in range(n):
        hist.append(Observation(shape=shape, runtime_s=runtime(shape), succeeded=True, started_ms=i))
        rec = recommend(SPACE, hist, settings, baseline)
        recs.append(rec)
        shape = rec.shape
    return recs


@pytest.mark.parametrize(
    ("name", "family", "arch"),
    [
        ("m6gd.xlarge", "m6gd", ARM64), ("c7gn.2xlarge", "", ARM64), ("r8g.large", "", ARM64),
        ("x2gd.xlarge", "", ARM64), ("im4gn.large", "", ARM64), ("a1.large", "", ARM64),
        ("g5g.xlarge", "", ARM64), ("m5.xlarge", "m5", X86_64), ("g4dn.xlarge", "", X86_64),
        ("m6a.large", "", X86_64), ("i3.xlarge", "", X86_64), ("m7i-flex.large", "", X86_64),
        ("Standard_D4ps_v5", "Dpsv5", ARM64), ("Standard_E8pds_v5", "", ARM64), ("Standard_D4ds_v5", "Ddsv5", X86_64),
        ("Standard_DS3_v2", "DSv2", X86_64), ("t2a-standard-4", "", ARM64), ("n2-standard-4", "", X86_64),
    ],
)
def test_cpu_architecture_from_the_name(name: str, family: str, arch: str) -> None:
    assert cpu_architecture(name, family) == arch


def test_catalog_and_node_options_know_the_architecture() -> None:
    assert CAT.node_type("aws", "m6gd.xlarge").arch == ARM64 and CAT.node_type("aws", "r5.xlarge").arch == X86_64
    assert {n.name for n in NODES if n.arch == ARM64} == {"m6gd.xlarge", "m6gd.2xlarge"}


def test_x86_baseline_never_gets_an_arm_recommendation_unless_allowed() -> None:
    kept = drive(10, OptimizerSettings(sla_minutes=30))
    assert all(r.shape.node_type_id in VCPU and not r.shape.node_type_id.startswith("m6gd") for r in kept), \
        [r.shape.node_type_id for r in kept]
    # the guard matters: with ARM allowed this job goes to Graviton (cheaper per core)
    allowed = drive(10, OptimizerSettings(sla_minutes=30, allow_arm=True))
    assert any(r.shape.node_type_id.startswith("m6gd") for r in allowed), [r.shape.node_type_id for r in allowed]


def test_arm_baseline_stays_on_arm() -> None:
    base = ClusterShape("m6gd.xlarge", num_workers=4)
    recs = drive(8, OptimizerSettings(sla_minutes=30), baseline=base)
    assert all(r.shape.node_type_id.startswith("m6gd") for r in recs), [r.shape.node_type_id for r in recs]


def test_allowed_families_without_the_baselines_family() -> None:
    """``--allowed-families r5`` on an m5 baseline: run 1 (the baseline) is measured, every later
    recommendation is r5 (the baseline's family is never recommended again)."""
    settings = OptimizerSettings(sla_minutes=30, allowed_families=("r5",))
    first = recommend(SPACE, [], settings, BASE)
    assert first.shape == BASE  # learning run 1 measures today's cluster
    recs = drive(10, settings)
    assert [r.shape.node_type_id.split(".")[0] for r in recs] == ["r5"] * 10, [r.reason for r in recs]


def test_an_arm_only_family_on_an_x86_baseline_is_a_named_error() -> None:
    with pytest.raises(OptimizerError, match="allow_arm"):
        recommend(SPACE, [], OptimizerSettings(allowed_families=("m6gd",)), BASE)
    rec = recommend(SPACE, [Observation(shape=BASE, runtime_s=600, succeeded=True)],
                    OptimizerSettings(allowed_families=("m6gd",), allow_arm=True), BASE)
    assert rec.shape.node_type_id.startswith("m6gd")
