"""Issue 15 items 8, 10, 11 end to end through dag.test() and the emulator.

* 8: the no-code path (cluster policy + listener) creates projects with auto-apply OFF: the recommendation
  waits for Apply (co-pilot) and the next run keeps the user's cluster; ``[gradient] default_auto_apply``
  turns it on deployment-wide.
* 10: Gradient's settings never reach the Databricks job: the hook takes them through ``functools.partial``,
  ``gradient_*`` params are stripped from ``base_parameters`` (hook and operator).
* 11: an OOM run's stored failure message carries the evidence and where it was found.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_gradient.core.payload import TAG_PROJECT_ID, TAG_RECOMMENDATION_ID

pytestmark = pytest.mark.slow

LEGACY_PARAMS_DAG = '''
import pendulum
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.sdk import DAG
from airflow_provider_gradient.operators.pre_execute import gradient_pre_execute_hook

with DAG("it_legacy_params", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
         params={"profile": "small_startup", "gradient_sla_minutes": 120, "gradient_auto_apply": True,
                 "gradient_app_id": "legacy.app"}):
    DatabricksSubmitRunOperator(
        task_id="etl",
        new_cluster={"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 4},
        notebook_task={"notebook_path": "/Shared/jobs/{{ params.profile }}"},
        polling_period_seconds=1,
        pre_execute=gradient_pre_execute_hook,
    )
'''

@pytest.fixture
def onboard_tagged(monkeypatch: pytest.MonkeyPatch) -> Any:
    from airflow.configuration import conf

    monkeypatch.setenv("AIRFLOW__GRADIENT__ONBOARD", "tagged")
    conf.set("gradient", "onboard", "tagged")
    yield
    conf.set("gradient", "onboard", "none")


def _run_twice(one_task_dag: Any, submits: Any, dag_id: str) -> list[dict[str, Any]]:
    """Two runs of an untouched DatabricksSubmitRunOperator in a DAG tagged ``gradient`` (no-code path)."""
    dag = one_task_dag(dag_id, {"node_type_id": "m5.xlarge", "num_workers": 4}, operator="submit",
                       dag_args={"tags": ["gradient"]})
    before = len(submits())
    assert dag.test().state == "success"
    assert dag.test().state == "success"
    bodies = submits()[before:]
    assert len(bodies) == 2
    return bodies


def test_no_code_onboarding_defaults_to_copilot(
    one_task_dag: Any, submits: Any, gradient_store: Any, onboard_tagged: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    bodies = _run_twice(one_task_dag, submits, "it_copilot_default")
    project = gradient_store.get_project("it_copilot_default.etl")
    assert project.settings.auto_apply is False
    rec = gradient_store.latest_recommendation(project.id)
    assert rec is not None and rec.state == "ready"  # shown, waiting for Apply
    # the second run kept the user's cluster: nothing was applied behind the user's back
    second = bodies[1]["new_cluster"]
    assert second["custom_tags"][TAG_PROJECT_ID] == str(project.id)
    assert second["custom_tags"][TAG_RECOMMENDATION_ID] == "none"
    assert (second["node_type_id"], str(second["num_workers"])) == ("m5.xlarge", "4")
    assert all(r.recommendation_id is None for r in gradient_store.list_runs(project.id))


def test_default_auto_apply_turns_it_on_deployment_wide(
    one_task_dag: Any, submits: Any, gradient_store: Any, onboard_tagged: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.configuration import conf

    monkeypatch.setenv("AIRFLOW__GRADIENT__DEFAULT_AUTO_APPLY", "True")
    conf.set("gradient", "default_auto_apply", "True")
    try:
        bodies = _run_twice(one_task_dag, submits, "it_copilot_on")
    finally:
        conf.remove_option("gradient", "default_auto_apply")
    project = gradient_store.get_project("it_copilot_on.etl")
    assert project.settings.auto_apply is True
    runs = sorted(gradient_store.list_runs(project.id), key=lambda r: r.databricks_run_id)
    assert runs[1].recommendation_id is not None
    assert bodies[1]["new_cluster"]["custom_tags"][TAG_RECOMMENDATION_ID] == str(runs[1].recommendation_id)


def test_provider_declares_default_auto_apply_off() -> None:
    from airflow_provider_gradient import get_provider_info

    option = get_provider_info()["config"]["gradient"]["options"]["default_auto_apply"]
    assert option["default"] == "False" and "Apply" in option["description"]


def test_hook_settings_by_partial_never_reach_the_job(dag_files: Any, submits: Any, gradient_store: Any) -> None:
    dag = dag_files.load("example_gradient_pre_execute", dag_files.home["dags"] / "example_gradient_pre_execute.py")
    before = len(submits())
    assert dag.test(run_conf={"profile": "small_startup"}).state == "success"
    bodies = submits()[before:]
    assert len(bodies) == 1
    assert bodies[0]["notebook_task"]["base_parameters"] == {"profile": "small_startup"}
    project = gradient_store.get_project("example_gradient_pre_execute.nightly_etl")
    assert project.settings.sla_minutes == 90 and project.settings.auto_apply is True
    assert len(gradient_store.list_runs(project.id)) == 1  # the listener still recorded it


def test_legacy_gradient_params_are_honoured_and_stripped(
    dag_files: Any, submits: Any, gradient_store: Any
) -> None:
    dag = dag_files.load("it_legacy_params", dag_files.write("it_legacy_params.py", LEGACY_PARAMS_DAG))
    before = len(submits())
    assert dag.test().state == "success"
    bodies = submits()[before:]
    assert bodies[0]["notebook_task"]["base_parameters"] == {"profile": "small_startup"}
    project = gradient_store.get_project("legacy.app")
    assert project.settings.sla_minutes == 120 and project.settings.auto_apply is True
    assert len(gradient_store.list_runs(project.id)) == 1  # recorded under the param's app id


def test_operator_gradient_params_never_reach_the_job(dag_files: Any, submits: Any, gradient_store: Any) -> None:
    dag = dag_files.load("example_gradient_operator", dag_files.home["dags"] / "example_gradient_operator.py")
    before = len(submits())
    assert dag.test(run_conf={"profile": "small_startup", "gradient_sla_minutes": 45}).state == "success"
    bodies = submits()[before:]
    assert bodies[0]["notebook_task"]["base_parameters"] == {"profile": "small_startup"}
    project = gradient_store.get_project("example_gradient_operator.nightly_etl")
    assert project.settings.sla_minutes == 45 and project.settings.auto_apply is True


def test_oom_failure_message_carries_the_evidence(one_task_dag: Any, gradient_store: Any) -> None:
    dag = one_task_dag("it_oom_evidence", {"node_type_id": "c5.xlarge", "num_workers": 4}, task_id="agg",
                       notebook="memory_agg", gradient_auto_apply=True)
    dag.test()
    project = gradient_store.get_project("it_oom_evidence.agg")
    (run,) = gradient_store.list_runs(project.id)
    assert run.outcome == "oom"
    message = run.failure_message or ""
    assert "OutOfMemoryError" in message, message
    assert "found in the Spark event log" in message or "found in the Databricks run state" in message, message
    assert not message.startswith("Workload failed"), message
