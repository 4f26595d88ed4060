"""Bad requests get Databricks-style 4xx errors, never a 500; UC volume delivery through the Files API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from airflow_provider_gradient.simulator.testing import running_emulator

BAD_BODIES: list[Any] = [None, "x", [], {}, {"run_id": "abc"}, {"run_id": -1}, {"job_id": {"a": 1}},
                         {"tasks": "nope"}, {"tasks": [{"task_key": "t"}]}, {"new_cluster": {"node_type_id": 3}},
                         {"cluster_id": "missing"}, {"path": "/../../etc/passwd"}, {"path": "/x", "length": 5_000_000},
                         {"new_settings": 5, "job_id": 1}, {"cluster_id": "x", "limit": 0}]
ENDPOINTS = [
    ("POST", "/api/2.2/jobs/runs/submit"), ("GET", "/api/2.2/jobs/runs/get"), ("GET", "/api/2.2/jobs/runs/get-output"),
    ("POST", "/api/2.2/jobs/runs/cancel"), ("GET", "/api/2.2/jobs/runs/list"), ("POST", "/api/2.2/jobs/create"),
    ("GET", "/api/2.2/jobs/get"), ("GET", "/api/2.2/jobs/list"), ("POST", "/api/2.2/jobs/reset"),
    ("POST", "/api/2.2/jobs/update"), ("POST", "/api/2.2/jobs/run-now"), ("POST", "/api/2.2/jobs/delete"),
    ("GET", "/api/2.1/clusters/get"), ("POST", "/api/2.1/clusters/events"), ("GET", "/api/2.0/dbfs/get-status"),
    ("GET", "/api/2.0/dbfs/list"), ("GET", "/api/2.0/dbfs/read"), ("POST", "/_emulator/faults"),
]


def _call(url: str, method: str, body: Any, raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers={"Authorization": "Bearer emulator-token"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_bad_requests_are_4xx_with_a_message() -> None:
    with running_emulator() as emu:
        for method, path in ENDPOINTS:
            for body in BAD_BODIES:
                status, payload = _call(emu.url + path, method, body)
                assert status < 500, (method, path, body, payload)
                if status >= 400:
                    assert payload.get("error_code") and payload.get("message"), (method, path, body)
            status, payload = _call(emu.url + path, method, None, raw=b"{not json")
            assert status == 400 and payload["error_code"] == "MALFORMED_REQUEST"


def test_volume_destination_served_by_files_api(tmp_path: Any) -> None:
    from airflow_provider_gradient.core.eventlog import parse_event_log

    with running_emulator(tmp_path, time_scale=5000) as emu:
        nc = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 1,
              "custom_tags": {"emulator_profile": "small_startup"},
              "cluster_log_conf": {"volumes": {"destination": "/Volumes/main/ops/logs"}}}
        rid = emu.request("POST", "/api/2.2/jobs/runs/submit",
                          {"run_name": "v", "new_cluster": nc, "notebook_task": {"notebook_path": "/n"}})["run_id"]
        cid = emu.wait_run(rid)["cluster_instance"]["cluster_id"]
        while not emu.simulation(cid)["eventlog_written"]:
            emu.state.tick()
        listing = emu.request("GET", f"/api/2.0/fs/directories/Volumes/main/ops/logs/{cid}/eventlog")["contents"]
        sub = listing[0]["path"]
        ctx = emu.request("GET", f"/api/2.0/fs/directories{sub}")["contents"][0]["path"]
        parts = emu.request("GET", f"/api/2.0/fs/directories{ctx}")["contents"]
        assert any(p["name"] == "eventlog" for p in parts)
        local = tmp_path / "downloaded"
        local.mkdir()
        for part in parts:  # the live part plus any rolled-over hours
            req = urllib.request.Request(f"{emu.url}/api/2.0/fs/files{part['path']}",
                                         headers={"Authorization": "Bearer emulator-token"})
            (local / part["name"]).write_bytes(urllib.request.urlopen(req, timeout=30).read())
        assert parse_event_log(local).duration_s == pytest.approx(emu.simulation(cid)["runtime_s"], rel=0.01)
