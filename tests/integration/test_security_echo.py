"""A request that fails validation never gets its secrets echoed back (nor into the api-server's log).

FastAPI's default 422 body repeats the submitted value (``input``, sometimes ``ctx``): a ``runs:record`` body
whose times are swapped answered with the whole body — the cluster's ``spark_conf`` storage key, its
environment's passwords, the failure message's bearer token. Driven through the shared real
``airflow api-server`` (live_server.py) as a user who may edit and as a viewer, and through the page action.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from live_server import LiveServer
from secret_cases import SECRET, issue_cluster, issue_run, issue_secrets

API = "/gradient/api/v1"
SIG = "Qm9vU2lnbmF0dXJlVmFsdWU"
#: a cluster log URL with a SAS signature (an ABFS destination as users paste it)
LOG_URL = f"abfss://logs@acct.dfs.core.windows.net/gradient?sv=2022-11-02&sp=racwl&sig={SIG}"
SECRETS = [*issue_secrets(), SIG]


@pytest.fixture(scope="module")
def project(airflow_api: LiveServer) -> dict[str, Any]:
    with airflow_api.client("admin") as c:
        r = c.post(f"{API}/projects", json={"app_id": "echo_dag.echo_task", "dag_id": "echo_dag",
                                            "task_id": "echo_task"})
        assert r.status_code == 200, r.text
        return dict(r.json())


def _swapped_times(run_id: int) -> dict[str, Any]:
    return {**issue_run(run_id), "start_ms": 61_000, "end_ms": 1_000}


def _double_encoded(run_id: int) -> dict[str, Any]:
    return {**issue_run(run_id), "cluster_config": json.dumps(issue_cluster())}


CASES: list[tuple[str, str, str, Any, str]] = [
    # (id, method, path, body, field the message must name)
    ("record end before start", "POST", "/projects/{pid}/runs:record", _swapped_times(501), "end_ms"),
    ("record cluster as a JSON string", "POST", "/projects/{pid}/runs:record", _double_encoded(502),
     "cluster_config"),
    ("run end before start", "POST", "/projects/{pid}/runs", _swapped_times(503), "end_ms"),
    ("choose-cluster negative workers", "POST", "/projects:choose-cluster",
     {"project": {"app_id": "echo_dag.echo_task", "dag_id": "echo_dag",
                  "baseline_cluster": {**issue_cluster(), "num_workers": -1}}}, "baseline_cluster"),
    ("choose-cluster workers as a secret string", "POST", "/projects:choose-cluster",
     {"project": {"app_id": "echo_dag.echo_task", "baseline_cluster": {"node_type_id": "m5.xlarge",
                                                                       "num_workers": f"{SECRET}-0"}}},
     "baseline_cluster"),
    ("settings half a window", "PATCH", "/projects/{pid}/settings",
     {"cluster_log_url": LOG_URL, "window_start": "01:00"}, "window_end"),
    ("settings log url too long", "PATCH", "/projects/{pid}/settings",
     {"cluster_log_url": LOG_URL + "&x=" + "a" * 1000}, "cluster_log_url"),
]


def _assert_no_secret(text: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"echoed {leaked}: {text[:600]}"


@pytest.mark.parametrize("role", ["user", "viewer"])
@pytest.mark.parametrize(("method", "path", "body", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_422_never_echoes_the_input(
    airflow_api: LiveServer, project: dict[str, Any], role: str, method: str, path: str, body: Any, field: str
) -> None:
    with airflow_api.client(role) as c:
        r = c.request(method, API + path.format(pid=project["id"]), json=body)
    _assert_no_secret(r.text)
    if role == "viewer" and r.status_code == 403:
        return  # the body was well-formed: the service refuses the viewer before it validates the values
    assert r.status_code == 422, r.text[:500]
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    for e in detail:
        assert set(e) == {"loc", "msg", "type"}, e  # never "input" / "ctx"
    assert any(field in ".".join(map(str, e["loc"])) + " " + e["msg"] and e["msg"] for e in detail), detail


def test_page_action_422_never_echoes_the_input(airflow_api: LiveServer, project: dict[str, Any]) -> None:
    """The project page's *Edit settings* action (same rule, its own error shape)."""
    with airflow_api.client("user") as c:
        for body in ({"cluster_log_url": LOG_URL, "window_start": "01:00"},
                     {"cluster_log_url": LOG_URL + "&x=" + "a" * 1000}):
            r = c.post(f"/gradient/ui/actions/projects/{project['id']}/settings", json=body)
            assert r.status_code == 422, r.text[:500]
            _assert_no_secret(r.text)
            assert "window_end" in r.text or "Cluster log URL" in r.text, r.text


def test_api_server_log_holds_no_echoed_secret(airflow_api: LiveServer, project: dict[str, Any]) -> None:
    """After the refused requests above, the api-server's own log holds none of their secrets."""
    with httpx.Client(base_url=airflow_api.url, headers=airflow_api.h("user"), timeout=30) as c:
        r = c.post(f"{API}/projects/{project['id']}/runs:record", json=_swapped_times(504))
        assert r.status_code == 422
    _assert_no_secret((airflow_api.home / "api-server.log").read_text(errors="replace"))
