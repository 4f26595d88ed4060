"""DatabricksHook (apache-airflow-providers-databricks, unmodified) against every endpoint the emulator serves."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLUSTER = {
    "spark_version": "15.4.x-scala2.12",
    "node_type_id": "m5.xlarge",
    "num_workers": 2,
    "custom_tags": {"emulator_profile": "small_startup"},
    "cluster_log_conf": {"dbfs": {"destination": "dbfs:/api-logs"}},
}


@pytest.fixture
def hook(airflow_home: Any, no_faults: Any) -> Any:
    from airflow.providers.databricks.hooks.databricks import DatabricksHook

    return DatabricksHook(retry_limit=3, retry_delay=0.2)


def _async(hook: Any, name: str, run_id: int) -> Any:
    async def go() -> Any:
        async with hook:
            return await getattr(hook, name)(run_id)

    return asyncio.run(go())


def _wait(hook: Any, run_id: int, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        state = hook.get_run_state(run_id)
        if state.is_terminal:
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.1)


def test_runs_endpoints(hook: Any, no_faults: Any) -> None:
    run_id = hook.submit_run({"run_name": "api", "new_cluster": CLUSTER, "notebook_task": {"notebook_path": "/x"}})
    assert hook.get_run_state(run_id).life_cycle_state in ("PENDING", "RUNNING", "TERMINATING", "TERMINATED")
    # the deferrable trigger sends run_id in a JSON body on GET
    assert _async(hook, "a_get_run_state", run_id).life_cycle_state in ("PENDING", "RUNNING", "TERMINATING", "TERMINATED")
    state = _wait(hook, run_id)
    assert state.is_successful
    run = hook.get_run(run_id)
    assert run["run_page_url"] and run["tasks"][0]["cluster_instance"]["cluster_id"]
    assert _async(hook, "a_get_run", run_id)["run_id"] == run_id
    out = hook.get_run_output(run["tasks"][0]["run_id"])
    assert out["metadata"]["state"]["result_state"] == "SUCCESS"
    listed = hook._do_api_call(("GET", "2.2/jobs/runs/list"), {"limit": 5})
    assert run_id in [r["run_id"] for r in listed["runs"]]
    # cancel a long run
    long_id = hook.submit_run({"run_name": "long", "new_cluster": {**CLUSTER, "custom_tags": {"emulator_profile": "spot_long"}},
                               "notebook_task": {"notebook_path": "/x"}})
    hook.cancel_run(long_id)
    cancelled = _wait(hook, long_id)
    assert cancelled.result_state == "CANCELED"
    assert hook.get_run(long_id)["status"]["termination_details"]["code"] == "USER_CANCELED"


def test_a_task_stopped_at_its_timeout_seconds_is_timedout(hook: Any, no_faults: Any) -> None:
    """``timeout_seconds`` as Databricks applies it: the same work (seed and run index pinned) stopped half-way
    through ends TIMEDOUT (termination code CANCELED: the platform stopped it), its cluster ends there; without it
    the run succeeds. A user's cancel is USER_CANCELED."""
    pinned = {**CLUSTER, "spark_conf": {"spark.gradient.emulator.seed": "7", "spark.gradient.emulator.run_index": "0"}}
    payload = {"run_name": "to", "new_cluster": pinned, "notebook_task": {"notebook_path": "/x"}}
    full_id = hook.submit_run(payload)
    _wait(hook, full_id)
    full = hook.get_run(full_id)
    assert full["state"]["result_state"] == "SUCCESS" and full["status"]["termination_details"]["code"] == "SUCCESS"
    limit_s = (full["setup_duration"] + full["execution_duration"] // 2) // 1000
    run_id = hook.submit_run({**payload, "timeout_seconds": limit_s})
    state = _wait(hook, run_id)
    assert state.result_state == "TIMEDOUT" and not state.is_successful
    run = hook.get_run(run_id)
    assert run["state"]["user_cancelled_or_timedout"] and f"after {limit_s} seconds" in run["state"]["state_message"]
    assert run["status"]["termination_details"]["code"] == "CANCELED"
    assert run["tasks"][0]["start_time"] + limit_s * 1000 < run["end_time"]
    assert run["end_time"] - run["start_time"] < full["end_time"] - full["start_time"]  # stopped before the work ended
    cid = run["tasks"][0]["cluster_instance"]["cluster_id"]
    events = hook._do_api_call(("POST", "2.1/clusters/events"), {"cluster_id": cid, "limit": 500})["events"]
    terminated = [e["timestamp"] for e in events if e["type"] == "TERMINATED"]
    assert terminated and terminated[-1] <= run["end_time"], events
    assert hook.get_run_state(run_id).state_message == run["state"]["state_message"]


def test_failed_run_reports_oom(hook: Any) -> None:
    cluster = {**CLUSTER, "node_type_id": "c5.2xlarge", "num_workers": 12,
               "spark_conf": {"spark.gradient.emulator.profile": "memory_agg"}}
    run_id = hook.submit_run({"run_name": "oom", "new_cluster": cluster, "notebook_task": {"notebook_path": "/x"}})
    state = _wait(hook, run_id, timeout=60)
    assert state.result_state == "FAILED"
    task_run = hook.get_run(run_id)["tasks"][0]["run_id"]
    assert "java.lang.OutOfMemoryError" in hook.get_run_output(task_run)["error"]


def test_jobs_endpoints(hook: Any, no_faults: Any) -> None:
    settings = {"name": "emulated-job", "tasks": [{"task_key": "t", "new_cluster": CLUSTER,
                                                   "notebook_task": {"notebook_path": "/x/small_startup"}}]}
    job_id = hook.create_job(settings)
    assert hook.find_job_id_by_name("emulated-job") == job_id
    assert any(j["job_id"] == job_id for j in hook.list_jobs())
    hook.update_job(str(job_id), {"tasks": [{**settings["tasks"][0], "new_cluster": {**CLUSTER, "num_workers": 3}}]})
    got = hook._do_api_call(("GET", "2.2/jobs/get"), {"job_id": job_id})
    assert got["settings"]["tasks"][0]["new_cluster"]["num_workers"] == 3
    updates = [s for s in no_faults.submissions() if s["path"].endswith("/jobs/update")]
    assert updates[-1]["body"]["new_settings"]["tasks"][0]["new_cluster"]["num_workers"] == 3
    hook.reset_job(str(job_id), {**settings, "name": "renamed"})
    assert hook._do_api_call(("GET", "2.1/jobs/get"), {"job_id": job_id})["settings"]["name"] == "renamed"
    run_id = hook.run_now({"job_id": job_id})
    assert _wait(hook, run_id).is_successful
    assert hook.get_job_id(run_id) == job_id
    hook._do_api_call(("POST", "2.2/jobs/delete"), {"job_id": job_id})
    assert all(j["job_id"] != job_id for j in hook.list_jobs())
    from airflow.providers.databricks.exceptions import DatabricksApiError

    with pytest.raises(DatabricksApiError, match="does not exist"):
        hook._do_api_call(("POST", "2.2/jobs/delete"), {"job_id": job_id})


def test_clusters_and_dbfs_endpoints(hook: Any, no_faults: Any) -> None:
    run_id = hook.submit_run({"run_name": "c", "new_cluster": CLUSTER, "notebook_task": {"notebook_path": "/x"}})
    _wait(hook, run_id)
    cluster_id = hook.get_run(run_id)["cluster_instance"]["cluster_id"]
    assert hook.get_cluster_state(cluster_id).state == "TERMINATED"
    info = hook._do_api_call(("GET", "2.1/clusters/get"), {"cluster_id": cluster_id})
    assert info["default_tags"]["ClusterId"] == cluster_id and info["custom_tags"]["emulator_profile"] == "small_startup"
    assert info["cluster_log_conf"] == CLUSTER["cluster_log_conf"] and int(info["spark_context_id"]) > 0
    events: list[dict[str, Any]] = []
    req: dict[str, Any] | None = {"cluster_id": cluster_id, "order": "ASC", "limit": 2}
    while req:
        page = hook._do_api_call(("POST", "2.1/clusters/events"), req)
        events += page["events"]
        req = page.get("next_page")
    kinds = [e["type"] for e in events]
    assert kinds[0] == "CREATING" and kinds[-1] == "TERMINATED" and "RUNNING" in kinds
    assert events[-1]["details"]["reason"]["code"] == "JOB_FINISHED"
    assert hook._do_api_call(("GET", "2.0/clusters/list-node-types"))["node_types"]
    assert hook._do_api_call(("GET", "2.1/clusters/spark-versions"))["versions"]
    no_faults.state.tick()
    base = f"/api-logs/{cluster_id}/eventlog"
    sub = hook._do_api_call(("GET", "2.0/dbfs/list"), {"path": base})["files"][0]["path"]
    ctx = hook._do_api_call(("GET", "2.0/dbfs/list"), {"path": sub})["files"][0]["path"]
    status = hook._do_api_call(("GET", "2.0/dbfs/get-status"), {"path": f"{ctx}/eventlog"})
    assert status["file_size"] > 0 and not status["is_dir"]
    data, offset = b"", 0
    while offset < status["file_size"]:
        chunk = hook._do_api_call(("GET", "2.0/dbfs/read"), {"path": f"{ctx}/eventlog", "offset": offset, "length": 100_000})
        data += base64.b64decode(chunk["data"])
        offset += chunk["bytes_read"]
    assert data.startswith(b'{"Event":"DBCEventLoggingListenerMetadata"') and len(data) == status["file_size"]


def test_auth_and_errors(no_faults: Any) -> None:
    import urllib.error
    import urllib.request

    for headers, code in (({}, 401), ({"Authorization": "Bearer wrong"}, 403)):
        req = urllib.request.Request(no_faults.url + "/api/2.2/jobs/runs/get?run_id=1", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req)
        assert err.value.code == code
        assert set(__import__("json").loads(err.value.read())) == {"error_code", "message"}
    with pytest.raises(urllib.error.HTTPError) as err:
        no_faults.request("GET", "/api/2.2/jobs/runs/get?run_id=424242")
    assert err.value.code == 404


def test_fault_knobs_are_retried_by_the_hook(hook: Any, no_faults: Any) -> None:
    from airflow.providers.common.compat.sdk import AirflowException

    no_faults.set_faults(error_burst=2, error_status=503)
    assert isinstance(hook.list_jobs(), list)  # two 503s, then success on the third attempt
    no_faults.set_faults(drop_connections=1)
    assert isinstance(hook.list_jobs(), list)
    no_faults.set_faults(error_burst=3, error_status=429)  # the hook gives up after retry_limit=3
    with pytest.raises(AirflowException):
        hook.list_jobs()
    no_faults.set_faults(reset=True, latency_ms=300)
    start = time.monotonic()
    hook.list_jobs()
    assert time.monotonic() - start >= 0.3
