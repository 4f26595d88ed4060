"""Service: projects (get-or-create, lookups, settings validation, delete, reset). SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from airflow_provider_gradient.service import (
    GradientService,
    GradientValidationError,
    NotFoundError,
    Project,
    ProjectSettings,
    ProjectSettingsIn,
    RecommendationIn,
    RunIn,
)


def test_get_or_create_returns_same_project(svc: GradientService) -> None:
    p1 = svc.get_or_create_project(
        "etl.load",
        name="Nightly load",
        workspace={
            "name": "prod",
            "host": "https://dbc-1.cloud.databricks.com",
            "cloud": "aws",
            "region": "us-west-2",
        },
        settings=ProjectSettingsIn(sla_minutes=45, auto_apply=False),
        baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 8},
        dag_id="etl",
        task_id="load",
    )
    assert isinstance(p1, Project)
    assert p1.app_id == "etl.load" and p1.name == "Nightly load"
    assert p1.region == "us-west-2" and p1.cloud == "aws"  # from the workspace
    assert p1.settings.sla_minutes == 45 and p1.settings.auto_apply is False
    assert p1.phase == "learning" and p1.dag_id == "etl"
    p2 = svc.get_or_create_project("etl.load", name="ignored for an existing project")
    assert p2 == p1
    assert svc.get_project(p1.id) == p1
    assert svc.get_project("etl.load") == p1
    assert svc.get_project(str(p1.id)) == p1
    assert [p.id for p in svc.list_projects()] == [p1.id]


def test_existing_project_gets_missing_baseline_filled(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    assert p.baseline_cluster is None and p.dag_id is None
    p2 = svc.get_or_create_project(
        "a.b", baseline_cluster={"node_type_id": "i3.xlarge", "num_workers": 1}, dag_id="a"
    )
    assert p2.baseline_cluster == {"node_type_id": "i3.xlarge", "num_workers": 1} and p2.dag_id == "a"
    # never overwritten afterwards
    p3 = svc.get_or_create_project(
        "a.b", baseline_cluster={"node_type_id": "other", "num_workers": 9}, dag_id="z"
    )
    assert p3.baseline_cluster == p2.baseline_cluster and p3.dag_id == "a"


def test_defaults_from_constructor(store_url: str) -> None:
    svc = GradientService.from_url(
        store_url,
        default_settings=ProjectSettings(sla_minutes=60, learning_runs=3),
        default_cloud="azure",
        default_region="eastus",
        default_plan_type="Enterprise",
    )
    p = svc.get_or_create_project("x.y", settings={"auto_apply": False})
    assert (p.cloud, p.region, p.plan_type) == ("azure", "eastus", "Enterprise")
    assert p.settings.sla_minutes == 60 and p.settings.learning_runs == 3 and p.settings.auto_apply is False


def test_not_found(svc: GradientService) -> None:
    with pytest.raises(NotFoundError):
        svc.get_project("nope")
    with pytest.raises(NotFoundError):
        svc.get_project(12345)
    assert svc.find_project("nope") is None
    with pytest.raises(NotFoundError):
        svc.update_settings("nope", {"sla_minutes": 5})
    with pytest.raises(NotFoundError):
        svc.delete_project("nope")


def test_update_settings(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b", settings={"sla_minutes": 30})
    p2 = svc.update_settings(p.id, ProjectSettingsIn(max_workers=16, allowed_families=("r5", "m5")))
    assert p2.settings.max_workers == 16 and p2.settings.allowed_families == ("r5", "m5")
    assert p2.settings.sla_minutes == 30  # untouched
    p3 = svc.update_settings("a.b", {"sla_minutes": None, "window_start": "22:00", "window_end": "06:00"})
    assert p3.settings.sla_minutes is None and p3.settings.window_start == "22:00"
    assert p3.updated_ms >= p.updated_ms
    assert svc.get_project(p.id) == p3


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"sla_minutes": -5}, "sla_minutes"),
        ({"sla_minutes": 0}, "sla_minutes"),
        ({"max_workers": 0}, "max_workers"),
        ({"max_workers": 10_001}, "max_workers"),
        ({"learning_runs": 0}, "learning_runs"),
        ({"window_start": "25:00", "window_end": "01:00"}, "window_start"),
        ({"allowed_families": ["r5", ""]}, "allowed_families"),
        ({"unknown_setting": 1}, "unknown_setting"),
    ],
)
def test_invalid_settings_are_typed_errors(svc: GradientService, patch: dict, field: str) -> None:
    p = svc.get_or_create_project("a.b", settings={"sla_minutes": 30, "max_workers": 8})
    with pytest.raises(GradientValidationError) as ei:
        svc.update_settings(p.id, patch)
    assert any(field in err["loc"] for err in ei.value.errors), ei.value.errors
    assert svc.get_project(p.id) == p  # unchanged


def test_window_needs_both_ends(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    with pytest.raises(GradientValidationError, match="window_start and window_end"):
        svc.update_settings(p.id, {"window_start": "01:00"})


def test_max_workers_bounds_accepted(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    assert svc.update_settings(p.id, {"max_workers": 1}).settings.max_workers == 1
    assert svc.update_settings(p.id, {"max_workers": 10_000}).settings.max_workers == 10_000


def test_invalid_settings_at_creation(svc: GradientService) -> None:
    with pytest.raises(GradientValidationError):
        svc.get_or_create_project("a.b", settings={"sla_minutes": -1})
    assert svc.find_project("a.b") is None


def test_delete_cascades(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    other = svc.get_or_create_project("c.d")
    for i in range(3):
        svc.record_run(p.id, RunIn(databricks_run_id=i, outcome="success"))
        svc.record_run(other.id, RunIn(databricks_run_id=i, outcome="success"))
    svc.store_recommendation(p.id, RecommendationIn(cluster={}, phase="learning"))
    svc.delete_project("a.b")
    assert svc.find_project(p.id) is None
    with pytest.raises(NotFoundError):
        svc.list_runs(p.id)
    assert len(svc.list_runs(other.id)) == 3
    # the app id can be used again
    assert svc.get_or_create_project("a.b").id != p.id


def test_reset(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b", settings={"sla_minutes": 10})
    svc.record_run(p.id, RunIn(databricks_run_id=1, outcome="success", start_ms=5))
    svc.store_recommendation(p.id, RecommendationIn(cluster={}, phase="optimizing"))
    assert svc.get_project(p.id).phase == "optimizing"
    p2 = svc.reset_project(p.id)
    assert p2.phase == "learning" and p2.last_run_ms is None
    assert p2.settings.sla_minutes == 10
    assert svc.list_runs(p.id) == [] and svc.latest_recommendation(p.id, state=None) is None


def test_update_project(svc: GradientService) -> None:
    p = svc.get_or_create_project("a.b")
    p2 = svc.update_project(
        p.id,
        name="New name",
        baseline_cluster={
            "node_type_id": "m5.large",
            "num_workers": 2,
            "spark_conf": {"spark.my.token": "x"},
        },
    )
    assert p2.name == "New name"
    assert p2.baseline_cluster["spark_conf"]["spark.my.token"] == "*********(redacted)"


def test_workspaces(svc: GradientService) -> None:
    w1 = svc.get_or_create_workspace(
        {"name": "prod", "host": "https://h", "cloud": "azure", "region": "eastus"}
    )
    w2 = svc.get_or_create_workspace({"name": "prod"})
    assert w1 == w2 and w1.cloud == "azure"
    assert svc.list_workspaces() == [w1]
    with pytest.raises(GradientValidationError):
        svc.get_or_create_workspace({"name": "x", "cloud": "oracle"})
