"""End to end, the way a user hits it: a GradientDatabricksOperator in http mode with secrets in its cluster
(spark_conf, spark_env_vars, custom_tags) against the emulator and a real Gradient HTTP server (the plugin app
under uvicorn, every request body it receives kept). The server fails the record, so the run is queued. The
secrets never reach the Gradient server nor the queued file (private, 0600 in a 0700 folder); Databricks gets
the user's real values."""

from __future__ import annotations

import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from app_users import as_admin
from serving import free_port

from airflow_provider_gradient.core.redact import REDACTED

pytestmark = pytest.mark.slow


class RecordingGradient:
    """ASGI wrapper of the Gradient app: keeps (method, path, body) of every request; answers 500 to
    ``runs:record`` while ``fail_record`` (the optimiser erroring after the run)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, str, bytes]] = []
        self.fail_record = True

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        self.seen.append((scope["method"], scope["path"], body))
        if self.fail_record and scope["path"].endswith("/runs:record"):
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"detail": "optimiser error"}'})
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return dict(await receive())

        await self.app(scope, replay, send)


@pytest.fixture
def gradient_server(gradient_store: Any) -> Iterator[tuple[RecordingGradient, str]]:
    """The plugin app over the test's store, mounted at /gradient as the api-server mounts it, served by uvicorn
    on 127.0.0.1 in this process; yields the recorder and the connection URI of an http-mode connection."""
    import uvicorn
    from fastapi import FastAPI

    from airflow_provider_gradient.plugins.app import create_app

    root = FastAPI()
    root.mount("/gradient", as_admin(create_app(gradient_store)))
    recorder = RecordingGradient(root)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the Gradient server did not start"
        time.sleep(0.05)
    conn = {"conn_type": "gradient", "host": f"http://127.0.0.1:{port}", "password": "gradient-api-token",
            "extra": {"mode": "http", "retries": 0, "timeout": 30}}
    yield recorder, json.dumps(conn)
    server.should_exit = True
    thread.join(10)


def test_http_mode_sends_no_secret_and_queues_none(
    one_task_dag: Any, submits: Any, gradient_store: Any, gradient_server: tuple[RecordingGradient, str],
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_gradient.operators.steps import pending_runs

    recorder, conn = gradient_server
    monkeypatch.setenv("AIRFLOW_CONN_GRADIENT_DEFAULT", conn)
    monkeypatch.setenv("AIRFLOW__GRADIENT__PRE_EXECUTE_TIMEOUT_SECONDS", "30")  # a loaded machine still applies
    old_umask = os.umask(0o022)  # the usual umask: a folder made without care would be 0755, a file 0644
    secret = "USR" + secrets.token_hex(12)
    user_cluster = {
        "node_type_id": "m5.xlarge", "num_workers": 2,
        "spark_conf": {"spark.hadoop.fs.s3a.secret.key": f"{secret}-conf", "spark.executor.memory": "4g"},
        "spark_env_vars": {"DB_PASSWORD": f"{secret}-env", "PYSPARK_PYTHON": "/databricks/python3/bin/python3"},
        "custom_tags": {"team": "etl", "deploy_token": f"{secret}-tag"},
        "cluster_log_conf": {"dbfs": {"destination": "dbfs:/cluster-logs/it_redact_http"}},
    }
    try:
        dag = one_task_dag("it_redact_http", user_cluster, gradient_log_tries=4, gradient_log_backoff_s=0.3)
        before = len(submits())
        assert dag.test().state == "success"
    finally:
        os.umask(old_umask)

    # Databricks got the user's real values
    (body,) = submits()[before:]
    submitted = body["new_cluster"]
    assert submitted["spark_conf"]["spark.hadoop.fs.s3a.secret.key"] == f"{secret}-conf"
    assert submitted["spark_env_vars"]["DB_PASSWORD"] == f"{secret}-env"
    assert submitted["custom_tags"]["deploy_token"] == f"{secret}-tag"

    # the Gradient server got the cluster (what the optimiser needs) and the run, never a secret
    paths = [p for _, p, _ in recorder.seen]
    assert "/gradient/api/v1/projects:choose-cluster" in paths, paths
    assert any(p.endswith("/runs:record") for p in paths), paths  # sent (then failed by the server)
    received = "\n".join(f"{m} {p} {b.decode(errors='replace')}" for m, p, b in recorder.seen)
    assert secret not in received, received[max(0, received.find(secret) - 300):received.find(secret) + 80]
    assert emulator.token not in received
    choose = next(json.loads(b) for _, p, b in recorder.seen if p.endswith("projects:choose-cluster"))
    baseline = choose["project"]["baseline_cluster"]
    assert baseline["node_type_id"] == "m5.xlarge" and baseline["num_workers"] == 2
    assert baseline["spark_conf"] == {"spark.hadoop.fs.s3a.secret.key": REDACTED, "spark.executor.memory": "4g"}
    assert baseline["custom_tags"] == {"team": "etl", "deploy_token": REDACTED}
    project = gradient_store.get_project("it_redact_http.etl")
    assert project.baseline_cluster is not None and project.baseline_cluster["spark_conf"] == baseline["spark_conf"]

    # the run the server failed to record is queued: private, whole, without a secret
    queue = tmp_path / "pending"  # [gradient] pending_dir of this test (gradient_store)
    (entry,) = pending_runs(queue)
    assert entry.app_id == "it_redact_http.etl" and entry.dag_id == "it_redact_http" and entry.task_id == "etl"
    assert entry.last_error and "optimiser error" in entry.last_error, entry.last_error
    files = list(queue.iterdir())
    assert [f.name for f in files] == [f"run-{entry.databricks_run_id}.json"]
    assert stat.S_IMODE(queue.stat().st_mode) == 0o700 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    text = files[0].read_text()
    assert secret not in text and emulator.token not in text, text
