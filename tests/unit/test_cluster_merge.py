"""Merging recommendations into Databricks submit payloads."""

from __future__ import annotations

import copy
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_gradient.core.cluster_merge import (
    ClusterPatch,
    apply_patches,
    gradient_tags,
    log_conf_for,
    merge_cluster,
    sanitize_tag_value,
)
from airflow_provider_gradient.core.payload import (
    TAG_APP_ID,
    TAG_PROJECT_ID,
    TAG_RECOMMENDATION_ID,
    ClusterMergeError,
    cluster_keys,
    find_clusters,
    log_destination,
)

USER = {
    "spark_version": "15.4.x-scala2.12",
    "node_type_id": "m5.xlarge",
    "autoscale": {"min_workers": 2, "max_workers": 8},
    "custom_tags": {"team": "data"},
    "init_scripts": [{"workspace": {"destination": "/init/a.sh"}}],
    "aws_attributes": {"availability": "ON_DEMAND", "zone_id": "us-east-1a"},
    "spark_conf": {"spark.sql.shuffle.partitions": "200"},
}
REC = {
    "node_type_id": "r5.2xlarge",
    "driver_node_type_id": "r5.xlarge",
    "num_workers": 5,
    "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1},
    "init_scripts": [{"workspace": {"destination": "/init/a.sh"}}, {"volumes": {"destination": "/V/b.sh"}}],
}


def test_merge_replaces_autoscale_with_num_workers_and_keeps_user_fields() -> None:
    out = merge_cluster(USER, REC, tags=gradient_tags(7, "d.t", 3), cluster_log_url="dbfs:/logs/7")
    assert out["num_workers"] == 5 and "autoscale" not in out
    assert out["node_type_id"] == "r5.2xlarge" and out["driver_node_type_id"] == "r5.xlarge"
    assert out["aws_attributes"] == {"availability": "SPOT_WITH_FALLBACK", "zone_id": "us-east-1a", "first_on_demand": 1}
    assert out["spark_version"] == USER["spark_version"] and out["spark_conf"] == USER["spark_conf"]
    assert out["custom_tags"] == {"team": "data", TAG_PROJECT_ID: "7", TAG_APP_ID: "d.t", TAG_RECOMMENDATION_ID: "3"}
    assert out["init_scripts"] == REC["init_scripts"]
    assert out["cluster_log_conf"] == {"dbfs": {"destination": "dbfs:/logs/7"}}
    assert USER["autoscale"] == {"min_workers": 2, "max_workers": 8}  # input untouched


def test_merge_num_workers_to_autoscale() -> None:
    out = merge_cluster({"num_workers": 3, "node_type_id": "a"}, {"autoscale": {"min_workers": 1, "max_workers": 4}})
    assert out == {"node_type_id": "a", "autoscale": {"min_workers": 1, "max_workers": 4}}
    # a recommended autoscale replaces the user's range as a whole
    out = merge_cluster({"autoscale": {"min_workers": 1, "max_workers": 9}}, {"autoscale": {"min_workers": 2, "max_workers": 3}})
    assert out["autoscale"] == {"min_workers": 2, "max_workers": 3}


def test_merge_is_idempotent_and_does_not_duplicate() -> None:
    tags = gradient_tags("p1", "dag.task", "r1")
    once = merge_cluster(USER, REC, tags=tags, cluster_log_url="s3://b/logs", region="us-east-1")
    twice = merge_cluster(once, REC, tags=tags, cluster_log_url="s3://b/other", region="us-east-1")
    assert once == twice
    assert len(twice["init_scripts"]) == 2
    assert twice["cluster_log_conf"]["s3"]["destination"] == "s3://b/logs"


def test_user_log_conf_is_kept() -> None:
    user = {"num_workers": 1, "cluster_log_conf": {"s3": {"destination": "s3://mine/x", "region": "eu-west-1"}}}
    out = merge_cluster(user, None, cluster_log_url="dbfs:/cluster-logs/gradient/1")
    assert log_destination(out) == "s3://mine/x"


def test_instance_pool_keeps_pool_and_node_types() -> None:
    user = {"instance_pool_id": "pool-1", "num_workers": 2}
    out = merge_cluster(user, REC)
    assert out == {"instance_pool_id": "pool-1", "num_workers": 5, "init_scripts": REC["init_scripts"]}


