"""The store-backed CLI groups: gradient db / projects / runs / recommendations (local mode, --store-url).
Every command, --json output, exit codes (0 ok, 1 failure, 2 bad input), and Terraform output that is
valid HCL for a databricks_job new_cluster block."""

from __future__ import annotations

import json

import hcl2
import pytest
from typer.testing import CliRunner

from airflow_provider_gradient.cli import app
from airflow_provider_gradient.cli.recommendations import to_terraform
from airflow_provider_gradient.service import GradientService, RecommendationIn, RunIn

pytestmark = pytest.mark.sqlite_only

BASELINE = {
    "spark_version": "15.4.x-scala2.12",
    "node_type_id": "m5.xlarge",
    "num_workers": 4,
    "spark_conf": {"spark.sql.shuffle.partitions": "200", "spark.databricks.delta.preview.enabled": "true"},
    "spark_env_vars": {"PYSPARK_PYTHON": "/databricks/python3/bin/python3"},
    "custom_tags": {"team": "data eng", "cost-center": "42"},
    "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1, "zone_id": "auto"},
    "init_scripts": [{"workspace": {"destination": "/Shared/init.sh"}}, {"volumes": {"destination": "/Volumes/x/y.sh"}}],
    "enable_elastic_disk": True,
    "data_security_mode": "SINGLE_USER",
}
RECOMMENDED = {
    "node_type_id": "r5.2xlarge",
    "driver_node_type_id": "m5.xlarge",
    "autoscale": {"min_workers": 2, "max_workers": 6},
    "runtime_engine": "PHOTON",
    "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1},
}


def parse_hcl(text: str) -> dict:
    """python-hcl2, normalised across its versions (v7 keeps string quotes and marks blocks)."""

    def norm(v):
        if isinstance(v, dict):
            return {norm(k): norm(x) for k, x in v.items() if k != "__is_block__"}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"':
            return json.loads(v.replace("$${", "${").replace("%%{", "%{"))
        return v

    return norm(hcl2.loads(text))


