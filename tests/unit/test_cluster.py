"""core.cluster: one Databricks cluster spec, read and written back without losing anything, bad input named."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from airflow_provider_gradient.core.cluster import Cluster, ClusterError, is_photon
from airflow_provider_gradient.core.optimizer import ClusterShape
from airflow_provider_gradient.simulator import ClusterSpec

FIXED = {
    "spark_version": "15.4.x-scala2.12",
    "node_type_id": "m5.xlarge",
    "driver_node_type_id": "r5.2xlarge",
    "num_workers": 4,
    "spark_conf": {"spark.sql.shuffle.partitions": "400"},
    "cluster_log_conf": {"dbfs": {"destination": "dbfs:/cluster-logs"}},
    "init_scripts": [{"workspace": {"destination": "/init.sh"}}],
}
AUTOSCALE = {"spark_version": "15.4.x-scala2.12", "node_type_id": "r5.xlarge",
             "autoscale": {"min_workers": 2, "max_workers": 8}}
AWS_SPOT_EBS = {
    "spark_version": "14.3.x-scala2.12",
    "node_type_id": "m5.2xlarge",
    "num_workers": 6,
    "aws_attributes": {
        "availability": "SPOT_WITH_FALLBACK",
        "first_on_demand": 2,
        "zone_id": "us-east-1a",
        "spot_bid_price_percent": 100,
        "ebs_volume_type": "THROUGHPUT_OPTIMIZED_HDD",
        "ebs_volume_count": 2,
        "ebs_volume_size": 500,
        "instance_profile_arn": "arn:aws:iam::123:instance-profile/etl",
        "ebs_volume_iops": 3000,
    },
}
AZURE = {
    "spark_version": "15.4.x-scala2.12",
    "node_type_id": "Standard_D4s_v5",
    "num_workers": 3,
    "azure_attributes": {
        "availability": "SPOT_WITH_FALLBACK_AZURE",
        "first_on_demand": 1,
        "spot_bid_max_price": -1,
        "log_analytics_info": {"log_analytics_workspace_id": "w"},
    },
}
GCP = {"spark_version": "15.4.x-scala2.12", "node_type_id": "n2-standard-4", "num_workers": 2,
       "gcp_attributes": {"availability": "PREEMPTIBLE_WITH_FALLBACK_GCP", "zone_id": "HA",
                          "google_service_account": "sa@p.iam.gserviceaccount.com"}}
UNKNOWN = {
    **FIXED,
    "custom_tags": {"team": "data", "gradient:project-id": "7"},
    "data_security_mode": "SINGLE_USER",
    "a_field_databricks_adds_next_year": {"nested": [1, {"x": None}]},
    "policy_id": None,
    "autoscale": None,
}


@pytest.mark.parametrize("spec", [FIXED, AUTOSCALE, AWS_SPOT_EBS, AZURE, GCP, UNKNOWN],
                         ids=["fixed", "autoscale", "aws_spot_ebs", "azure", "gcp", "unknown_keys"])
def test_round_trip_keeps_every_key(spec: dict[str, Any]) -> None:
    before = copy.deepcopy(spec)
    c = Cluster.from_databricks(spec)
    out = c.to_databricks()
    assert out == spec and spec == before  # same dict back, input untouched
    out["spark_conf" if "spark_conf" in out else "spark_version"] = "changed"
    assert c.to_databricks() == spec  # the value object does not share the dicts it hands out
    assert Cluster.from_databricks(out) != c


def test_fixed_and_driver() -> None:
    c = Cluster.from_databricks(FIXED)
    assert (c.num_workers, c.is_autoscale, c.min_workers, c.max_workers, c.mean_workers) == (4, False, 4, 4, 4.0)
    assert c.driver_type == "r5.2xlarge" and c.cloud == "aws" and not c.spot and c.first_on_demand == 1
    assert Cluster.from_databricks({"node_type_id": "m5.xlarge", "num_workers": 2}).driver_type == "m5.xlarge"


def test_autoscale_and_the_size_clusters_get_reports_next_to_it() -> None:
    c = Cluster.from_databricks(AUTOSCALE)
    assert c.is_autoscale and (c.autoscale_min, c.autoscale_max, c.mean_workers) == (2, 8, 5.0)
    live = {**AUTOSCALE, "num_workers": 5}  # clusters/get of a running autoscaled cluster
    c = Cluster.from_databricks(live)
    assert c.is_autoscale and c.num_workers == 5 and c.to_databricks() == live
    fixed = c.with_size(num_workers=3).to_databricks()
    assert fixed["num_workers"] == 3 and "autoscale" not in fixed
    assert c.with_size(autoscale=(1, 4)).to_databricks()["autoscale"] == {"min_workers": 1, "max_workers": 4}


def test_aws_spot_and_ebs() -> None:
    c = Cluster.from_databricks(AWS_SPOT_EBS)
    assert c.cloud == "aws" and c.spot and c.first_on_demand == 2
    assert (c.ebs_volume_count, c.ebs_volume_size_gb, c.ebs_volume_type) == (2, 500, "THROUGHPUT_OPTIMIZED_HDD")
    assert c.aws_attributes is not None and c.aws_attributes.zone_id == "us-east-1a"
    assert c.aws_attributes.extra == {"instance_profile_arn": "arn:aws:iam::123:instance-profile/etl",
                                      "ebs_volume_iops": 3000}
    on_demand = c.with_market("aws", False, 1).with_ebs(1, 100).to_databricks()["aws_attributes"]
    assert on_demand == {**AWS_SPOT_EBS["aws_attributes"], "availability": "ON_DEMAND", "first_on_demand": 1,
                         "ebs_volume_count": 1, "ebs_volume_size": 100}


def test_azure_and_gcp_attributes() -> None:
    az = Cluster.from_databricks(AZURE)
    assert az.cloud == "azure" and az.spot and az.first_on_demand == 1 and az.ebs_volume_count == 0
    assert az.azure_attributes is not None and az.azure_attributes.spot_bid_max_price == -1.0
    assert az.with_market("azure", False, 2).to_databricks()["azure_attributes"] == {
        **AZURE["azure_attributes"], "availability": "ON_DEMAND_AZURE", "first_on_demand": 2}
    gcp = Cluster.from_databricks(GCP)
    assert gcp.cloud == "gcp" and gcp.spot and gcp.first_on_demand == 1
    # no attributes block: the node type's naming decides
    assert Cluster.from_databricks({"node_type_id": "Standard_E8_v3", "num_workers": 1}).cloud == "azure"


def test_unknown_keys_and_tags_are_kept_apart_from_the_typed_fields() -> None:
    c = Cluster.from_databricks(UNKNOWN)
    assert c.custom_tags == {"team": "data", "gradient:project-id": "7"}
    assert set(c.extra) == {"spark_conf", "cluster_log_conf", "init_scripts", "data_security_mode",
                            "a_field_databricks_adds_next_year", "policy_id", "autoscale"}
    assert not c.is_autoscale and c.num_workers == 4  # "autoscale": None is not a range


@pytest.mark.parametrize(("engine", "version", "photon"), [
    ("PHOTON", "15.4.x-scala2.12", True),
    ("photon", "", True),
    ("", "15.4.x-photon-scala2.12", True),
    ("STANDARD", "15.4.x-scala2.12", False),
    ("", "15.4.x-scala2.12", False),
    ("", "", False),
])
def test_photon_by_either_signal(engine: str, version: str, photon: bool) -> None:
    spec = {"node_type_id": "m5.xlarge", "num_workers": 2, "runtime_engine": engine, "spark_version": version}
    assert is_photon(engine, version) is photon
    assert Cluster.from_databricks(spec).photon is photon
    assert ClusterShape.from_databricks(spec).photon is photon
    assert ClusterSpec.from_new_cluster(spec).photon is photon


def test_setting_the_engine_replaces_a_legacy_photon_version() -> None:
    legacy = Cluster.from_databricks({"node_type_id": "m5.xlarge", "num_workers": 2,
                                      "spark_version": "15.4.x-photon-scala2.12"})
    on = legacy.with_photon(True)
    assert on.to_databricks()["spark_version"] == "15.4.x-scala2.12" and on.runtime_engine == "PHOTON" and on.photon
    off = legacy.with_photon(False)
    assert off.spark_version == "15.4.x-scala2.12" and not off.photon


@pytest.mark.parametrize(("spec", "field"), [
    ({"node_type_id": "m5.xlarge", "num_workers": "four"}, "num_workers"),
    ({"node_type_id": "m5.xlarge", "num_workers": -1}, "num_workers"),
    ({"node_type_id": "m5.xlarge", "num_workers": True}, "num_workers"),
    ({"node_type_id": 5, "num_workers": 1}, "node_type_id"),
    ({"node_type_id": "m5.xlarge", "autoscale": {"min_workers": 8, "max_workers": 2}}, "autoscale"),
    ({"node_type_id": "m5.xlarge", "autoscale": {"min_workers": 1, "max_workers": "many"}}, "autoscale.max_workers"),
    ({"node_type_id": "m5.xlarge", "autoscale": {"min_workers": 1, "max_workers": 2, "step": 1}}, "autoscale"),
    ({"node_type_id": "m5.xlarge", "autoscale": [1, 2]}, "autoscale"),
    ({"node_type_id": "m5.xlarge", "num_workers": 1, "aws_attributes": ["SPOT"]}, "aws_attributes"),
    ({"node_type_id": "m5.xlarge", "num_workers": 1, "aws_attributes": {"first_on_demand": "x"}},
     "aws_attributes.first_on_demand"),
    ({"node_type_id": "m5.xlarge", "num_workers": 1, "aws_attributes": {"ebs_volume_count": -2}},
     "aws_attributes.ebs_volume_count"),
    ({"node_type_id": "m5.xlarge", "num_workers": 1, "azure_attributes": {"spot_bid_max_price": "cheap"}},
     "azure_attributes.spot_bid_max_price"),
    ({"node_type_id": "m5.xlarge", "num_workers": 1, "custom_tags": ["a"]}, "custom_tags"),
    ({"num_workers": 2}, "node_type_id"),
    ({"node_type_id": "m5.xlarge"}, "num_workers"),
])
def test_bad_input_names_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(ClusterError) as err:
        Cluster.from_databricks(spec)
    assert err.value.field == field and f"new_cluster.{field}" in str(err.value)
    again = pickle.loads(pickle.dumps(err.value))  # crosses process boundaries (triggers, workers) intact
    assert (type(again), again.field, str(again)) == (ClusterError, field, str(err.value))


def test_lenient_reading_for_display_and_partial_answers() -> None:
    c = Cluster.from_databricks({"instance_pool_id": "pool-1", "num_workers": 2})  # a pool gives the node type
    assert c.node_type_id == "" and c.instance_pool_id == "pool-1"
    partial = Cluster.from_databricks({"num_workers": 2}, strict=False)
    assert partial.node_type_id == "" and partial.num_workers == 2
    with pytest.raises(ClusterError, match="must be an object"):
        Cluster.from_databricks([], strict=False)  # type: ignore[arg-type]


def test_optimiser_shape_merged_into_the_users_cluster_keeps_their_keys() -> None:
    shape = ClusterShape.from_databricks(AWS_SPOT_EBS)
    assert (shape.spot, shape.first_on_demand, shape.ebs_volume_count, shape.ebs_volume_size_gb) == (True, 2, 2, 500)
    # the shape's fields are written explicitly (driver type, engine); everything else is the user's
    assert shape.to_databricks(AWS_SPOT_EBS) == {**AWS_SPOT_EBS, "driver_node_type_id": "m5.2xlarge",
                                                 "runtime_engine": "STANDARD"}
    spec = ClusterSpec.from_new_cluster(AZURE, cloud="azure")
    assert ClusterSpec.from_new_cluster(spec.to_new_cluster(), cloud="azure") == spec


@pytest.mark.parametrize(("baseline", "message"), [
    ({"node_type_id": "m5.xlarge", "num_workers": 2, "aws_attributes": {"first_on_demand": "one"}},
     "new_cluster.aws_attributes.first_on_demand must be a whole number >= 0, got 'one'"),
    ({"node_type_id": "m5.xlarge", "autoscale": {"min_workers": 0, "max_workers": 0}},
     "new_cluster.autoscale needs max_workers >= 1"),
    ({"node_type_id": "  ", "num_workers": 2}, "new_cluster.node_type_id must be a node type name"),
])
def test_a_project_baseline_is_checked_by_the_same_rules(baseline: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    from airflow_provider_gradient.service.schemas import ProjectIn

    with pytest.raises(ValidationError, match=message):
        ProjectIn(app_id="a.b", baseline_cluster=baseline)
    assert ProjectIn(app_id="a.b", baseline_cluster=AWS_SPOT_EBS).baseline_cluster == AWS_SPOT_EBS


def test_shape_and_reshaped_are_the_views_contract() -> None:
    c = Cluster.from_databricks(AWS_SPOT_EBS)
    shape = c.shape()
    assert ClusterShape(**shape) == ClusterShape.from_databricks(AWS_SPOT_EBS)
    assert ClusterSpec(**shape) == ClusterSpec.from_new_cluster(AWS_SPOT_EBS)
    again = c.reshaped("aws", **shape)
    assert again.shape() == shape and again.extra == c.extra
    assert again.aws_attributes is not None and again.aws_attributes.extra == c.aws_attributes.extra  # type: ignore[union-attr]
    smaller = c.reshaped("aws", **{**shape, "num_workers": None, "autoscale_min": 1, "autoscale_max": 3})
    assert smaller.to_databricks()["autoscale"] == {"min_workers": 1, "max_workers": 3}
    assert "num_workers" not in smaller.to_databricks()
    with pytest.raises(ClusterError, match="photon"):
        c.reshaped("aws", **{k: v for k, v in shape.items() if k != "photon"})
