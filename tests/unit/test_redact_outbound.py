"""Secrets leave the worker redacted: the http client's request bodies (the same rule the service applies before
storing: ``service/redaction.py`` over ``core/redact.py``) and the queue of runs not recorded yet (redacted, private,
written atomically). The client talks to the real plugin app over a real store (TestClient behind httpx)."""

from __future__ import annotations

import copy
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from app_users import as_admin
from fastapi.testclient import TestClient
from secret_cases import AKIA, DAPI, SECRET, issue_cluster, issue_run, issue_secrets

from airflow_provider_gradient.core.redact import REDACTED
from airflow_provider_gradient.hooks.http_client import GradientHttpClient
from airflow_provider_gradient.operators.steps import (
    PendingRun,
    guarded_apply,
    pending_runs,
    remember,
    sync_pending,
)
from airflow_provider_gradient.plugins.app import create_app
from airflow_provider_gradient.service import GradientService
from airflow_provider_gradient.service.redaction import redacted
from airflow_provider_gradient.service.schemas import (
    ApplyChoiceIn,
    ProjectIn,
    ProjectSettingsIn,
    Recommendation,
    RecommendationIn,
    RunIn,
    WorkspaceIn,
)

pytestmark = pytest.mark.sqlite_only

SIGNED = "https://b.s3.amazonaws.com/init.sh?X-Amz-Signature=5a9e1c0ffee&X-Amz-Credential=" + AKIA


def cluster() -> dict[str, Any]:
    """The issue's cluster plus a secret custom tag and a presigned init script."""
    return {
        **issue_cluster(),
        "spark_version": "15.4.x-scala2.12",
        "custom_tags": {"team": "etl", "deploy_token": f"{SECRET}-tag"},
        "init_scripts": [{"s3": {"destination": SIGNED}}, {"workspace": {"destination": "/Shared/init.sh"}}],
        "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1},
    }


NEEDLES = [*issue_secrets(), f"{SECRET}-tag", "5a9e1c0ffee", f"{SECRET}-ws", f"{SECRET}-reason"]


def _kept(c: dict[str, Any]) -> None:
    """What the optimiser reads of a cluster survives the redaction."""
    assert c["node_type_id"] == "m5.xlarge" and c["num_workers"] == 2 and c["spark_version"] == "15.4.x-scala2.12"
    assert c["spark_conf"]["spark.executor.memory"] == "8g"
    assert c["spark_env_vars"]["PYSPARK_PYTHON"] == "/databricks/python3/bin/python3"
    assert c["custom_tags"]["team"] == "etl" and c["custom_tags"]["deploy_token"] == REDACTED
    assert c["aws_attributes"] == {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1}
    assert c["init_scripts"][1] == {"workspace": {"destination": "/Shared/init.sh"}}


# ------------------------------------------------------------------------------------------ the rule per object
def test_redacted_value_objects() -> None:
    raw = cluster()
    choice = ApplyChoiceIn(project=ProjectIn(
        app_id="wire.etl", baseline_cluster=raw,
        settings=ProjectSettingsIn(sla_minutes=30, cluster_log_url=SIGNED),
        workspace=WorkspaceIn(name="prod", host=f"https://token:{SECRET}-ws@dbc.example")))
    before = copy.deepcopy(raw)
    out = redacted(choice)
    text = out.model_dump_json()
    assert not [n for n in NEEDLES if n in text], text
    assert raw == before and choice.project.baseline_cluster == before  # copies: the submitted cluster is untouched
    assert out.project.baseline_cluster is not None
    _kept(out.project.baseline_cluster)
    assert out.project.settings is not None and out.project.settings.sla_minutes == 30
    assert out.project.workspace is not None and out.project.workspace.host == f"https://token:{REDACTED}@dbc.example"
    # the same keys are sent (exclude_unset), redacting twice changes nothing, nothing secret -> the same object
    assert out.model_dump(exclude_unset=True).keys() == choice.model_dump(exclude_unset=True).keys()
    assert out.project.model_fields_set == choice.project.model_fields_set
    assert redacted(out) == out
    plain = ProjectIn(app_id="a.b", baseline_cluster={"node_type_id": "m5.xlarge", "num_workers": 1})
    assert redacted(plain) is plain

    run = redacted(RunIn.model_validate(issue_run(5)))
    assert not [n for n in NEEDLES if n in run.model_dump_json()]
    assert run.failure_message and run.failure_message.startswith("HTTP 403 from https://dbc.example/api")
    rec = Recommendation(id=1, project_id=1, created_ms=1, updated_ms=1, state="ready", phase="learning",
                         cluster=cluster(), reason=f"token={SECRET}-reason")
    out_rec = redacted(rec)  # a subclass uses its base's fields (RecommendationIn)
    assert isinstance(out_rec, Recommendation) and not [n for n in NEEDLES if n in out_rec.model_dump_json()]


