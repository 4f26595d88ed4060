"""Issue 15, items 6 and 7, end to end (dag.test() -> emulator -> store -> CLI / REST API / page).

* 7: an x86 baseline is never moved to ARM (Graviton) unless the project allows it (``allow_arm``, set here
  through the REST API); ``--allowed-families r5`` on an m5 baseline works (the next run submits r5) instead of
  failing with "baseline node type 'm5.xlarge' is not in the search space".
* 6: an autoscaled run is recorded with the worker count it really averaged (from the cluster events), and the
  recommendation's min/max come from that use, explained in its reason.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.slow

def _dag(one_task_dag: Any, dag_id: str, cluster: dict[str, Any], profile: str) -> Any:
    return one_task_dag(dag_id, cluster, notebook=profile, gradient_sla_minutes=120, gradient_auto_apply=True,
                        gradient_log_tries=4, gradient_log_backoff_s=0.3)


def _cli(svc: Any, *args: str) -> Any:
    from airflow_provider_gradient.cli import app as cli

    return CliRunner().invoke(cli, [*args, "--store-url", str(svc.url)])


def _json(out: Any) -> Any:
    return json.loads(out.stdout[out.stdout.index("{"):])


def test_architecture_is_kept_unless_allowed_and_families_may_exclude_the_baseline(
    one_task_dag: Any, submits: Any, gradient_store: Any, api: Any
) -> None:
    from airflow_provider_gradient.core.pricing import ARM64, load_catalog

    cat = load_catalog()
    svc = gradient_store
    app_id = "it_arch.etl"
    dag = _dag(one_task_dag, "it_arch", {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge",
                                      "num_workers": 4}, "small_startup")
    before = len(submits())
    assert dag.test().state == "success"
    assert svc.get_project(app_id).settings.allow_arm is False  # the default keeps the architecture

    # allowed families without the baseline's own family: the recommendation is r5, and the next run uses it
    out = _cli(svc, "projects", "update", app_id, "--allowed-families", "r5")
    assert out.exit_code == 0, out.output
    out = _cli(svc, "recommendations", "generate", app_id, "--json")
    assert out.exit_code == 0, out.output
    assert _json(out)["cluster"]["node_type_id"].startswith("r5."), out.output
    assert dag.test().state == "success"
    assert submits()[-1]["new_cluster"]["node_type_id"].startswith("r5.")
    rec = svc.latest_recommendation(app_id)
    assert rec is not None and rec.cluster["node_type_id"].startswith("r5."), rec

    # an ARM-only family on an x86 baseline: a clear error naming the setting, not a silent move to Graviton
    out = _cli(svc, "projects", "update", app_id, "--allowed-families", "m6gd")
    assert out.exit_code == 0, out.output
    out = _cli(svc, "recommendations", "generate", app_id)
    assert out.exit_code != 0 and "allow_arm" in out.output, out.output

    # allowed through the REST API (the page's Edit dialog has the checkbox): the next run goes to Graviton
    page = api.get(f"/ui/projects/{svc.get_project(app_id).id}")
    assert page.status_code == 200 and 'name="allow_arm"' in page.text
    r = api.patch(f"/api/v1/projects/{app_id}/settings", json={"allow_arm": True},
                  headers={"Authorization": "Bearer test"})
    assert r.status_code == 200 and r.json()["settings"]["allow_arm"] is True, r.text
    out = _cli(svc, "recommendations", "generate", app_id, "--json")
    assert out.exit_code == 0, out.output
    assert dag.test().state == "success"
    submitted = [b["new_cluster"]["node_type_id"] for b in submits()[before:]]
    assert len(submitted) == 3
    assert [cat.node_type("aws", n).arch for n in submitted] == ["x86_64", "x86_64", ARM64], submitted

    # and back off from the CLI
    out = _cli(svc, "projects", "update", app_id, "--keep-architecture", "--json")
    assert out.exit_code == 0 and _json(out)["settings"]["allow_arm"] is False, out.output
    out = _cli(svc, "projects", "show", app_id)
    assert "allow ARM" in out.output, out.output


def test_autoscaled_cluster_recorded_at_its_average_and_min_max_explained(
    one_task_dag: Any, submits: Any, gradient_store: Any
) -> None:
    svc = gradient_store
    app_id = "it_autoscale.etl"
    dag = _dag(one_task_dag, "it_autoscale", {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge",
                                           "autoscale": {"min_workers": 2, "max_workers": 8}}, "driver_bound")
    before = len(submits())
    assert dag.test().state == "success"
    (run,) = svc.list_runs(app_id)
    m = run.metrics or {}
    assert 2 <= m["cluster_workers_avg"] <= 8 and m["cluster_workers_max"] <= 8, m
    assert m["cluster_workers_avg"] < m["cluster_workers_max"]  # it scaled: not priced as fixed at max
    rec = svc.latest_recommendation(app_id)
    assert rec is not None
    assert f"averaged {m['cluster_workers_avg']:.1f} of 2–8" in rec.reason, rec.reason
    assert "priced at that average" in rec.reason
    auto = rec.cluster["autoscale"]
    assert dag.test().state == "success"
    second = submits()[before:][1]["new_cluster"]
    # (the Databricks provider sends numbers as strings)
    assert {k: int(v) for k, v in second["autoscale"].items()} == auto and "num_workers" not in second
