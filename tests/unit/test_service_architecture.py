"""Issue 15 item 7 through the service: ``allow_arm`` is a stored project setting (default off) that reaches the
optimiser, and ``allowed_families`` without the baseline's family recommends within the allowed families
instead of failing with "baseline node type ... is not in the search space"."""

from __future__ import annotations

import pytest

from airflow_provider_gradient.core.pricing import ARM64, load_catalog
from airflow_provider_gradient.service import ConflictError, GradientService, RunIn

pytestmark = pytest.mark.sqlite_only

BASE = {"node_type_id": "m5.xlarge", "num_workers": 4, "spark_version": "15.4.x-scala2.12"}


def _record(svc: GradientService, pid: int, i: int, cluster: dict, runtime_s: float = 1800.0) -> None:
    svc.record_run(pid, RunIn(databricks_run_id=i, outcome="success", cluster_config=cluster, start_ms=i * 10**8,
                              end_ms=i * 10**8 + int(runtime_s * 1000)))


def test_allow_arm_is_a_setting_defaulting_to_off(svc: GradientService) -> None:
    p = svc.get_or_create_project("arch.setting", baseline_cluster=BASE)
    assert p.settings.allow_arm is False
    assert svc.update_settings(p.id, {"allow_arm": True}).settings.allow_arm is True
    assert svc.get_project(p.id).settings.allow_arm is True
    assert svc.update_settings(p.id, {"sla_minutes": 30}).settings.allow_arm is True  # partial update keeps it


def test_allowed_families_without_the_baseline_family(svc: GradientService) -> None:
    p = svc.get_or_create_project("arch.families", baseline_cluster=BASE, settings={"allowed_families": ["r5"]})
    cluster = BASE
    for i in range(5):
        _record(svc, p.id, i, cluster)
        rec = svc.generate_recommendation(p.id)
        assert rec.cluster["node_type_id"].startswith("r5."), (rec.cluster, rec.reason)
        cluster = rec.cluster


def test_arm_only_when_allowed(svc: GradientService) -> None:
    cat = load_catalog()
    p = svc.get_or_create_project("arch.arm", baseline_cluster=BASE, settings={"allowed_families": ["m6gd"]})
    _record(svc, p.id, 1, BASE)
    with pytest.raises(ConflictError, match="allow_arm"):
        svc.generate_recommendation(p.id)
    svc.update_settings(p.id, {"allow_arm": True})
    rec = svc.generate_recommendation(p.id)
    assert cat.node_type("aws", rec.cluster["node_type_id"]).arch == ARM64