@pytest.fixture
def cli(sqlite_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GRADIENT_STORE_URL", sqlite_url)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return run


def _project_with_history(svc: GradientService) -> int:
    p = svc.get_or_create_project("etl.load", baseline_cluster=BASELINE, dag_id="etl", task_id="load",
                                  settings={"sla_minutes": 30})
    for i in range(3):
        svc.record_run(p.id, RunIn(databricks_run_id=100 + i, outcome="success", start_ms=i * 10_000,
                                   end_ms=i * 10_000 + 6_000, cluster_config=BASELINE))
    return p.id


def test_db_upgrade_and_current(cli, sqlite_url: str) -> None:
    r = cli("db", "upgrade", "--store-url", sqlite_url)
    from airflow_provider_gradient.store import head_revision

    head = head_revision()
    assert r.exit_code == 0 and head in r.output
    r = cli("db", "current")
    assert r.exit_code == 0 and f"at revision {head} (head {head})" in r.output
    r = cli("db", "downgrade", "base", "--yes")
    assert r.exit_code == 0 and "base" in r.output
    assert cli("db", "current").exit_code == 1  # behind head
    assert cli("db", "upgrade").exit_code == 0


def test_projects_create_list_show_update(cli) -> None:
    r = cli("projects", "create", "etl.load", "--sla-minutes", "30", "--dag-id", "etl", "--task-id", "load",
            "--baseline-cluster", json.dumps(BASELINE), "--json")
    assert r.exit_code == 0, r.output
    p = json.loads(r.output)
    assert p["app_id"] == "etl.load" and p["settings"]["sla_minutes"] == 30 and p["dag_id"] == "etl"
    assert json.loads(cli("projects", "list", "--json").output)[0]["id"] == p["id"]
    table = cli("projects", "list")
    assert table.exit_code == 0 and "etl.load" in table.output
    assert json.loads(cli("projects", "show", str(p["id"]), "--json").output) == p
    assert "etl.load" in cli("projects", "show", "etl.load").output
    r = cli("projects", "update", "etl.load", "--max-workers", "16", "--window", "22:00-06:00", "--no-auto-apply",
            "--allowed-families", "r5, m5", "--force-on-demand", "--sla-minutes", "none", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)["settings"]
    assert s["max_workers"] == 16 and s["window_start"] == "22:00" and s["window_end"] == "06:00"
    assert s["auto_apply"] is False and s["allowed_families"] == ["r5", "m5"] and s["force_on_demand"] is True
    assert s["sla_minutes"] is None
    r = cli("projects", "update", "etl.load", "--name", "Nightly load", "--json")
    assert json.loads(r.output)["name"] == "Nightly load"


def test_projects_create_takes_every_setting(cli, svc: GradientService) -> None:
    """`projects create` sets what `projects update` can (the ProjectSettings fields), validated, and creates
    nothing when a setting is invalid."""
    r = cli("projects", "create", "arm.task", "--allow-arm", "--change-scaling-type", "--keep-instance-size",
            "--allowed-families", "r6g, m6g", "--force-on-demand", "--window", "22:00-06:00", "--learning-runs", "6",
            "--cluster-log-url", "s3://logs/gradient", "--max-workers", "12", "--no-auto-apply", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)["settings"]
    assert s == {**s, "allow_arm": True, "maintain_scaling_type": False, "optimize_instance_size": False,
                 "allowed_families": ["r6g", "m6g"], "force_on_demand": True, "window_start": "22:00",
                 "window_end": "06:00", "learning_runs": 6, "cluster_log_url": "s3://logs/gradient",
                 "max_workers": 12, "auto_apply": False}
    assert svc.get_project("arm.task").settings.allow_arm is True
    plain = json.loads(cli("projects", "create", "plain.task", "--json").output)["settings"]
    assert plain["allow_arm"] is False and plain["maintain_scaling_type"] is True and plain["window_start"] is None
    for bad in (("--learning-runs", "0"), ("--window", "22:00"), ("--window", "25:00-01:00"),
                ("--allowed-families", "r5;drop")):
        r = cli("projects", "create", "bad.task", *bad)
        assert r.exit_code == 2 and "error:" in r.output, (bad, r.output)
    assert svc.find_project("bad.task") is None


def test_recommendations_say_when_the_run_they_were_applied_to_failed(cli, svc: GradientService) -> None:
    p = svc.get_or_create_project("etl.load", baseline_cluster=BASELINE)
    rec = svc.store_recommendation(p.id, RecommendationIn(cluster={"node_type_id": "m5.large", "num_workers": 2},
                                                          phase="learning"))
    svc.record_and_recommend(p.id, RunIn(databricks_run_id=300, outcome="oom", start_ms=0, end_ms=30_000,
                                         recommendation_id=rec.id))
    listed = cli("recommendations", "list", "etl.load")
    assert listed.exit_code == 0 and "applied - run failed (oom)" in listed.output, listed.output
    shown = cli("recommendations", "latest", "etl.load", "--state", "applied")
    assert shown.exit_code == 0 and "applied - run failed (oom)" in shown.output, shown.output
    as_json = json.loads(cli("recommendations", "latest", "etl.load", "--state", "applied", "--json").output)
    assert as_json["state"] == "applied" and as_json["applied_run_outcome"] == "oom"


def test_latest_current_never_exports_a_cluster_whose_run_failed(cli, svc: GradientService) -> None:
    """The default ``--state current`` is what the IaC should hold: an applied recommendation whose run ran out
    of memory is skipped for the one applied before it (saying so), else the project's baseline is printed."""
    p = svc.get_or_create_project("etl.load", baseline_cluster=BASELINE)
    good = {"node_type_id": "r5.2xlarge", "num_workers": 3}
    ok = svc.store_recommendation(p.id, RecommendationIn(cluster=good, phase="learning"))
    svc.mark_applied(ok.id, 400)
    svc.record_run(p.id, RunIn(databricks_run_id=400, outcome="success", start_ms=0, end_ms=60_000))
    small = svc.store_recommendation(p.id, RecommendationIn(cluster={"node_type_id": "m5.large", "num_workers": 1},
                                                            phase="learning"))
    svc.mark_applied(small.id, 401)
    svc.record_run(p.id, RunIn(databricks_run_id=401, outcome="oom", start_ms=70_000, end_ms=90_000))
    tf = cli("recommendations", "latest", "etl.load", "--format", "terraform")
    assert tf.exit_code == 0, tf.output
    assert parse_hcl(tf.stdout)["new_cluster"][0] == good
    assert f"recommendation {small.id} (applied - run failed (oom)) skipped; current: recommendation {ok.id}" in tf.stderr
    as_json = json.loads(cli("recommendations", "latest", "etl.load", "--json").stdout)
    assert as_json["id"] == ok.id
    explicit = json.loads(cli("recommendations", "latest", "etl.load", "--state", "applied", "--json").stdout)
    assert explicit["id"] == small.id  # --state applied is unchanged: the one applied last

    q = svc.get_or_create_project("etl.only_oom", baseline_cluster=BASELINE)
    bad = svc.store_recommendation(q.id, RecommendationIn(cluster={"num_workers": 1}, phase="learning"))
    svc.mark_applied(bad.id, 402)
    svc.record_run(q.id, RunIn(databricks_run_id=402, outcome="oom", start_ms=0, end_ms=1_000))
    db = cli("recommendations", "latest", "etl.only_oom", "--format", "databricks-json")
    assert db.exit_code == 0 and json.loads(db.stdout) == BASELINE, db.output
    assert f"recommendation {bad.id} (applied - run failed (oom)) skipped; current: the project's baseline" in db.stderr
    table = cli("recommendations", "latest", "etl.only_oom")
    assert table.exit_code == 0 and "project's baseline" in table.stdout and "m5.xlarge" in table.stdout
    # --json says the same as the table: the baseline is current (never `null`), stderr says what was skipped
    as_json = cli("recommendations", "latest", "etl.only_oom", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == {"source": "baseline", "cluster": BASELINE,
                                          "skipped": {"id": bad.id, "status": "applied - run failed (oom)"}}
    assert f"recommendation {bad.id} (applied - run failed (oom)) skipped" in as_json.stderr


def test_latest_without_any_recommendation_fails_the_same_in_every_format(cli, svc: GradientService) -> None:
    """Nothing on stdout (never `null`), one message on stderr, exit code 1 -- table and --json alike."""
    svc.get_or_create_project("etl.new", baseline_cluster=BASELINE)
    for args in ((), ("--json",), ("--format", "json"), ("--format", "terraform"), ("--state", "ready", "--json")):
        r = cli("recommendations", "latest", "etl.new", *args)
        assert r.exit_code == 1 and r.stdout == "", (args, r.stdout)
        assert "project etl.new has no" in r.stderr and "recommendation" in r.stderr, (args, r.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ("projects", "update", "etl.load", "--max-workers", "0"),
        ("projects", "update", "etl.load", "--max-workers", "10001"),
        ("projects", "update", "etl.load", "--sla-minutes", "-5"),
        ("projects", "update", "etl.load", "--window", "25:00-01:00"),
        ("projects", "update", "etl.load"),
        ("projects", "show", "no.such.project"),
        ("projects", "create", "x.y", "--baseline-cluster", "{not json"),
        ("runs", "list", "no.such.project"),
        ("recommendations", "latest", "etl.load", "--format", "yaml"),
    ],
)
def test_bad_input_exits_2(cli, svc: GradientService, args: tuple[str, ...]) -> None:
    svc.get_or_create_project("etl.load")
    r = cli(*args)
    assert r.exit_code == 2, r.output
    assert "error:" in r.output


def test_delete_and_reset(cli, svc: GradientService) -> None:
    pid = _project_with_history(svc)
    assert cli("projects", "reset", "etl.load", input="n\n").exit_code == 1  # aborted
    assert len(svc.list_runs(pid)) == 3
    r = cli("projects", "reset", "etl.load", "--yes", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["phase"] == "learning"
    assert svc.list_runs(pid) == []
    r = cli("projects", "delete", str(pid), "--yes")
    assert r.exit_code == 0 and "deleted project" in r.output
    assert svc.find_project(pid) is None


def test_runs_list(cli, svc: GradientService) -> None:
    pid = _project_with_history(svc)
    r = cli("runs", "list", "etl.load", "--json")
    assert r.exit_code == 0
    assert [x["databricks_run_id"] for x in json.loads(r.output)] == [102, 101, 100]
    assert [x["databricks_run_id"] for x in json.loads(cli("runs", "list", str(pid), "--limit", "1", "--json").output)] == [102]
    table = cli("runs", "list", "etl.load")
    assert table.exit_code == 0 and "102" in table.output and "m5.xlarge x 4" in table.output


def test_recommendations_latest_formats(cli, svc: GradientService) -> None:
    pid = _project_with_history(svc)
    r = cli("recommendations", "latest", "etl.load")
    assert r.exit_code == 1 and "no ready or applied recommendation" in r.output
    rec = svc.store_recommendation(pid, RecommendationIn(cluster=RECOMMENDED, phase="optimizing",
                                                         predicted_runtime_s=600, predicted_cost_usd=1.25,
                                                         reason="r5 keeps the shuffle in memory"))
    r = cli("recommendations", "latest", "etl.load")
    assert r.exit_code == 0 and "r5.2xlarge x 2-6" in r.output
    assert json.loads(cli("recommendations", "latest", "etl.load", "--json").output)["id"] == rec.id
    assert json.loads(cli("recommendations", "latest", "etl.load", "--format", "databricks-json").output) == RECOMMENDED

    tf = cli("recommendations", "latest", "etl.load", "--format", "terraform")
    assert tf.exit_code == 0, tf.output
    parsed = parse_hcl(tf.output)
    (block,) = parsed["new_cluster"]
    assert block["node_type_id"] == "r5.2xlarge" and block["runtime_engine"] == "PHOTON"
    assert block["autoscale"][0] == {"min_workers": 2, "max_workers": 6}
    assert block["aws_attributes"][0]["availability"] == "SPOT_WITH_FALLBACK"

    full = cli("recommendations", "latest", str(pid), "--format", "terraform", "--with-baseline")
    (merged,) = parse_hcl(full.output)["new_cluster"]
    assert merged["spark_version"] == "15.4.x-scala2.12" and merged["node_type_id"] == "r5.2xlarge"
    assert "num_workers" not in merged and merged["autoscale"][0]["max_workers"] == 6
    assert merged["spark_conf"]["spark.sql.shuffle.partitions"] == "200"
    assert merged["custom_tags"]["team"] == "data eng"
    assert [s for s in merged["init_scripts"]][0]["workspace"][0]["destination"] == "/Shared/init.sh"
    assert len(merged["init_scripts"]) == 2 and merged["enable_elastic_disk"] is True
    merged_json = json.loads(cli("recommendations", "latest", "etl.load", "--format", "databricks-json",
                                 "--with-baseline").output)
    assert merged_json["spark_version"] == BASELINE["spark_version"] and "num_workers" not in merged_json

    # once applied, "latest" still gives what the cluster now runs (what IaC should hold); --state ready does not
    svc.mark_applied(rec.id)
    assert json.loads(cli("recommendations", "latest", "etl.load", "--format", "databricks-json").output) == RECOMMENDED
    assert cli("recommendations", "latest", "etl.load", "--state", "ready").exit_code == 1


def test_terraform_block_inside_a_databricks_job_resource() -> None:
    """The block drops into a databricks_job job_cluster; awkward strings are escaped."""
    cluster = {**BASELINE, "spark_conf": {"spark.x": 'quote " and ${interp} and %{directive} and \\ back'},
               "num_workers": 0, "ssh_public_keys": ["ssh-rsa AAA"]}
    block = to_terraform(cluster)
    indented = "\n".join("    " + line for line in block.splitlines())
    doc = ('resource "databricks_job" "this" {\n  name = "etl"\n  job_cluster {\n    job_cluster_key = "main"\n'
           f"{indented}\n  }}\n}}\n")
    parsed = parse_hcl(doc)
    nc = parsed["resource"][0]["databricks_job"]["this"]["job_cluster"][0]["new_cluster"][0]
    assert nc["num_workers"] == 0 and nc["ssh_public_keys"] == ["ssh-rsa AAA"]
    assert "$${interp}" in block and "%%{directive}" in block


def test_generate_and_apply(cli, svc: GradientService) -> None:
    pid = _project_with_history(svc)
    r = cli("recommendations", "generate", "etl.load", "--json")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output)
    assert rec["state"] == "ready" and svc.latest_recommendation(pid).id == rec["id"]
    r = cli("recommendations", "apply", "etl.load", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["state"] == "applied"
    assert cli("recommendations", "apply", "etl.load").exit_code == 1  # nothing ready any more
    r = cli("recommendations", "apply", "etl.load", "--id", str(rec["id"]), "--run-id", "555", "--json")
    assert json.loads(r.output)["applied_to_run"] == 555
    listing = cli("recommendations", "list", "etl.load", "--json")
    assert [x["id"] for x in json.loads(listing.output)] == [rec["id"]]
    other = svc.get_or_create_project("other.task")
    assert cli("recommendations", "apply", str(other.id), "--id", str(rec["id"])).exit_code == 2
    empty = svc.get_or_create_project("empty.task")
    r = cli("recommendations", "generate", str(empty.id))
    assert r.exit_code == 1 and "baseline" in r.output


def test_help_everywhere(cli) -> None:
    for group in ("db", "projects", "runs", "recommendations"):
        r = cli(group, "--help")
        assert r.exit_code == 0 and "Usage" in r.output
