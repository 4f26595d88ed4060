"""Secrets never stored, logged or served: a full run (emulator + dag.test() + record) with a unique
Databricks token and AWS secret key, secrets in spark_conf / custom_tags, then a scan of every table and
text column of the store, the task logs, XComs and the REST API / page responses. Event-log Spark properties
matching Spark's ``spark.redaction.regex`` are redacted before anything is stored. Hostile app ids and job
names are escaped in every page (XSS).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from airflow_provider_gradient.core.eventlog import parse_event_log
from airflow_provider_gradient.service import GradientService, RunIn

EVENTLOGS = Path(__file__).resolve().parents[2].parent / "shared" / "eventlogs" / "public"
SMALL = EVENTLOGS / "apache-spark" / "local-1426533911241"


def dump_store(url: str) -> str:
    """Every value of every table of the store, as one text blob."""
    eng = create_engine(url)
    out = []
    with eng.connect() as c:
        for table in inspect(eng).get_table_names():
            for row in c.execute(text(f'SELECT * FROM "{table}"')):
                out.append(json.dumps([str(v) for v in row]))
    eng.dispose()
    return "\n".join(out)


def _api_client(svc: GradientService) -> Any:
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.testclient import TestClient

    from airflow_provider_gradient.plugins.app import create_app

    app = create_app(svc)
    app.dependency_overrides[get_user] = lambda: object()
    return app, TestClient(app, headers={"Authorization": "Bearer test"})


def api_and_page_bodies(svc: GradientService, *, html_only: bool = False) -> str:
    """The bodies of every read endpoint and page for every project, run and recommendation."""
    from airflow_provider_gradient.plugins.ui import auth as ui_auth

    app, c = _api_client(svc)
    app.dependency_overrides[ui_auth.page_user] = lambda: object()
    app.dependency_overrides[ui_auth.api_user] = lambda: object()
    bodies = []
    paths = ["/api/v1/health", "/api/v1/projects", "/api/v1/workspaces", "/api/v1/openapi.json", "/ui/",
             "/ui/projects.csv"]
    for p in svc.list_projects():
        paths += [f"/api/v1/projects/{p.id}", f"/api/v1/projects/{p.id}/runs?limit=0",
                  f"/api/v1/projects/{p.id}/recommendations?limit=0", f"/api/v1/projects/{p.id}/settings",
                  f"/api/v1/projects/{p.id}/recommendations/latest?state=any", f"/ui/projects/{p.id}"]
        for r in svc.list_runs(p.id, limit=None):
            paths.append(f"/api/v1/projects/{p.id}/runs/{r.databricks_run_id}")
            if r.dag_id and r.airflow_run_id and r.task_id:
                paths.append(f"/ui/ti?dag_id={r.dag_id}&run_id={r.airflow_run_id}&task_id={r.task_id}")
    for path in paths:
        r = c.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        if not html_only or r.headers.get("content-type", "").startswith("text/html"):
            bodies.append(r.text)
    return "\n".join(bodies)


# ------------------------------------------------------------------------------------------ event logs
def _log_with_secrets(tmp: Path, secret: str) -> Path:
    env = {
        "Event": "SparkListenerEnvironmentUpdate",
        "JVM Information": {"Java Version": "17"},
        "Spark Properties": {
            "spark.hadoop.fs.s3a.secret.key": secret,
            "spark.hadoop.fs.s3a.access.key": secret + "-access",
            "spark.databricks.token": secret + "-token",
            "spark.ssl.keyStorePassword": secret + "-password",
            "spark.executor.memory": "4g",
            "spark.app.name": "secrets-app",
            "spark.databricks.clusterUsageTags.clusterAllTags": json.dumps(
                [{"key": "api_token", "value": secret + "-tag"}]),
            "spark.databricks.clusterUsageTags.clusterId": "0101-secret",
            "spark.databricks.clusterUsageTags.customTag_db_password": secret + "-custom",
        },
        "Hadoop Properties": {"fs.s3a.secret.key": secret + "-hadoop"},
        "System Properties": {"javax.net.ssl.trustStorePassword": secret + "-system"},
        "Classpath Entries": {},
    }
    lines = SMALL.read_bytes().split(b"\n")
    lines.insert(2, json.dumps(env).encode())
    path = tmp / "eventlog"
    path.write_bytes(b"\n".join(lines))
    return path


@pytest.mark.skipif(not SMALL.is_file(), reason="shared event logs not found")
def test_eventlog_secret_properties_redacted_before_storing(tmp_path: Path) -> None:
    from airflow_provider_gradient.service.ingest import summary_dict

    secret = "S3CR3T" + secrets.token_hex(8)
    summary = parse_event_log(_log_with_secrets(tmp_path, secret))
    summary_json = json.dumps(summary.to_dict())
    assert secret not in summary_json, "the parser kept a secret property"
    url = f"sqlite:///{tmp_path / 'gradient.db'}"
    svc = GradientService.from_url(url)
    p = svc.get_or_create_project("secrets.task", baseline_cluster={
        "node_type_id": "m5.xlarge", "num_workers": 2,
        "spark_conf": {"spark.hadoop.fs.s3a.secret.key": secret, "spark.password": secret},
        "spark_env_vars": {"DATABRICKS_TOKEN": secret}})
    metrics = summary_dict(summary)
    assert metrics is not None
    # a caller that passes raw properties by mistake must still not get them stored
    metrics = {**metrics, "spark_properties": {**(metrics.get("spark_properties") or {}),
                                              "spark.hadoop.fs.s3a.secret.key": secret}}
    svc.record_run(p.id, RunIn(
        databricks_run_id=7, outcome="success", metrics=metrics, log_status="complete",
        cluster_config={"node_type_id": "m5.xlarge", "num_workers": 2,
                        "spark_conf": {"spark.databricks.token": secret, "fs.s3a.access.key": secret}},
        failure_message=None))
    blob = dump_store(url)
    assert secret not in blob
    assert "*********(redacted)" in blob  # the keys stay visible, their values do not
    assert secret not in api_and_page_bodies(svc)


# ------------------------------------------------------------------------------------------ full run
DAG = '''
import pendulum
from airflow.sdk import DAG
from airflow_provider_gradient.operators.gradient import GradientDatabricksOperator

with DAG("secrets_dag", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False):
    GradientDatabricksOperator(
        task_id="job",
        new_cluster={{"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2,
                     "custom_tags": {{"emulator_profile": "small_startup", "deploy_token": "{secret}-tag"}},
                     "spark_conf": {{"spark.hadoop.fs.s3a.secret.key": "{secret}-conf",
                                    "spark.databricks.token": "{secret}-conf2"}},
                     "spark_env_vars": {{"DB_PASSWORD": "{secret}-env"}}}},
        notebook_task={{"notebook_path": "/Shared/jobs/small_startup"}},
        gradient_aws_conn_id="aws_default",
        gradient_log_tries=6,
        gradient_log_backoff_s=0.5,
        polling_period_seconds=1,
    )
'''


@pytest.fixture
def own_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, str]]:
    """An emulator with a unique token, moto with a unique AWS secret; connections point at them."""
    from airflow_provider_gradient.simulator.testing import running_emulator

    token = "dapi" + secrets.token_hex(16)
    aws_secret = "AWSS" + secrets.token_hex(16)
    with running_emulator(tmp_path / "emu", token=token, time_scale=600, aws=True) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_DATABRICKS_DEFAULT", emu.airflow_conn_uri)
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(
            {"conn_type": "aws", "login": "AKIATESTSECRETSCAN", "password": aws_secret,
             "extra": {"endpoint_url": emu.aws_endpoint, "region_name": "us-east-1"}}))
        yield emu, token, aws_secret


@pytest.mark.slow
def test_full_run_leaks_no_secret(
    airflow_home: dict[str, Any], dag_files: Any, own_emulator: tuple[Any, str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    from airflow.configuration import conf

    emu, token, aws_secret = own_emulator
    secret = "USR" + secrets.token_hex(12)
    url = f"sqlite:///{tmp_path / 'gradient.db'}"
    monkeypatch.setenv("AIRFLOW__GRADIENT__STORE_URL", url)
    monkeypatch.delenv("AIRFLOW_CONN_GRADIENT_DEFAULT", raising=False)
    old = conf.get("gradient", "store_url", fallback="")
    conf.set("gradient", "store_url", url)
    try:
        path = dag_files.write("secrets_dag.py", DAG.format(secret=secret))
        dag = dag_files.load("secrets_dag", path)
        caplog.set_level("INFO")  # the task log level of the deployment (AIRFLOW__LOGGING__LOGGING_LEVEL)
        dag_run = dag.test()
        assert "success" in str(dag_run.state).lower(), dag_run.state
    finally:
        conf.set("gradient", "store_url", old or "")
    svc = GradientService.from_url(url)
    runs = [r for p in svc.list_projects() for r in svc.list_runs(p.id, limit=None)]
    assert len(runs) == 1 and runs[0].cost is not None, runs  # the run was really recorded

    needles = {"databricks token": token, "aws secret": aws_secret, "spark_conf secret": secret}
    out, err = capfd.readouterr()
    haystacks = {
        "store": dump_store(url),
        "task logs": out + err + "\n".join(r.getMessage() for r in caplog.records),
        "api/pages": api_and_page_bodies(svc),
        "xcom": _xcoms("secrets_dag"),
    }
    assert "secrets_dag" in haystacks["store"] and haystacks["xcom"], "nothing to scan: the run was not recorded"
    assert "Gradient" in haystacks["task logs"], "the task's own log lines were not captured"
    leaks = [f"{what} in {where}" for where, hay in haystacks.items() for what, needle in needles.items()
             if needle in hay]
    if leaks:
        context = [m.group(0) for hay in haystacks.values() for needle in needles.values()
                   for m in re.finditer(r".{0,300}" + re.escape(needle) + r".{0,80}", hay)]
        pytest.fail(f"{leaks}: {context[:3]}")


def _xcoms(dag_id: str) -> str:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == dag_id).all()
        return "\n".join(f"{r.key}={r.value}" for r in rows)


# ------------------------------------------------------------------------------------------ XSS
HOSTILE = [
    '<script>alert("x")</script>',
    '"><img src=x onerror=alert(1)>',
    "';alert(String.fromCharCode(88));//",
    "</title><svg/onload=alert(1)>",
    "{{7*7}}<b>bold</b>",
    "javascript:alert(1)",
]


def test_hostile_names_are_escaped_in_every_page(tmp_path: Path) -> None:
    svc = GradientService.from_url(f"sqlite:///{tmp_path / 'gradient.db'}")
    for i, evil in enumerate(HOSTILE):
        p = svc.get_or_create_project(f"{evil}.task{i}", name=f"job {evil}", dag_id=f"dag{evil}"[:250],
                                      task_id=evil, baseline_cluster={"node_type_id": "m5.xlarge",
                                                                      "num_workers": 2})
        svc.update_settings(p.id, {"sla_minutes": 30})
        svc.record_run(p.id, RunIn(databricks_run_id=i + 1, outcome="failed", failure_message=evil,
                                   start_ms=1_700_000_000_000, end_ms=1_700_000_600_000, task_key=evil,
                                   dag_id=f"dag{evil}", task_id=evil, airflow_run_id=f"run{evil}",
                                   cluster_config={"node_type_id": "m5.xlarge", "num_workers": 2,
                                                   "custom_tags": {"x": evil}}))
    html = api_and_page_bodies(svc, html_only=True)
    assert html.count("<html") >= len(HOSTILE) + 1, "pages missing"
    for evil in HOSTILE:
        if "<" in evil or '"' in evil:
            assert evil not in html, f"unescaped: {evil}"
    assert not re.search(r"<script>alert|<img src=x|<svg/onload|<b>bold</b>", html, re.I)
