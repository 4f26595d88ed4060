"""pre_execute form on an unmodified DatabricksSubmitRunOperator, deferrable mode, no-code onboarding
(cluster policy + listener) and fail-open (store unreachable / HTTP 500 / hanging API), via dag.test()."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_gradient.core.payload import TAG_PROJECT_ID, TAG_RECOMMENDATION_ID

pytestmark = pytest.mark.slow

USER_CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": "4"}

ONBOARD_DAG = '''
import pendulum
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.sdk import DAG

CLUSTER = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 4}

for dag_id, tags in (("it_onboard_tagged", ["gradient"]), ("it_onboard_untagged", [])):
    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=tags):
        DatabricksSubmitRunOperator(
            task_id="etl",
            new_cluster=CLUSTER,
            notebook_task={"notebook_path": "/Shared/jobs/small_startup"},
            polling_period_seconds=1,
        )
'''

def _str(d: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in d.items()}


def test_pre_execute_hook_on_unmodified_operator(dag_files: Any, submits: Any, gradient_store: Any) -> None:
    dag = dag_files.load("example_gradient_pre_execute", dag_files.home["dags"] / "example_gradient_pre_execute.py")
    before = len(submits())
    for _ in range(3):
        # small_startup: a short job (etl_scaling runs ~2.6 h of emulated time, ~20 s a run here)
        assert dag.test(run_conf={"profile": "small_startup"}).state == "success"
    bodies = submits()[before:]
    svc = gradient_store
    project = svc.get_project("example_gradient_pre_execute.nightly_etl")
    runs = sorted(svc.list_runs(project.id), key=lambda r: r.databricks_run_id)
    assert len(runs) == 3 and len(bodies) == 3  # recorded once each, by the listener
    assert all(r.cost is not None and r.cost.total_usd > 0 and r.outcome == "success" for r in runs)
    recs = sorted(svc.list_recommendations(project.id, limit=None), key=lambda r: r.id)
    assert bodies[0]["new_cluster"]["custom_tags"][TAG_RECOMMENDATION_ID] == "none"
    for k in (1, 2):
        assert runs[k].recommendation_id == recs[k - 1].id
        for key in ("node_type_id", "driver_node_type_id", "num_workers", "autoscale"):
            if key in recs[k - 1].cluster:
                want = recs[k - 1].cluster[key]
                got = bodies[k]["new_cluster"][key]
                assert (_str(got) if isinstance(got, dict) else str(got)) == (
                    _str(want) if isinstance(want, dict) else str(want)
                )


@pytest.mark.parametrize("variant", ["deferrable", "collect_defer"])
def test_deferrable_operator_applies_and_records_once(
    variant: str, one_task_dag: Any, submits: Any, gradient_store: Any
) -> None:
    # deferrable: the whole run is deferred; collect_defer: a sync run, then the event-log wait is deferred
    mode: dict[str, Any] = {"deferrable": True} if variant == "deferrable" else {"collect": "defer"}
    dag = one_task_dag("it_gradient_deferrable", {"node_type_id": "m5.xlarge", "num_workers": 4}, **mode)
    before = len(submits())
    assert dag.test().state == "success"
    bodies = submits()[before:]
    assert len(bodies) == 1
    project = gradient_store.get_project("it_gradient_deferrable.etl")
    assert bodies[0]["new_cluster"]["custom_tags"][TAG_PROJECT_ID] == str(project.id)
    runs = gradient_store.list_runs(project.id)
    assert len(runs) == 1 and runs[0].cost is not None and runs[0].cost.total_usd > 0
    assert len(gradient_store.list_recommendations(project.id, limit=None)) == 1


def test_policy_and_listener_onboard_untouched_dag(
    dag_files: Any, submits: Any, gradient_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.configuration import conf

    monkeypatch.setenv("AIRFLOW__GRADIENT__ONBOARD", "tagged")
    conf.set("gradient", "onboard", "tagged")
    try:
        path = dag_files.write("it_onboard.py", ONBOARD_DAG)
        tagged = dag_files.load("it_onboard_tagged", path)
        untagged = dag_files.load("it_onboard_untagged", path)
        before = len(submits())
        assert tagged.test().state == "success"
        assert untagged.test().state == "success"
    finally:
        conf.set("gradient", "onboard", "none")
    bodies = submits()[before:]
    svc = gradient_store
    project = svc.get_project("it_onboard_tagged.etl")
    assert [p.app_id for p in svc.list_projects()] == ["it_onboard_tagged.etl"]  # untagged DAG untouched
    assert bodies[0]["new_cluster"]["custom_tags"][TAG_PROJECT_ID] == str(project.id)
    assert "custom_tags" not in bodies[1]["new_cluster"]
    runs = svc.list_runs(project.id)
    assert len(runs) == 1 and runs[0].cost is not None and runs[0].cost.total_usd > 0


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "500"

    def _answer(self) -> None:
        if self.server.mode == "hang":  # type: ignore[attr-defined]
            time.sleep(20)
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail": "boom"}')

    do_GET = do_POST = do_PUT = do_PATCH = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def broken_api() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.mode = "500"  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("fault", ["store_unreachable", "http_500", "http_hang"])
def test_fail_open(
    fault: str,
    dag_files: Any,
    submits: Any,
    gradient_store: Any,
    broken_api: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    if fault == "store_unreachable":
        conn = {"conn_type": "gradient", "extra": {"mode": "local",
                                                   "store_url": "postgresql+psycopg://gradient@127.0.0.1:9/nowhere"}}
    else:
        broken_api.mode = "hang" if fault == "http_hang" else "500"
        conn = {"conn_type": "gradient", "host": f"http://127.0.0.1:{broken_api.server_address[1]}",
                "password": "test-token", "extra": {"mode": "http", "retries": 0, "timeout": 30}}
    monkeypatch.setenv("AIRFLOW_CONN_GRADIENT_DEFAULT", json.dumps(conn))
    # The hang is cut by the default 2 s budget. The errors must be what the log reports, so they get a budget
    # that machine load cannot exhaust (the first connection to a store imports its driver, which took > 2 s on
    # a loaded CI machine: the log then rightly said "timeout", not the connection error this case checks).
    budget = 2.0 if fault == "http_hang" else 60.0
    if fault != "http_hang":
        monkeypatch.setenv("AIRFLOW__GRADIENT__PRE_EXECUTE_TIMEOUT_SECONDS", str(budget))
    dag = dag_files.load("example_gradient_pre_execute", dag_files.home["dags"] / "example_gradient_pre_execute.py")
    before = len(submits())
    capfd.readouterr()
    assert dag.test(run_conf={"profile": "small_startup"}).state == "success"
    out = "".join(capfd.readouterr())
    bodies = submits()[before:]
    assert len(bodies) == 1
    cluster = bodies[0]["new_cluster"]
    assert {k: str(v) for k, v in cluster.items() if k != "custom_tags"} == USER_CLUSTER  # the original cluster
    assert not any(k.startswith("gradient:") for k in cluster.get("custom_tags") or {})
    match = re.search(r"running on the original cluster \(fail-open after ([0-9.]+) s\): ([^\n]*)", out)
    assert match, out[-3000:]
    assert float(match.group(1)) <= budget + 0.5
    reason = match.group(2)
    expected = {"store_unreachable": "OperationalError|connect", "http_500": "500|boom", "http_hang": "did not answer within 2"}[fault]
    assert re.search(expected, reason), reason
    assert "optimiser still unavailable" in out  # the listener does not hang on a dead optimiser either
    assert gradient_store.list_projects() == []  # nothing reached the (healthy) default store