def test_find_and_apply_multi_cluster_payload() -> None:
    payload = {
        "run_name": "x",
        "job_clusters": [{"job_cluster_key": "shared", "new_cluster": {"num_workers": 2, "node_type_id": "a"}}],
        "tasks": [
            {"task_key": "t1", "job_cluster_key": "shared", "notebook_task": {"notebook_path": "/n"}},
            {"task_key": "t2", "new_cluster": {"autoscale": {"min_workers": 1, "max_workers": 2}}},
            {"task_key": "t3", "existing_cluster_id": "abc"},
        ],
    }
    slots = find_clusters(payload)
    assert [s.slot_id for s in slots] == ["tasks/t2", "job_clusters/shared"]
    assert [s.app_id("d.t") for s in slots] == ["d.t.t2", "d.t.shared"]
    out = apply_patches(
        payload,
        {
            "tasks/t2": ClusterPatch({"num_workers": 4}, tags={TAG_PROJECT_ID: "2"}),
            "job_clusters/shared": ClusterPatch(None, tags={TAG_PROJECT_ID: "1"}, cluster_log_url="/Volumes/c/s/v"),
        },
    )
    assert out["tasks"][1]["new_cluster"] == {"num_workers": 4, "custom_tags": {TAG_PROJECT_ID: "2"}}
    assert out["job_clusters"][0]["new_cluster"]["cluster_log_conf"] == {"volumes": {"destination": "/Volumes/c/s/v"}}
    assert out["tasks"][0] == payload["tasks"][0] and out["tasks"][2] == payload["tasks"][2]
    assert "custom_tags" not in payload["job_clusters"][0]["new_cluster"]  # input untouched
    assert [s.slot_id for s in find_clusters({"new_cluster": {}})] == ["new_cluster"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("nope", "payload must be a JSON object"),
        ({"tasks": {"a": 1}}, "'tasks' must be a list"),
        ({"tasks": [1]}, "'tasks[0]' must be an object"),
        ({"job_clusters": [{"new_cluster": {}}]}, "no 'job_cluster_key'"),
    ],
)
def test_bad_payloads_raise_clear_errors(payload: object, message: str) -> None:
    with pytest.raises(ClusterMergeError, match=re.escape(message)):
        find_clusters(payload)  # type: ignore[arg-type]


def test_bad_inputs() -> None:
    with pytest.raises(ClusterMergeError, match="both num_workers and autoscale"):
        merge_cluster({}, {"num_workers": 1, "autoscale": {"min_workers": 1, "max_workers": 2}})
    with pytest.raises(ClusterMergeError, match="unsupported cluster log destination"):
        log_conf_for("abfss://c@a.dfs.core.windows.net/x")
    with pytest.raises(ClusterMergeError, match="no cluster 'tasks/zz'"):
        apply_patches({"new_cluster": {}}, {"tasks/zz": ClusterPatch()})


def test_tag_values_are_sanitised() -> None:
    assert sanitize_tag_value("my_dag.task<1>/x?") == "my_dag.task_1__x_"
    assert len(sanitize_tag_value("a" * 400)) == 256


clusters = st.fixed_dictionaries(
    {},
    optional={
        "num_workers": st.integers(0, 50),
        "node_type_id": st.sampled_from(["m5.large", "r5.xlarge"]),
        "custom_tags": st.dictionaries(st.sampled_from(["a", "b", TAG_PROJECT_ID]), st.text(max_size=5), max_size=3),
        "init_scripts": st.lists(st.fixed_dictionaries({"dbfs": st.fixed_dictionaries({"destination": st.sampled_from(["x", "y"])})}), max_size=3),
        "spark_conf": st.dictionaries(st.sampled_from(["k1", "k2"]), st.sampled_from(["1", "2"])),
    },
)
recs = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"node_type_id": st.sampled_from(["c5.xlarge", "r5.large"])},
        optional={
            "num_workers": st.integers(1, 9),
            "init_scripts": st.lists(st.fixed_dictionaries({"dbfs": st.fixed_dictionaries({"destination": st.sampled_from(["x", "z"])})}), max_size=2),
        },
    ),
)


@settings(max_examples=150, deadline=None)
@given(user=clusters, rec=recs, pid=st.integers(1, 99))
def test_merge_properties(user: dict, rec: dict | None, pid: int) -> None:
    before = copy.deepcopy(user)
    tags = gradient_tags(pid, "d.t", None)
    once = merge_cluster(user, rec, tags=tags, cluster_log_url="dbfs:/l")
    assert user == before
    assert merge_cluster(once, rec, tags=tags, cluster_log_url="dbfs:/l") == once
    for k, v in (user.get("custom_tags") or {}).items():
        if k not in tags:
            assert once["custom_tags"][k] == v
    scripts = once.get("init_scripts", [])
    user_scripts = user.get("init_scripts", [])
    if len(user_scripts) == len({repr(s) for s in user_scripts}):  # no duplicates added by the merge
        assert len(scripts) == len({repr(s) for s in scripts})
    assert not ("num_workers" in once and "autoscale" in once)


@pytest.mark.parametrize(
    ("app_ids", "keys"),
    [
        (["d.t"], [None]),  # the single-cluster form
        (["d.t.report", "d.t.shared"], ["report", "shared"]),
        (["d.t.shared"], ["shared"]),  # one cluster of a multi-task payload
        (["d.t", "d.t.report"], [None, "report"]),
        (["nightly.etl_a", "nightly.etl_b"], ["etl_a", "etl_b"]),  # gradient_app_id="nightly"
        (["nightly"], [None]),  # an overridden app id: no key
        (["x.a", "y.b"], [None, None]),  # nothing shared
    ],
)
def test_cluster_keys_invert_the_app_id_of_each_cluster(app_ids: list[str], keys: list[str | None]) -> None:
    assert cluster_keys(app_ids, "d.t") == keys
    slots = find_clusters({"tasks": [{"task_key": "report", "new_cluster": {}}],
                           "job_clusters": [{"job_cluster_key": "shared", "new_cluster": {}}]})
    assert cluster_keys([s.app_id("d.t") for s in slots], "d.t") == [s.key for s in slots]