# ------------------------------------------------------------------------------------------ http mode
@pytest.fixture
def wire(tmp_path: Path) -> Iterator[tuple[GradientHttpClient, list[httpx.Request], GradientService]]:
    """An http client whose requests reach the real plugin app over a real store; every request is kept."""
    svc = GradientService.from_url(f"sqlite:///{tmp_path / 'gradient.db'}")
    seen: list[httpx.Request] = []
    with TestClient(as_admin(create_app(svc))) as app:
        def forward(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            path = request.url.path.removeprefix("/gradient")
            r = app.request(request.method, path, params=request.url.params, content=request.content,
                            headers={"content-type": "application/json"})
            return httpx.Response(r.status_code, content=r.content, headers={"content-type": "application/json"})

        client = GradientHttpClient("http://gradient.test", token="tok", retries=0,
                                    transport=httpx.MockTransport(forward))
        yield client, seen, svc
        client.close()


def test_http_client_sends_no_secret_and_the_store_keeps_the_same(wire: Any, tmp_path: Path) -> None:
    client, seen, svc = wire
    raw = cluster()
    before = copy.deepcopy(raw)
    choice = client.choose_cluster(ApplyChoiceIn(project=ProjectIn(
        app_id="wire.etl", baseline_cluster=raw, settings=ProjectSettingsIn(cluster_log_url=SIGNED),
        workspace=WorkspaceIn(name="prod", host=f"https://token:{SECRET}-ws@dbc.example"))))
    pid = choice.project.id
    outcome = client.record_and_recommend(pid, {**issue_run(11), "cluster_config": raw}, recommend=False)
    client.record_run(pid, issue_run(12))
    client.store_recommendation(pid, RecommendationIn(cluster=raw, phase="learning", reason=f"token={SECRET}-reason"))
    client.update_project(pid, baseline_cluster=raw)
    client.update_settings(pid, {"cluster_log_url": SIGNED})
    client.get_or_create_workspace({"name": "other", "host": f"https://token:{SECRET}-ws@dbc.example"})
    client.create_project(ProjectIn(app_id="wire.other", baseline_cluster=raw))
    assert raw == before  # the caller's cluster (what Databricks gets) keeps its real values

    bodies = [r.content.decode() for r in seen if r.content]
    assert len(bodies) == 8
    leaks = [(n, b[:200]) for b in bodies for n in NEEDLES if n in b]
    assert not leaks, leaks
    assert all(REDACTED in b for b in bodies)

    # the service stores exactly what it stores in local mode; the optimiser's fields are kept
    local = GradientService.from_url(f"sqlite:///{tmp_path / 'local.db'}")
    lp = local.choose_cluster(ApplyChoiceIn(project=ProjectIn(app_id="wire.etl", baseline_cluster=before))).project
    local.record_run(lp.id, {**issue_run(11), "cluster_config": before})
    stored, here = svc.get_run(pid, 11), local.get_run(lp.id, 11)
    for field in ("cluster_config", "metrics", "failure_message", "log_reason"):
        assert getattr(stored, field) == getattr(here, field), field
    assert outcome.run.cluster_config == here.cluster_config
    project = svc.get_project(pid)
    assert project.baseline_cluster == lp.baseline_cluster
    assert project.baseline_cluster is not None
    _kept(project.baseline_cluster)


# ------------------------------------------------------------------------------------------ queue of runs
def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the usual umask: new folders 0755, files 0644
    yield
    os.umask(old)


def test_pending_file_is_private_and_redacted(tmp_path: Path, umask_022: None) -> None:
    queue = tmp_path / "home" / "pending"
    entry = PendingRun(
        databricks_run_id=42, app_id="wire.etl", dag_id="wire", task_id="etl",
        log_destinations=(SIGNED,), last_error=str(issue_run(42)["failure_message"]),
        extra={"api_token": f"{SECRET}-tag", "note": str(issue_run(42)["log_reason"])},
    )
    path = remember(entry, queue)
    text = path.read_text()
    assert not [n for n in NEEDLES if n in text], text
    assert _mode(path) == 0o600 and _mode(queue) == 0o700
    assert [p.name for p in queue.iterdir()] == ["run-42.json"]  # no temporary file left
    (back,) = pending_runs(queue)
    assert back.databricks_run_id == 42 and back.app_id == "wire.etl" and back.log_destinations[0].startswith(
        "https://b.s3.amazonaws.com/init.sh?X-Amz-Signature=" + REDACTED)
    assert back.last_error and back.last_error.startswith("HTTP 403 from https://dbc.example/api")

    # a folder made readable by others (an older version, a manual mkdir) is made private again
    os.chmod(queue, 0o755)
    remember(entry, queue)
    assert _mode(queue) == 0o700


def test_pending_write_is_atomic(tmp_path: Path) -> None:
    queue = tmp_path / "pending"
    path = remember(PendingRun(databricks_run_id=7, app_id="a.b"), queue)
    good = path.read_text()
    with pytest.raises(TypeError):  # not JSON: the write fails half-way
        remember(PendingRun(databricks_run_id=7, app_id="a.b", extra={"x": object()}), queue)
    assert path.read_text() == good
    assert sorted(p.name for p in queue.iterdir()) == ["run-7.json"]


def test_pending_errors_are_redacted_before_they_are_cut(tmp_path: Path) -> None:
    """A queued run that still cannot be recorded keeps why, redacted first and then cut to 500 characters."""
    queue = tmp_path / "pending"
    remember(PendingRun(databricks_run_id=9, app_id="wire.etl", dag_id="wire", task_id="etl",
                        log_destinations=("s3://logs/x",)), queue)
    errors = [
        # the token straddles the 500-character cut ("RuntimeError: " first): cutting first would keep its start
        "x" * 451 + f" Authorization: Bearer {DAPI}",
        f"runs/get answered 403 for aws_secret_access_key={SECRET}-6",
    ]
    for attempt, error in enumerate(errors, 1):

        def failing(_target: Any, _client: Any, error: str = error) -> list[Any]:
            raise RuntimeError(error)

        (done,) = sync_pending(None, folder=queue, record=failing)  # type: ignore[arg-type]
        assert not done.recorded and done.error and len(done.error) <= 500
        raw = (queue / "run-9.json").read_text()
        for text in (done.error, raw):
            assert DAPI[:8] not in text and f"{SECRET}-6" not in text
        assert json.loads(raw)["attempts"] == attempt and json.loads(raw)["log_destinations"] == ["s3://logs/x"]


def _fail_open_reason(error: str) -> tuple[str, str]:
    """The apply step failing with ``error``: the reason it keeps on the task and the warning it logs."""
    task = SimpleNamespace(dag_id="wire", task_id="etl", params={}, json={"new_cluster": cluster()},
                           new_cluster=None, tasks=None)
    warnings: list[str] = []
    logger = SimpleNamespace(info=lambda *a: None, warning=lambda msg, *a: warnings.append(msg % a))

    def failing(_task: Any, _context: Any, _client: Any) -> Any:
        raise RuntimeError(error)

    state = guarded_apply(task, None, client_factory=lambda _t: None, apply_fn=failing, logger=logger)  # type: ignore[arg-type,return-value]
    (warning,) = warnings
    assert state.fail_open_reason is not None and state.fail_open_reason in warning
    return state.fail_open_reason, warning


def test_fail_open_reason_uses_the_one_rule() -> None:
    reason, warning = _fail_open_reason(f"403 for {SIGNED}; aws_secret_access_key={SECRET}-6; Bearer {DAPI}")
    for text in (reason, warning):
        assert not [n for n in [*NEEDLES, f"{SECRET}-6"] if n in text], text
    long, _ = _fail_open_reason("x" * 600)
    assert long.startswith("RuntimeError: xxx") and long.endswith("...") and len(long) == 503
