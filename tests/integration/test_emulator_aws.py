"""AWS mode: the emulator's clusters appear in moto as tagged EC2 instances/EBS volumes; S3 log delivery."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import boto3
import pytest

from airflow_provider_gradient.core.eventlog import parse_event_log
from airflow_provider_gradient.simulator.testing import running_emulator


def _client(emu: Any, service: str) -> Any:
    return boto3.client(service, endpoint_url=emu.aws_endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _finish(emu: Any, run_id: int) -> dict[str, Any]:
    run = emu.wait_run(run_id)
    deadline = time.monotonic() + 20
    cid = run["tasks"][0]["cluster_instance"]["cluster_id"]
    while not emu.simulation(cid)["eventlog_written"] and time.monotonic() < deadline:
        emu.state.tick()
        time.sleep(0.05)
    return run


def test_cluster_instances_volumes_and_s3_eventlog(tmp_path: Any) -> None:
    with running_emulator(tmp_path, time_scale=3000, aws=True) as emu:
        new_cluster = {
            "spark_version": "15.4.x-scala2.12", "node_type_id": "r5.xlarge", "num_workers": 3,
            "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1, "ebs_volume_count": 1,
                               "ebs_volume_size": 100},
            "custom_tags": {"emulator_profile": "etl_scaling", "owner": "it"},
            "cluster_log_conf": {"s3": {"destination": "s3://logs-bucket/cluster-logs", "region": "us-east-1"}},
        }
        run_id = emu.request("POST", "/api/2.1/jobs/runs/submit",
                             {"run_name": "aws", "new_cluster": new_cluster,
                              "spark_python_task": {"python_file": "dbfs:/jobs/etl.py"}})["run_id"]
        run = _finish(emu, run_id)
        cid = run["tasks"][0]["cluster_instance"]["cluster_id"]
        sim = emu.simulation(cid)

        ec2 = _client(emu, "ec2")
        found = ec2.describe_instances(Filters=[{"Name": "tag:ClusterId", "Values": [cid]},
                                                {"Name": "tag:Vendor", "Values": ["Databricks"]}])
        instances = [i for r in found["Reservations"] for i in r["Instances"]]
        nodes = emu.state.sim(cid).nodes  # driver + 3 workers (+ replacements of interrupted spot workers)
        assert len(instances) == len(nodes) >= 4
        assert {i["InstanceType"] for i in instances} == {"r5.xlarge"}
        assert all(i["State"]["Name"] == "terminated" for i in instances)
        tags = {t["Key"]: t["Value"] for t in instances[0]["Tags"]}
        assert tags["ClusterName"] and tags["owner"] == "it"
        created = dt.datetime.fromtimestamp(run["tasks"][0]["start_time"] / 1000, dt.UTC)
        launches = sorted(i["LaunchTime"] for i in instances)
        assert abs((launches[0] - created).total_seconds()) < 2  # launch times follow the simulated clock
        vols = ec2.describe_volumes(Filters=[{"Name": "tag:ClusterId", "Values": [cid]}])["Volumes"]
        assert len(vols) == len(nodes) and all(v["Size"] == 100 for v in vols)
        assert {i["InstanceLifecycle"] for i in instances if "InstanceLifecycle" in i} == {"spot"}

        s3 = _client(emu, "s3")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="logs-bucket", Prefix=f"cluster-logs/{cid}/eventlog/")["Contents"]]
        assert keys and all("/eventlog" in k for k in keys)
        folder = tmp_path / "s3copy"
        folder.mkdir()
        for key in keys:
            (folder / key.rsplit("/", 1)[-1]).write_bytes(s3.get_object(Bucket="logs-bucket", Key=key)["Body"].read())
        summary = parse_event_log(folder)
        assert summary.duration_s == pytest.approx(sim["runtime_s"], rel=0.01)
        assert summary.tasks == sim["tasks"]


def test_eventlog_fault_modes(tmp_path: Any) -> None:
    with running_emulator(tmp_path, time_scale=3000) as emu:
        base = {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 2,
                "custom_tags": {"emulator_profile": "small_startup"},
                "cluster_log_conf": {"dbfs": {"destination": "dbfs:/faulty"}}}

        def submit() -> tuple[int, str]:
            rid = emu.request("POST", "/api/2.2/jobs/runs/submit",
                              {"run_name": "f", "new_cluster": base, "notebook_task": {"notebook_path": "/n"}})["run_id"]
            run = emu.wait_run(rid)
            return rid, run["tasks"][0]["cluster_instance"]["cluster_id"]

        emu.set_faults(eventlog="missing")
        _, cid = submit()
        emu.state.tick()
        assert not (emu.dbfs_root / "faulty" / cid).exists()

        emu.set_faults(eventlog="late", eventlog_delay_s=1200)  # 1200 simulated s = 0.4 s wall
        _, cid = submit()
        emu.state.tick()
        assert not (emu.dbfs_root / "faulty" / cid).exists()
        time.sleep(0.6)
        emu.state.tick()
        assert (emu.dbfs_root / "faulty" / cid).exists()

        emu.set_faults(eventlog="partial")
        _, cid = submit()
        emu.state.tick()
        # the whole rollover set (one part file, picked in directory order, may be a later part with no
        # application start)
        log = next((emu.dbfs_root / "faulty" / cid / "eventlog").glob("*/*")).parent
        assert not parse_event_log(log).complete

        emu.set_faults(reset=True, events_missing_pages=True)
        first = emu.request("POST", "/api/2.1/clusters/events", {"cluster_id": cid, "limit": 2})
        assert first["events"] and first["next_page"]
        import urllib.error

        with pytest.raises(urllib.error.HTTPError) as err:
            emu.request("POST", "/api/2.1/clusters/events", first["next_page"])
        assert err.value.code == 404

        emu.set_faults(reset=True, internal_error_rate=1.0)
        rid, _ = submit()
        state = emu.request("GET", f"/api/2.2/jobs/runs/get?run_id={rid}")["state"]
        assert state["life_cycle_state"] == "INTERNAL_ERROR"


def test_state_persists_across_restarts_and_idempotent_submit(tmp_path: Any) -> None:
    body = {"run_name": "p", "idempotency_token": "tok-1",
            "new_cluster": {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": 1,
                            "custom_tags": {"emulator_profile": "growing_data"}},
            "notebook_task": {"notebook_path": "/n"}}
    with running_emulator(tmp_path, time_scale=3000) as emu:
        rid = emu.request("POST", "/api/2.2/jobs/runs/submit", body)["run_id"]
        assert emu.request("POST", "/api/2.2/jobs/runs/submit", body)["run_id"] == rid
        run = emu.wait_run(rid)
        first = emu.simulation(run["cluster_instance"]["cluster_id"])
        clock = emu.state.clock.now_ms()
    with running_emulator(tmp_path, time_scale=3000) as emu:
        again = emu.request("GET", f"/api/2.2/jobs/runs/get?run_id={rid}")
        assert again["state"] == run["state"] and again["end_time"] == run["end_time"]
        assert emu.state.clock.now_ms() >= clock  # the simulated clock resumes, never goes back
        rid2 = emu.request("POST", "/api/2.2/jobs/runs/submit", {**body, "idempotency_token": "tok-2"})["run_id"]
        second = emu.simulation(emu.wait_run(rid2)["cluster_instance"]["cluster_id"])
        assert (first["run_index"], second["run_index"]) == (0, 1)  # drift index counts runs per data dir


def test_tasks_sharing_a_job_cluster_run_on_one_cluster(tmp_path: Any) -> None:
    def cluster(workers: int) -> dict[str, Any]:
        return {"spark_version": "15.4.x-scala2.12", "node_type_id": "m5.xlarge", "num_workers": workers,
                "cluster_log_conf": {"dbfs": {"destination": "dbfs:/mt"}}}

    body = {"run_name": "pipeline", "job_clusters": [{"job_cluster_key": "shared", "new_cluster": cluster(4)}],
            "tasks": [
                {"task_key": "extract", "job_cluster_key": "shared", "notebook_task": {"notebook_path": "/j/small_startup"}},
                {"task_key": "transform", "job_cluster_key": "shared", "depends_on": [{"task_key": "extract"}],
                 "notebook_task": {"notebook_path": "/j/driver_bound"}},
                {"task_key": "report", "depends_on": [{"task_key": "transform"}], "new_cluster": cluster(2),
                 "notebook_task": {"notebook_path": "/j/small_startup"}},
            ]}
    with running_emulator(tmp_path, time_scale=5000) as emu:
        run = _finish(emu, emu.request("POST", "/api/2.2/jobs/runs/submit", body)["run_id"])
        tasks = {t["task_key"]: t for t in run["tasks"]}
        shared = tasks["extract"]["cluster_instance"]["cluster_id"]
        assert tasks["transform"]["cluster_instance"]["cluster_id"] == shared
        assert tasks["report"]["cluster_instance"]["cluster_id"] != shared
        assert tasks["transform"]["setup_duration"] == 0  # no second start-up on the shared cluster
        assert tasks["transform"]["start_time"] >= tasks["extract"]["end_time"]
        sim = emu.simulation(shared)
        assert sim["tasks_on_cluster"] == ["extract", "transform"] and sim["jobs"] == 3
        expected = (tasks["transform"]["end_time"] - tasks["extract"]["start_time"]
                    - tasks["extract"]["setup_duration"]) / 1000
        assert sim["runtime_s"] == pytest.approx(expected, rel=0.001)
        while not sim["eventlog_written"]:
            emu.state.tick()
            sim = emu.simulation(shared)
        summary = parse_event_log(next((emu.dbfs_root / "mt" / shared / "eventlog").glob("*/*")))
        assert summary.duration_s == pytest.approx(sim["runtime_s"], rel=0.01) and summary.tasks == sim["tasks"]


def test_cluster_events_follow_autoscaling_and_spot_losses(tmp_path: Any) -> None:
    nc = {"spark_version": "15.4.x-scala2.12", "node_type_id": "r5.4xlarge", "autoscale": {"min_workers": 2, "max_workers": 10},
          "aws_attributes": {"availability": "SPOT_WITH_FALLBACK", "first_on_demand": 1},
          "spark_conf": {"spark.gradient.emulator.profile": "spot_long", "spark.gradient.emulator.seed": "11"}}
    with running_emulator(tmp_path, time_scale=20000) as emu:
        rid = emu.request("POST", "/api/2.2/jobs/runs/submit",
                          {"run_name": "a", "new_cluster": nc, "notebook_task": {"notebook_path": "/x"}})["run_id"]
        cid = emu.wait_run(rid, timeout=120)["cluster_instance"]["cluster_id"]
        sim = emu.simulation(cid)
        events = emu.request("POST", "/api/2.1/clusters/events", {"cluster_id": cid, "order": "ASC", "limit": 500})["events"]
    kinds = [e["type"] for e in events]
    assert kinds[:4] == ["CREATING", "STARTING", "DRIVER_HEALTHY", "RUNNING"] and kinds[-2:] == ["TERMINATING", "TERMINATED"]
    assert events[3]["details"]["current_num_workers"] == 2
    ups = [e for e in events if e["type"] == "UPSIZE_COMPLETED"]
    assert ups and max(e["details"]["current_num_workers"] for e in ups) == 10
    assert kinds.count("NODES_LOST") == sim["spot_interruptions"] > 0
    assert [e["timestamp"] for e in events] == sorted(e["timestamp"] for e in events)
