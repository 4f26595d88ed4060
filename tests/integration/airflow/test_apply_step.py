"""The apply step on real operator objects and a real store (no DAG run): named args win over json, the
merge lands in the attribute the operator submits, a second call (deferrable mode) is a no-op, and the
run-now hook sends only the changed cluster entries."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest

from airflow_provider_gradient.core.payload import TAG_RECOMMENDATION_ID
from airflow_provider_gradient.operators.run_now import cluster_update
from airflow_provider_gradient.operators.steps import STATE_ATTR, guarded_apply

pytestmark = pytest.mark.sqlite_only

USER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 4}
REC = {"node_type_id": "r5.xlarge", "driver_node_type_id": "r5.xlarge", "num_workers": 6}


def _operator(**kwargs: Any) -> Any:
    from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
    from airflow.sdk import DAG

    with DAG("it_apply", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC")):
        return DatabricksSubmitRunOperator(task_id="t", **kwargs)


def test_named_new_cluster_wins_and_second_call_is_noop(svc: Any) -> None:
    project = svc.get_or_create_project("it_apply.t")
    rec = svc.store_recommendation(project.id, {"cluster": REC, "phase": "learning", "reason": "it"})
    json_cluster = {**USER, "num_workers": 99}
    task = _operator(json={"new_cluster": json_cluster, "notebook_task": {"notebook_path": "/n"}}, new_cluster=dict(USER))
    calls = []

    def factory(_task: Any) -> Any:
        calls.append(1)
        return svc

    state = guarded_apply(task, {"params": {}}, client_factory=factory)
    assert state.fail_open_reason is None and state.clusters["new_cluster"].recommendation_id == rec.id
    assert task.new_cluster["node_type_id"] == "r5.xlarge" and task.new_cluster["num_workers"] == 6
    assert task.new_cluster["custom_tags"][TAG_RECOMMENDATION_ID] == str(rec.id)
    assert task.json["new_cluster"] == json_cluster  # json untouched: the named arg is what gets submitted
    merged = task._get_merged_json()
    assert merged["new_cluster"] == task.new_cluster
    before = dict(task.new_cluster)
    again = guarded_apply(task, {"params": {}}, client_factory=factory)
    assert again is getattr(task, STATE_ATTR) and task.new_cluster == before and len(calls) == 1
    assert len(svc.list_projects()) == 1


def test_tasks_named_arg_and_json_job_clusters(svc: Any) -> None:
    tasks = [{"task_key": "a", "new_cluster": dict(USER), "notebook_task": {"notebook_path": "/a"}},
             {"task_key": "b", "job_cluster_key": "shared", "notebook_task": {"notebook_path": "/b"}}]
    task = _operator(json={"job_clusters": [{"job_cluster_key": "shared", "new_cluster": dict(USER)}]}, tasks=tasks)
    state = guarded_apply(task, {"params": {"gradient_app_id": "custom"}}, client_factory=lambda _t: svc)
    assert set(state.clusters) == {"tasks/a", "job_clusters/shared"}
    assert {p.app_id for p in svc.list_projects()} == {"custom.a", "custom.shared"}
    assert task.tasks[0]["new_cluster"]["custom_tags"]["gradient:app-id"] == "custom.a"
    assert task.json["job_clusters"][0]["new_cluster"]["custom_tags"]["gradient:app-id"] == "custom.shared"
    assert tasks[0]["new_cluster"] == USER  # the caller's objects are not mutated


def test_bad_payload_fails_open_with_reason(svc: Any) -> None:
    task = _operator(json={"tasks": "not-a-list"})
    state = guarded_apply(task, {"params": {}}, client_factory=lambda _t: svc)
    assert state.fail_open_reason and "'tasks' must be a list" in state.fail_open_reason
    assert task.json == {"tasks": "not-a-list"}


def test_cluster_update_sends_only_changed_entries() -> None:
    settings = {"job_clusters": [{"job_cluster_key": "a", "new_cluster": USER}, {"job_cluster_key": "b", "new_cluster": USER}],
                "tasks": [{"task_key": "t", "job_cluster_key": "a"}]}
    merged = {"job_clusters": [{"job_cluster_key": "a", "new_cluster": {**USER, "num_workers": 2}},
                               {"job_cluster_key": "b", "new_cluster": USER}],
              "tasks": [{"task_key": "t", "job_cluster_key": "a"}]}
    assert cluster_update(settings, merged) == {"job_clusters": [merged["job_clusters"][0]]}
    assert cluster_update(settings, settings) == {}


def test_a_cluster_the_store_refuses_fails_open_without_echoing_it(svc: Any, caplog: pytest.LogCaptureFixture) -> None:
    """A task whose own cluster is not valid (negative workers) runs unchanged; the warning in the task log
    names the field but never repeats the cluster, whose last environment variable is a password (pydantic's
    own message quotes the start and the end of the value it refused)."""
    secret = "Zq8vS3cr3tV4lue"
    cluster = {**USER, "num_workers": -1, "spark_env_vars": {"PYSPARK_PYTHON": "/databricks/python3/bin/python3",
                                                              "DB_PASSWORD": secret}}
    task = _operator(json={"new_cluster": cluster, "notebook_task": {"notebook_path": "/n"}})
    with caplog.at_level("WARNING"):
        state = guarded_apply(task, {"params": {}}, client_factory=lambda _t: svc)
    assert state.fail_open_reason and "num_workers" in state.fail_open_reason, state.fail_open_reason
    assert secret not in state.fail_open_reason and secret not in caplog.text, caplog.text
    assert task.json["new_cluster"] == cluster  # the task runs its own cluster, untouched
