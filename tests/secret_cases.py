"""The secrets a run recorded through the API used to keep verbatim (issue 14, item 5): one place for the
unit test of the redaction rule and the end-to-end test through the api-server (importable from any test:
``tests/`` is on ``sys.path`` through its conftest.py)."""

from __future__ import annotations

SECRET = "Zq8vS3cr3tV4lue"
DAPI = "dapi0123456789abcdef0123456789abcdef"
AKIA = "AKIAIOSFODNN7EXAMPLE"


def issue_secrets() -> list[str]:
    """The secret values planted by :func:`issue_cluster` / :func:`issue_run`."""
    return [f"{SECRET}-{i}" for i in range(8)] + [DAPI, AKIA, "5a9e1c0ffee", "Zx9sig"]


def issue_cluster() -> dict[str, object]:
    """A cluster with the issue's secret Spark properties and environment variables."""
    return {
        "node_type_id": "m5.xlarge",
        "num_workers": 2,
        "spark_conf": {
            "spark.hadoop.fs.azure.account.key.myacct.dfs.core.windows.net": f"{SECRET}-0",
            "spark.hadoop.fs.gs.auth.service.account.private.key": f"{SECRET}-1",
            "spark.hadoop.fs.azure.account.oauth2.client.credential": f"{SECRET}-2",
            "spark.executor.memory": "8g",
        },
        "spark_env_vars": {
            "DB_PWD": f"{SECRET}-3",
            "API_KEY": f"{SECRET}-4",
            "SLACK_WEBHOOK_URL": f"https://hooks.slack.com/services/{SECRET}-5",
            "AWS_ACCESS_KEY_ID": AKIA,
            "PYSPARK_PYTHON": "/databricks/python3/bin/python3",
        },
    }


def issue_run(run_id: int) -> dict[str, object]:
    """A RunIn body with the issue's secrets in the cluster, the failure message and the log reason."""
    return {
        "databricks_run_id": run_id,
        "outcome": "failed",
        "start_ms": 1_000,
        "end_ms": 61_000,
        "cluster_config": issue_cluster(),
        "failure_message": f"HTTP 403 from https://dbc.example/api: Authorization: Bearer {DAPI}; "
        f"aws_secret_access_key={SECRET}-6",
        "log_reason": "event log not readable: https://b.s3.amazonaws.com/x?X-Amz-Signature=5a9e1c0ffee"
        f"&X-Amz-Security-Token={SECRET}-7 and https://a.blob.core.windows.net/c?sig=Zx9sig&sv=1",
        "metrics": {"spark_properties": {"spark.hadoop.fs.azure.account.key.a.dfs.core.windows.net": "x"}},
    }
