"""The one redaction rule (core/redact.py): secret names, Spark-style values and secret shapes in free text.

The cases are the ones a run recorded through the API used to keep verbatim (issue 14, item 5).
"""

from __future__ import annotations

import json

import pytest
from secret_cases import AKIA, DAPI, SECRET, issue_cluster, issue_run, issue_secrets

from airflow_provider_gradient.core.redact import (
    REDACTED,
    is_sensitive_name,
    redact_properties,
    redact_text,
    redact_tree,
)

SECRET_NAMES = [
    "spark.hadoop.fs.azure.account.key.myacct.dfs.core.windows.net",
    "spark.hadoop.fs.gs.auth.service.account.private.key",
    "spark.hadoop.fs.gs.auth.service.account.private.key.id",
    "spark.hadoop.fs.azure.account.oauth2.client.credential",
    "spark.hadoop.fs.azure.account.oauth2.client.secret",
    "spark.hadoop.fs.s3a.secret.key",
    "spark.hadoop.fs.s3a.access.key",
    "spark.databricks.token",
    "spark.ssl.keyStorePassword",
    "DB_PWD",
    "API_KEY",
    "SLACK_WEBHOOK_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "DATABRICKS_TOKEN",
    "SSH_KEY",
    "client_secret",
    "Authorization",
]
PLAIN_NAMES = [
    "spark.executor.memory",
    "spark.app.name",
    "task_key",
    "job_cluster_key",
    "node_type_id",
    "num_workers",
    "PYSPARK_PYTHON",
    "spark.sql.shuffle.partitions",
    "executors_avg",
    "input_bytes",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name: str) -> None:
    assert is_sensitive_name(name)
    tree = {"spark_conf": {name: SECRET}, "spark_env_vars": {name: SECRET}}
    assert SECRET not in json.dumps(redact_tree(tree))
    assert redact_properties({name: SECRET}) == {name: REDACTED}


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_plain_names_are_kept(name: str) -> None:
    assert not is_sensitive_name(name)
    assert redact_tree({name: "value-1"}) == {name: "value-1"}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"HTTP 401: Authorization: Bearer {DAPI}", DAPI),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl", "c2lnbmF0dXJl"),
        (f"token {DAPI} rejected", DAPI),
        (f"run failed with {DAPI}-2 in env", DAPI),
        (f"aws key {AKIA} is not authorised", AKIA),
        ("Basic dXNlcjpodW50ZXIy in header", "dXNlcjpodW50ZXIy"),
        (
            "log not delivered: https://bucket.s3.amazonaws.com/logs/eventlog?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={AKIA}%2F20260101%2Fus-east-1&X-Amz-Signature=9f3a6c0e5bd1&X-Amz-Date=20260101",
            "9f3a6c0e5bd1",
        ),
        ("https://acct.blob.core.windows.net/logs/x?sv=2022-11-02&se=2026&sig=AbCdEf%2Bgh%3D&sp=r", "AbCdEf"),
        ("https://storage.googleapis.com/b/o?X-Goog-Signature=0a1b2c3d4e&X-Goog-Date=1", "0a1b2c3d4e"),
        (f"jdbc url postgresql://etl:{SECRET}@db.internal:5432/x", SECRET),
        (f"config password={SECRET} api_key: {SECRET}x", SECRET),
        (f'{{"client_secret": "{SECRET}"}}', SECRET),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow" + SECRET + "\n-----END RSA PRIVATE KEY-----", SECRET),
    ],
)
def test_secret_shapes_in_free_text(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out, out
    assert REDACTED in out


def test_free_text_without_secrets_is_unchanged() -> None:
    for text in (
        "java.lang.OutOfMemoryError: Java heap space",
        "Task failed: executor lost (token bucket exhausted)",
        "log delivered to s3://bucket/logs/0101-abc (3 parts)",
        "https://dbc.example.cloud.databricks.com/?o=123#job/4/run/5",
        "num_workers: 4 -> 6, runtime 12.5 min",
    ):
        assert redact_text(text) == text


def test_the_issue_run_is_redacted_in_the_store(tmp_path: object) -> None:
    """A run carrying every case of the issue, recorded through the service, keeps none of them."""
    from pathlib import Path

    from airflow_provider_gradient.service import GradientService, RunIn

    url = f"sqlite:///{Path(str(tmp_path)) / 'g.db'}"
    svc = GradientService.from_url(url)
    p = svc.get_or_create_project("secrets.task", baseline_cluster=issue_cluster())
    run = svc.record_run(p.id, RunIn(**issue_run(7)))
    dumped = json.dumps([run.model_dump(mode="json"), svc.get_project(p.id).model_dump(mode="json")])
    for secret in issue_secrets():
        assert secret not in dumped, secret
    assert run.cluster_config is not None
    assert run.cluster_config["spark_conf"]["spark.executor.memory"] == "8g"
    assert run.failure_message is not None and run.failure_message.startswith("HTTP 403")
