"""Recorded runs are priced by what they really used, end to end (DAG -> emulator -> store -> REST API, page, CLI):

- the compute type Databricks reports: a job cluster on the Databricks Light runtime is billed at the Jobs Light
  $/DBU, not the Jobs Compute one, and the run says what it was billed as;
- the region the cluster ran in: an eu-west-1 workspace's runs are priced at eu-west-1 prices although
  ``[gradient] region`` is not set (no silent us-east-1);
- a run whose region nothing reports (no zone, no cloud instances, no event log) is recorded *unpriced*, and the
  store, the API, the project page and the CLI say why -- never priced at another region's prices.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def _dbus(cost: Any) -> float:
    return float(cost.dbu_usd)


def test_jobs_light_cluster_is_billed_at_the_jobs_light_rate(
    one_task_dag: Any, gradient_store: Any, api: Any
) -> None:
    dag = one_task_dag("it_price_light", {"node_type_id": "m5.xlarge", "num_workers": 2,
                                          "spark_version": "apache-spark-2.4.x-scala2.11"},
                       gradient_auto_apply=False)
    assert dag.test().state == "success"
    (run,) = gradient_store.list_runs("it_price_light.etl")
    # DBUs at $0.10 (Premium Jobs Light), not $0.15 (Jobs Compute): 3 nodes x 0.69 DBU/h over the node time
    hours = (run.end_ms - run.start_ms) / 3.6e6
    jobs_light = 3 * 0.69 * hours * 0.10
    assert 0.7 * jobs_light < _dbus(run.cost) < 1.45 * jobs_light, (run.cost, jobs_light)
    assert _dbus(run.cost) < 3 * 0.69 * hours * 0.15 * 0.97  # below any jobs-rate price of the same node time
    assert run.pricing is not None, run
    assert (run.pricing.compute_type, run.pricing.compute_known, run.pricing.photon) == ("jobs_light", True, False)
    assert run.pricing.compute_source == "clusters/get cluster_source=JOB"
    assert run.pricing.region == "us-east-1" and run.pricing.priced

    body = api.get(f"/api/v1/projects/{run.project_id}/runs").json()
    (stored,) = body if isinstance(body, list) else body["runs"]
    assert stored["pricing"]["compute_type"] == "jobs_light"
    page = api.get(f"/ui/projects/{run.project_id}").text
    assert "Jobs Light · us-east-1" in page


@pytest.fixture
def eu_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_home: Any) -> Iterator[Any]:
    """An emulated AWS workspace in eu-west-1 (no AWS connection): the task's Databricks connection points at
    it for one test; ``[gradient] region`` stays unset."""
    from airflow_provider_gradient.simulator.testing import running_emulator

    with running_emulator(tmp_path / "eu", time_scale=600, region="eu-west-1") as emu:
        monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_DEFAULT", emu.airflow_conn_uri)
        monkeypatch.setenv("AIRFLOW__GRADIENT__REGION", "")  # unset, whatever an airflow.cfg says
        yield emu


def test_region_comes_from_the_cluster_not_a_default(
    one_task_dag: Any, eu_workspace: Any, gradient_store: Any
) -> None:
    from airflow_provider_gradient.core.pricing import compute_run_cost

    dag = one_task_dag("it_price_eu", {"node_type_id": "m5.xlarge", "num_workers": 2},
                       gradient_auto_apply=False, gradient_aws_conn_id="no_such_aws_conn")
    assert dag.test().state == "success"
    (run,) = gradient_store.list_runs("it_price_eu.etl")
    assert run.log_status == "complete"
    # m5.xlarge is $0.214/h in eu-west-1 vs $0.192 in us-east-1: the cloud part is the eu-west-1 one
    timeline = _timeline(eu_workspace, run)
    from airflow_provider_gradient.core.pricing import load_catalog

    eu = compute_run_cost(timeline, load_catalog(), cloud="aws", region="eu-west-1")
    us = compute_run_cost(timeline, load_catalog(), cloud="aws", region="us-east-1")
    assert run.cost is not None and run.cost.cloud_usd == pytest.approx(eu.cloud_usd, rel=1e-6)
    assert run.cost.cloud_usd > us.cloud_usd * 1.08
    assert run.pricing is not None and run.pricing.region == "eu-west-1", run.pricing
    assert run.pricing.region_source == "event log clusterUsageTags.region"
    # the project learns its region from the run: its recommendations are priced there too
    project = gradient_store.get_project("it_price_eu.etl")
    assert project.region == "eu-west-1"
    rec = gradient_store.latest_recommendation(project.id)
    assert rec is not None and "region unknown" not in rec.reason


def test_unknown_region_is_recorded_unpriced_and_says_so(
    one_task_dag: Any, eu_workspace: Any, gradient_store: Any, api: Any, airflow_home: Any
) -> None:
    eu_workspace.set_faults(eventlog="missing")  # no event log; no zone; no AWS connection -> no region anywhere
    dag = one_task_dag("it_price_noregion", {"node_type_id": "m5.xlarge", "num_workers": 2},
                       gradient_auto_apply=False, gradient_aws_conn_id="no_such_aws_conn",
                       gradient_log_tries=2, gradient_log_backoff_s=0.2)
    assert dag.test().state == "success"  # the task is never affected
    (run,) = gradient_store.list_runs("it_price_noregion.etl")
    assert run.log_status == "missing"
    assert run.cost is None, run.cost  # not priced at some other region's prices
    assert run.pricing is not None and not run.pricing.priced and run.pricing.region is None
    assert "region is not known" in (run.pricing.note or "")
    assert run.pricing.compute_type == "jobs" and run.pricing.compute_known  # still read from Databricks
    project = gradient_store.get_project("it_price_noregion.etl")
    assert project.region is None

    stored = api.get(f"/api/v1/projects/{project.id}").json()
    assert stored["region"] is None
    page = api.get(f"/ui/projects/{project.id}").text
    assert "region unknown" in page and "not priced" in page and "region is not known" in page

    gradient = [str(Path(sys.executable).parent / "gradient"), "runs", "list", "it_price_noregion.etl",
                "--store-url", str(gradient_store.url)]
    env = {**os.environ, "COLUMNS": "250"}
    (listed,) = api.get(f"/api/v1/projects/{project.id}/runs").json()
    assert listed["cost"] is None and listed["pricing"]["priced"] is False
    table = subprocess.run(gradient, env=env, capture_output=True, text=True, check=True).stdout
    assert "not priced" in table and "region unknown" in table, table
    rec = gradient_store.generate_recommendation(project.id)
    assert "region unknown: costs estimated at aws us-east-1 list prices" in rec.reason

    # the user says where the workspace is (CLI; the REST API takes the same): its next estimates are priced there
    update = [str(Path(sys.executable).parent / "gradient"), "projects", "update", "it_price_noregion.etl",
              "--region", "Mars-1", "--store-url", str(gradient_store.url)]
    bad = subprocess.run(update, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "--region mars-1: no aws prices for it" in bad.stderr, bad.stderr
    subprocess.run(update[:5] + ["eu-west-1", *update[6:]], env=env, capture_output=True, text=True, check=True)
    assert gradient_store.get_project(project.id).region == "eu-west-1"
    assert "region unknown" not in gradient_store.generate_recommendation(project.id).reason
    patched = api.patch(f"/api/v1/projects/{project.id}", json={"region": "us-west-2"},
                        headers={"Authorization": "Bearer t"})
    assert patched.status_code == 200 and patched.json()["region"] == "us-west-2", patched.text
    assert api.patch(f"/api/v1/projects/{project.id}", json={"region": ""},
                     headers={"Authorization": "Bearer t"}).status_code == 422


def test_the_databricks_connection_names_the_region_of_a_run_that_reports_none(
    one_task_dag: Any, eu_workspace: Any, gradient_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the workspace's connection says where it is (the extra Discover reads too): a run reporting nothing is
    # priced there, and the record says so
    monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_DEFAULT", f"{eu_workspace.airflow_conn_uri}?region=eu-west-1")
    eu_workspace.set_faults(eventlog="missing")
    dag = one_task_dag("it_price_connregion", {"node_type_id": "m5.xlarge", "num_workers": 2},
                       gradient_auto_apply=False, gradient_aws_conn_id="no_such_aws_conn",
                       gradient_log_tries=2, gradient_log_backoff_s=0.2)
    assert dag.test().state == "success"
    (run,) = gradient_store.list_runs("it_price_connregion.etl")
    assert run.log_status == "missing" and run.cost is not None
    assert (run.pricing.region, run.pricing.region_source) == ("eu-west-1", "Databricks connection extra region")


def test_an_azure_workspace_is_priced_in_its_own_region(
    one_task_dag: Any, gradient_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # [gradient] cloud = azure and no region set: the run is priced in the region its event log reports (westeurope
    # here), not at the us-east-1 that [gradient] region used to default to (which Azure has no prices for: the run
    # was not recorded at all)
    from airflow_provider_gradient.core.pricing import compute_run_cost, load_catalog
    from airflow_provider_gradient.simulator.testing import running_emulator

    with running_emulator(tmp_path / "azure", time_scale=600, cloud="azure", region="westeurope") as emu:
        monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_AZURE", emu.airflow_conn_uri)
        monkeypatch.setenv("AIRFLOW__GRADIENT__CLOUD", "azure")
        monkeypatch.setenv("AIRFLOW__GRADIENT__REGION", "")
        dag = one_task_dag("it_price_azure", {"node_type_id": "Standard_D4s_v5", "num_workers": 2,
                                              "azure_attributes": {"availability": "ON_DEMAND_AZURE"}},
                           databricks_conn_id="databricks_azure", gradient_auto_apply=False)
        assert dag.test().state == "success"
        (run,) = gradient_store.list_runs("it_price_azure.etl")
        timeline = _timeline(emu, run)
    assert run.cost is not None and run.pricing.region == "westeurope" and run.pricing.cloud == "azure"
    west = compute_run_cost(timeline, load_catalog(), cloud="azure", region="westeurope")
    east = compute_run_cost(timeline, load_catalog(), cloud="azure", region="eastus")
    assert run.cost.cloud_usd == pytest.approx(west.cloud_usd, rel=1e-6) and west.cloud_usd > east.cloud_usd
    assert gradient_store.get_project("it_price_azure.etl").region == "westeurope"


def _timeline(emu: Any, run: Any) -> Any:
    """The run's node timeline as the emulated workspace reports it (clusters/get + clusters/events)."""
    from airflow_provider_gradient.service.run_cost import timeline_from_events

    cluster = emu.request("GET", f"/api/2.1/clusters/get?cluster_id={run.cluster_id}")
    events = emu.request("POST", "/api/2.1/clusters/events",
                         {"cluster_id": run.cluster_id, "order": "ASC", "limit": 500})["events"]
    return timeline_from_events(cluster, events, run.start_ms, run.end_ms)
