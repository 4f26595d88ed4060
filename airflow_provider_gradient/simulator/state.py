"""The emulator's workspace state: runs, jobs, clusters on a simulated clock, persisted under ``--data DIR``.

Everything observable (run states, cluster events, event logs, EC2 launch times) derives from the
deterministic :func:`simulate` result of each task plus the simulated clock, so it is mutually consistent.
"""

from __future__ import annotations

import copy
import json
import os
import random
import string
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_gradient.simulator import clusters, jobs
from airflow_provider_gradient.simulator.errors import ApiError
from airflow_provider_gradient.simulator.errors import bad_request as _bad
from airflow_provider_gradient.simulator.errors import not_found as _missing
from airflow_provider_gradient.simulator.faults import FaultState
from airflow_provider_gradient.simulator.models import (
    TERMINATE_S,
    ClusterSpec,
    ClusterSpecError,
    SimResult,
    simulate,
)
from airflow_provider_gradient.simulator.nodes import UnknownNodeType
from airflow_provider_gradient.simulator.profiles import (
    DEFAULT_PROFILE,
    ProfileError,
    list_profiles,
    load_profile,
)

__all__ = ["ApiError", "EmulatorConfig", "SimClock", "WorkspaceState"]

PROFILE_CONF = "spark.gradient.emulator.profile"
RUN_INDEX_CONF = "spark.gradient.emulator.run_index"
SEED_CONF = "spark.gradient.emulator.seed"
PROFILE_TAG = "emulator_profile"
QUEUE_S = 1.0
SPARK_VERSIONS = ("13.3.x-scala2.12", "14.3.x-scala2.12", "15.4.x-scala2.12", "15.4.x-photon-scala2.12", "16.4.x-scala2.12")


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """How the emulator runs.

    :param data_dir: state file, DBFS root (``dbfs/``), UC volumes root (``volumes/``).
    :param token: required bearer token (None: any token accepted, but one must be sent).
    :param time_scale: simulated seconds per wall second.
    :param aws_endpoint: moto endpoint URL (AWS mode) or None.
    :param default_profile: profile of runs that name none.
    :param seed: base random seed.
    :param clock_origin_ms: where the simulated clock starts (epoch ms; default now, or where a saved state
        left it when that is later), e.g. the first logical date of a demo's DAG runs.
    """

    data_dir: Path
    token: str | None = None
    time_scale: float = 60.0
    aws_endpoint: str | None = None
    region: str = "us-east-1"
    cloud: str = "aws"
    default_profile: str = DEFAULT_PROFILE
    seed: int = 0
    host: str = "127.0.0.1"
    port: int = 0
    clock_origin_ms: int | None = None


class SimClock:
    """Simulated epoch-ms clock running ``time_scale`` times faster than wall time from ``origin_ms``."""

    def __init__(self, time_scale: float, origin_ms: int | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = time_scale
        self._wall0 = time.monotonic()
        self.origin_ms = int(origin_ms if origin_ms is not None else time.time() * 1000)

    paused_at: int | None = None

    def now_ms(self) -> int:
        """Current simulated time (epoch ms)."""
        if self.paused_at is not None:
            return self.paused_at
        return self.origin_ms + int((time.monotonic() - self._wall0) * 1000 * self.time_scale)

    def advance_to(self, ms: int) -> int:
        """Jump forward to ``ms`` (never backwards: the clock stays monotonic); return the new time."""
        now = self.now_ms()
        if ms > now:
            if self.paused_at is not None:
                self.paused_at = ms
            else:
                self.origin_ms += ms - now
        return self.now_ms()

    def pause(self) -> None:
        """Stop the clock (e.g. between a demo's DAG runs, so Airflow's own overhead costs no simulated time)."""
        if self.paused_at is None:
            self.paused_at = self.now_ms()

    def resume(self) -> None:
        """Run again from where the clock stopped (the next run submission resumes it too)."""
        if self.paused_at is not None:
            self.origin_ms, self._wall0, self.paused_at = self.paused_at, time.monotonic(), None


def _cluster_id(rnd: random.Random, now_ms: int) -> str:
    t = time.gmtime(now_ms / 1000)
    suffix = "".join(rnd.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    return f"{t.tm_mon:02d}{t.tm_mday:02d}-{t.tm_hour:02d}{t.tm_min:02d}{t.tm_sec:02d}-{suffix}"


class WorkspaceState:
    """All workspace objects and their lifecycle (thread-safe; the REST layer is a thin wrapper)."""

    def __init__(self, config: EmulatorConfig, faults: FaultState | None = None) -> None:
        self.config = config
        self.faults = faults or FaultState()
        self.lock = threading.RLock()
        self.data_dir = Path(config.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.dbfs_root = self.data_dir / "dbfs"
        self.dbfs_root.mkdir(exist_ok=True)
        self.volumes_root = self.data_dir / "volumes"
        self.state_file = self.data_dir / "emulator-state.json"
        self.rnd = random.Random(config.seed)
        self.submissions: list[dict[str, Any]] = []
        self._sims: dict[str, SimResult] = {}
        data = json.loads(self.state_file.read_text()) if self.state_file.is_file() else {}
        self.next_id: int = int(data.get("next_id", 1001))
        self.profile_runs: dict[str, int] = dict(data.get("profile_runs", {}))
        self.runs: dict[int, dict[str, Any]] = {int(k): v for k, v in data.get("runs", {}).items()}
        self.jobs: dict[int, dict[str, Any]] = {int(k): v for k, v in data.get("jobs", {}).items()}
        self.clusters: dict[str, dict[str, Any]] = dict(data.get("clusters", {}))
        self.idempotency: dict[str, int] = dict(data.get("idempotency", {}))
        start = config.clock_origin_ms if config.clock_origin_ms is not None else int(time.time() * 1000)
        origin = max(int(start), int(data.get("clock_ms", 0)))
        self.clock = SimClock(config.time_scale, origin)
        self.aws: Any = None
        self._tick_lock = threading.Lock()

    # ---------------------------------------------------------------- persistence
    def save(self) -> None:
        """Write the state file atomically."""
        with self.lock:
            doc = {"next_id": self.next_id, "profile_runs": self.profile_runs, "clock_ms": self.clock.now_ms(),
                   "runs": self.runs, "jobs": self.jobs, "clusters": self.clusters,
                   "idempotency": self.idempotency}
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, self.state_file)

    def new_id(self) -> int:
        """The next job/run id."""
        self.next_id += 1
        return self.next_id

    def record(self, method: str, path: str, body: Any) -> None:
        """Remember what a write endpoint received (``/_emulator/submissions``)."""
        with self.lock:
            self.submissions.append({"method": method, "path": path, "body": copy.deepcopy(body),
                                     "sim_time_ms": self.clock.now_ms()})

    # ---------------------------------------------------------------- simulation
    def sim(self, cluster_id: str) -> SimResult:
        """The (cached, deterministic) simulation of everything a cluster ran (tasks sharing a job cluster
        are composed into one Spark application)."""
        if cluster_id not in self._sims:
            c = self.clusters[cluster_id]
            members = c["members"]
            if len(members) == 1:
                self._sims[cluster_id] = self.member_sim(cluster_id, 0)
            else:
                parts = [(self.member_sim(cluster_id, i), float(m["offset_s"])) for i, m in enumerate(members)]
                self._sims[cluster_id] = clusters.compose(parts)
        return self._sims[cluster_id]

    def member_sim(self, cluster_id: str, index: int) -> SimResult:
        """The simulation of the ``index``-th task that ran on a cluster."""
        key = f"{cluster_id}#{index}"
        if key not in self._sims:
            c = self.clusters[cluster_id]
            m = c["members"][index]
            spec = ClusterSpec(**c["spec"])
            self._sims[key] = simulate(m["profile"], spec, run_index=m["run_index"], seed=m["seed"])
        return self._sims[key]

    def task_sim(self, task: dict[str, Any]) -> SimResult:
        """The simulation of one task run."""
        return self.member_sim(task["cluster_id"], int(task.get("member", 0)))

    def _profile_for(self, task: dict[str, Any], cluster: dict[str, Any]) -> str:
        conf = cluster.get("spark_conf") or {}
        tags = cluster.get("custom_tags") or {}
        ref = conf.get(PROFILE_CONF) or tags.get(PROFILE_TAG)
        if ref:
            try:
                load_profile(str(ref))
            except ProfileError as exc:
                raise _bad(str(exc)) from exc
            return str(ref)
        known = set(list_profiles())
        for key, field in (("notebook_task", "notebook_path"), ("spark_python_task", "python_file"),
                           ("python_wheel_task", "entry_point"), ("spark_jar_task", "main_class_name")):
            path = str((task.get(key) or {}).get(field) or "")
            base = path.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path.rsplit("/", 1)[-1]
            if base in known:
                return base
        return self.config.default_profile

    # ---------------------------------------------------------------- runs
    def submit(self, payload: dict[str, Any], *, job_id: int | None = None, run_type: str = "SUBMIT_RUN") -> int:
        """Create a run from a runs/submit (or job) payload; returns its run id."""
        self.clock.resume()  # a paused clock (between a demo's DAG runs) runs again with the work
        if not isinstance(payload, dict):
            raise _bad("request body must be a JSON object")
        tasks = payload.get("tasks")
        if tasks is None:
            task = {k: v for k, v in payload.items() if k.endswith("_task")}
            if not task:
                raise _bad("one of notebook_task, spark_python_task, spark_jar_task, python_wheel_task, "
                           "spark_submit_task, sql_task or tasks is required")
            single = {"task_key": payload.get("run_name") or "main", **task}
            for key in ("new_cluster", "existing_cluster_id", "libraries", "timeout_seconds"):
                if key in payload:
                    single[key] = payload[key]
            tasks = [single]
        if not isinstance(tasks, list) or not tasks:
            raise _bad("tasks must be a non-empty array")
        job_clusters: dict[str, Any] = {str(jc.get("job_cluster_key")): jc.get("new_cluster")
                                         for jc in payload.get("job_clusters") or [] if isinstance(jc, dict)}
        token = payload.get("idempotency_token")
        with self.lock:
            if token and token in self.idempotency:
                return self.idempotency[token]  # Databricks returns the existing run for a repeated token
            now = self.clock.now_ms()
            run_id = self.new_id()
            run: dict[str, Any] = {
                "run_id": run_id, "job_id": job_id or 0, "run_name": payload.get("run_name") or f"run-{run_id}",
                "run_type": run_type, "submit_ms": now, "tasks": [], "cancelled_ms": None,
                "job_clusters": payload.get("job_clusters") or [], "single_task": payload.get("tasks") is None,
                "payload": copy.deepcopy(payload),
            }
            ends: dict[str, tuple[int, bool]] = {}
            shared: dict[str, str] = {}
            for raw in tasks:
                if not isinstance(raw, dict) or not raw.get("task_key"):
                    raise _bad("every task needs a task_key")
                run["tasks"].append(self._plan_task(run, raw, job_clusters, ends, now, shared))
            self.runs[run_id] = run
            if token:
                self.idempotency[str(token)] = run_id
            if job_id:
                self.jobs[job_id].setdefault("run_ids", []).append(run_id)
            self.save()
            return run_id

    def _plan_task(self, run: dict[str, Any], raw: dict[str, Any], job_clusters: dict[str, Any],
                   ends: dict[str, tuple[int, bool]], now: int, shared: dict[str, str]) -> dict[str, Any]:
        key = raw["task_key"]
        deps = [d.get("task_key") for d in raw.get("depends_on") or [] if isinstance(d, dict)]
        start = now + int(QUEUE_S * 1000)
        upstream_ok = True
        for d in deps:
            if d not in ends:
                raise _bad(f"task {key!r} depends on unknown task {d!r}")
            start = max(start, ends[d][0])
            upstream_ok = upstream_ok and ends[d][1]
        task: dict[str, Any] = {"task_key": key, "run_id": self.new_id(), "spec": copy.deepcopy(raw),
                                "depends_on": deps, "start_ms": start, "cluster_id": None}
        if not upstream_ok:
            task.update(skipped=True, end_ms=start)
            ends[key] = (start, False)
            return task
        if raw.get("existing_cluster_id"):
            raise _bad("existing_cluster_id is not emulated: use new_cluster or job_cluster_key")
        new_cluster = raw.get("new_cluster")
        jc_key = raw.get("job_cluster_key") if new_cluster is None else None
        if jc_key:
            new_cluster = job_clusters.get(jc_key)
            if new_cluster is None:
                raise _bad(f"job_cluster_key {jc_key!r} is not defined in job_clusters")
        if not isinstance(new_cluster, dict):
            raise _bad(f"task {key!r} needs new_cluster or job_cluster_key")
        try:
            spec = ClusterSpec.from_new_cluster(new_cluster, self.config.cloud, self.config.region)
            from airflow_provider_gradient.simulator.nodes import node_facts

            node_facts(spec.cloud, spec.node_type_id)
            node_facts(spec.cloud, spec.driver_node_type_id)
        except (ClusterSpecError, UnknownNodeType) as exc:
            raise _bad(str(exc)) from exc
        if not new_cluster.get("spark_version"):
            raise _bad("new_cluster.spark_version is required")
        profile = self._profile_for(raw, new_cluster)
        conf = new_cluster.get("spark_conf") or {}
        name = load_profile(profile).name
        if RUN_INDEX_CONF in conf:
            try:
                run_index = int(conf[RUN_INDEX_CONF])
            except ValueError as exc:
                raise _bad(f"{RUN_INDEX_CONF} must be an integer") from exc
        else:
            run_index = self.profile_runs.get(name, 0)
            self.profile_runs[name] = run_index + 1
        seed = int(conf.get(SEED_CONF, self.config.seed * 1_000_003 + task["run_id"]))
        member = {"task_run_id": task["run_id"], "task_key": key, "profile": profile, "run_index": run_index,
                  "seed": seed, "offset_s": 0.0}
        cluster_id = shared.get(jc_key) if jc_key else None
        if cluster_id is None:
            cluster_id = _cluster_id(self.rnd, start)
            self.clusters[cluster_id] = {
                "cluster_id": cluster_id, "cluster_name": f"job-{run['job_id']}-run-{task['run_id']}"
                + (f"-{jc_key}" if jc_key else ""),
                "new_cluster": copy.deepcopy(new_cluster), "spec": _spec_dict(spec), "members": [member],
                "created_ms": start, "spark_context_id": self.rnd.randrange(10**15, 2**53),
                "driver_ip": f"10.{self.rnd.randrange(16, 250)}.{self.rnd.randrange(0, 250)}.{self.rnd.randrange(2, 250)}",
                "run_id": run["run_id"], "task_run_id": task["run_id"], "job_id": run["job_id"],
                "internal_error": self.rnd.random() < self.faults.faults.internal_error_rate,
                "eventlog_written": False, "aws_started": False, "aws_done": False, "cancelled_ms": None,
                "eventlog_faults": self.faults.faults.eventlog, "eventlog_delay_s": self.faults.faults.eventlog_delay_s,
            }
            if jc_key:
                shared[jc_key] = cluster_id
            c = self.clusters[cluster_id]
            res = self.member_sim(cluster_id, 0)
            member["offset_s"] = res.app_start_s
            app_start = start + int(res.app_start_s * 1000)
        else:
            c = self.clusters[cluster_id]
            c["members"].append(member)
            self._sims.pop(cluster_id, None)
            res = self.member_sim(cluster_id, len(c["members"]) - 1)
            app_start = max(start, int(c["busy_until_ms"]))
            member["offset_s"] = (app_start - c["created_ms"]) / 1000.0
        task["cluster_id"] = cluster_id
        task["member"] = len(c["members"]) - 1
        if c["internal_error"]:
            end = max(start, c["created_ms"] + 90_000)
            task.update(app_start_ms=end, app_end_ms=end, end_ms=end)
            c["busy_until_ms"] = c["end_ms"] = end
            ends[key] = (end, False)
            return task
        app_end = app_start + int(res.runtime_s * 1000)
        deadline = _deadline_ms(raw, start, run, now)
        if deadline is not None and deadline < app_end:
            # Databricks stops a task at its timeout_seconds (or the run's): result TIMEDOUT, the cluster and
            # its event log end there, as after a cancel
            app_end = deadline
            app_start = min(app_start, deadline)
            task["timedout"] = True
            c["cancelled_ms"] = max(deadline, c["created_ms"])
        c["busy_until_ms"] = app_end
        c["end_ms"] = app_end + int(TERMINATE_S * 1000)
        # a task on a shared job cluster ends with its work; a task's own cluster also has to terminate
        end = app_end if jc_key else c["end_ms"]
        task.update(app_start_ms=app_start, app_end_ms=app_end, end_ms=end)
        ends[key] = (end, res.succeeded and not task.get("timedout"))
        return task

    def cancel(self, run_id: int) -> None:
        """Cancel a run (no-op when it already ended)."""
        with self.lock:
            run = self._run(run_id)
            now = self.clock.now_ms()
            if run["cancelled_ms"] is None and any(t["end_ms"] > now for t in run["tasks"]):
                run["cancelled_ms"] = now
                for t in run["tasks"]:
                    if t["end_ms"] > now:
                        t["end_ms"] = max(now, t["start_ms"])
                        t["cancelled"] = True
                        c = self.clusters.get(t.get("cluster_id") or "")
                        if c is not None and c["end_ms"] > now:
                            c["cancelled_ms"] = max(now, c["created_ms"])
                            c["end_ms"] = c["cancelled_ms"] + int(TERMINATE_S * 1000)
                self.save()

    def _run(self, run_id: Any) -> dict[str, Any]:
        try:
            rid = int(run_id)
        except (TypeError, ValueError) as exc:
            raise _bad(f"run_id must be an integer, got {run_id!r}") from exc
        run = self.runs.get(rid)
        if run is None:
            raise _missing(f"Run {rid} does not exist.")
        return run

    def task_state(self, task: dict[str, Any], now: int) -> dict[str, Any]:
        """Databricks run-state block of one task at simulated time ``now``."""
        if task.get("skipped"):
            return {"life_cycle_state": "SKIPPED", "result_state": "UPSTREAM_FAILED",
                    "state_message": "Upstream task failed.", "user_cancelled_or_timedout": False}
        c = self.clusters[task["cluster_id"]]
        res = self.task_sim(task)
        start = task["start_ms"]
        if task.get("cancelled") and now >= task["end_ms"]:
            return {"life_cycle_state": "TERMINATED", "result_state": "CANCELED",
                    "state_message": "Run cancelled.", "user_cancelled_or_timedout": True}
        if now < start:
            return {"life_cycle_state": "BLOCKED" if task["depends_on"] else "PENDING", "state_message": "Waiting",
                    "user_cancelled_or_timedout": False}
        if c["internal_error"]:
            if now < task["end_ms"]:
                return {"life_cycle_state": "PENDING", "state_message": "Waiting for cluster",
                        "user_cancelled_or_timedout": False}
            return {"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED",
                    "state_message": "Cluster failed to launch: CLOUD_PROVIDER_LAUNCH_FAILURE (emulated)",
                    "user_cancelled_or_timedout": False}
        app_start, app_end = task["app_start_ms"], task["app_end_ms"]
        if now < app_start:
            return {"life_cycle_state": "PENDING", "state_message": "Waiting for cluster",
                    "user_cancelled_or_timedout": False}
        if now < app_end:
            return {"life_cycle_state": "RUNNING", "state_message": "In run", "user_cancelled_or_timedout": False}
        if now < task["end_ms"]:
            return {"life_cycle_state": "TERMINATING", "state_message": "", "user_cancelled_or_timedout": False}
        if task.get("timedout"):
            limit = _timeout_s(task["spec"].get("timeout_seconds"))
            return {"life_cycle_state": "TERMINATED", "result_state": "TIMEDOUT",
                    "state_message": f"Run timed out after {limit} seconds." if limit else "Run timed out.",
                    "user_cancelled_or_timedout": True}
        if res.succeeded:
            return {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": "",
                    "user_cancelled_or_timedout": False}
        return {"life_cycle_state": "TERMINATED", "result_state": "FAILED",
                "state_message": "Workload failed, see run output for details", "user_cancelled_or_timedout": False}

    def get_run(self, run_id: Any) -> dict[str, Any]:
        """runs/get response."""
        with self.lock:
            run = self._run(run_id)
            now = self.clock.now_ms()
            tasks_out = [self._task_json(run, t, now) for t in run["tasks"]]
            states = [t["state"] for t in tasks_out]
            lcs = [s["life_cycle_state"] for s in states]
            done = {"TERMINATED", "SKIPPED", "INTERNAL_ERROR"}
            if all(s in done for s in lcs):
                results = [s.get("result_state") for s in states]
                if "CANCELED" in results:
                    result, lc = "CANCELED", "TERMINATED"
                elif "TIMEDOUT" in results:
                    result, lc = "TIMEDOUT", "TERMINATED"
                elif "INTERNAL_ERROR" in lcs:
                    result, lc = "FAILED", "INTERNAL_ERROR"
                elif all(r == "SUCCESS" for r in results):
                    result, lc = "SUCCESS", "TERMINATED"
                else:
                    result, lc = "FAILED", "TERMINATED"
                failed = [t["task_key"] for t in tasks_out if t["state"].get("result_state") not in ("SUCCESS", None)]
                msg = "" if result == "SUCCESS" else (
                    f"Task {failed[0]} failed with message: {states[[t['task_key'] for t in tasks_out].index(failed[0])]['state_message']}"
                    if failed else "Run failed")
                state = {"life_cycle_state": lc, "result_state": result, "state_message": msg,
                         "user_cancelled_or_timedout": result in ("CANCELED", "TIMEDOUT")}
            elif any(s in ("RUNNING", "TERMINATING") for s in lcs) or any(s in done for s in lcs):
                state = {"life_cycle_state": "RUNNING", "state_message": "In run", "user_cancelled_or_timedout": False}
            else:
                state = {"life_cycle_state": "PENDING", "state_message": "Waiting for cluster",
                         "user_cancelled_or_timedout": False}
            start = run["submit_ms"]
            end = max(t["end_ms"] for t in run["tasks"]) if state["life_cycle_state"] in done else 0
            out: dict[str, Any] = {
                "job_id": run["job_id"], "run_id": run["run_id"], "number_in_job": run["run_id"],
                "original_attempt_run_id": run["run_id"], "creator_user_name": "emulator@example.com",
                "run_name": run["run_name"], "run_type": run["run_type"], "format": "MULTI_TASK",
                "run_page_url": f"http://{self.config.host}:{self.config.port}/#job/{run['job_id']}/run/{run['run_id']}",
                "state": state, "status": _status(state), "start_time": start, "end_time": end,
                "setup_duration": 0, "execution_duration": 0, "cleanup_duration": 0,
                "run_duration": (end - start) if end else 0, "tasks": tasks_out,
                "job_clusters": run.get("job_clusters") or [], "attempt_number": 0,
            }
            if run.get("single_task") and tasks_out:
                t0 = tasks_out[0]
                for k in ("setup_duration", "execution_duration", "cleanup_duration"):
                    out[k] = t0.get(k, 0)
                if "cluster_instance" in t0:
                    out["cluster_instance"] = t0["cluster_instance"]
                if "new_cluster" in t0:
                    out["cluster_spec"] = {"new_cluster": t0["new_cluster"]}
            return out

    def _task_json(self, run: dict[str, Any], task: dict[str, Any], now: int) -> dict[str, Any]:
        state = self.task_state(task, now)
        out: dict[str, Any] = {"run_id": task["run_id"], "task_key": task["task_key"], "state": state,
                               "status": _status(state), "start_time": task["start_ms"], "attempt_number": 0,
                               "depends_on": [{"task_key": d} for d in task["depends_on"]]}
        for k, v in task["spec"].items():
            if k.endswith("_task") or k in ("new_cluster", "job_cluster_key", "libraries", "timeout_seconds"):
                out[k] = v
        cid = task.get("cluster_id")
        if cid and now >= task["start_ms"]:
            c = self.clusters[cid]
            out["cluster_instance"] = {"cluster_id": cid, "spark_context_id": str(c["spark_context_id"])}
        if cid and not task.get("skipped"):
            terminal = state["life_cycle_state"] in ("TERMINATED", "INTERNAL_ERROR")
            if terminal and not self.clusters[cid]["internal_error"] and not task.get("cancelled"):
                out["setup_duration"] = task["app_start_ms"] - task["start_ms"]
                out["execution_duration"] = task["app_end_ms"] - task["app_start_ms"]
                out["cleanup_duration"] = task["end_ms"] - task["app_end_ms"]
            out["end_time"] = task["end_ms"] if terminal else 0
        return out

    def get_output(self, run_id: Any) -> dict[str, Any]:
        """runs/get-output: for a task run id (or a single-task run id)."""
        with self.lock:
            rid = int(run_id) if str(run_id).isascii() and str(run_id).isdigit() else run_id
            for run in self.runs.values():
                for t in run["tasks"]:
                    if t["run_id"] == rid or (run["run_id"] == rid and len(run["tasks"]) == 1):
                        now = self.clock.now_ms()
                        meta = self._task_json(run, t, now)
                        out: dict[str, Any] = {"metadata": meta}
                        res = self.task_sim(t) if t.get("cluster_id") else None
                        if meta["state"].get("result_state") == "FAILED" and res is not None:
                            out["error"] = res.failure_message or meta["state"]["state_message"]
                            out["error_trace"] = (res.failure_message or "") + "\n\tat org.apache.spark.scheduler.DAGScheduler"
                        elif meta["state"].get("result_state") == "SUCCESS":
                            out["notebook_output"] = {"result": json.dumps({"runtime_s": res.runtime_s if res else 0}),
                                                      "truncated": False}
                        return out
                if run["run_id"] == rid:
                    raise _bad(f"run {rid} has several tasks: get-output needs a task run id")
            raise _missing(f"Run {run_id} does not exist.")

    def list_runs(self, params: dict[str, Any]) -> dict[str, Any]:
        """runs/list (newest first; job_id, active_only, completed_only, offset, limit)."""
        with self.lock:
            limit = min(int(params.get("limit", 25) or 25), 100)
            offset = int(params.get("offset", 0) or 0)
            ids = sorted(self.runs, reverse=True)
            job = params.get("job_id")
            if job not in (None, ""):
                ids = [i for i in ids if self.runs[i]["job_id"] == int(job)]
            runs = [self.get_run(i) for i in ids]
            if str(params.get("active_only", "")).lower() == "true":
                runs = [r for r in runs if r["state"]["life_cycle_state"] in ("PENDING", "RUNNING", "TERMINATING", "BLOCKED")]
            if str(params.get("completed_only", "")).lower() == "true":
                runs = [r for r in runs if r["state"]["life_cycle_state"] in ("TERMINATED", "INTERNAL_ERROR", "SKIPPED")]
            page = runs[offset:offset + limit]
            return {"runs": page, "has_more": offset + limit < len(runs)}

    # ---------------------------------------------------------------- jobs (simulator/jobs.py)
    def create_job(self, settings: dict[str, Any]) -> int:
        """jobs/create."""
        return jobs.create_job(self, settings)

    def get_job(self, job_id: Any) -> dict[str, Any]:
        """jobs/get."""
        return jobs.get_job(self, job_id)

    def list_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        """jobs/list."""
        return jobs.list_jobs(self, params)

    def reset_job(self, job_id: Any, new_settings: dict[str, Any]) -> None:
        """jobs/reset."""
        jobs.reset_job(self, job_id, new_settings)

    def update_job(self, job_id: Any, new_settings: dict[str, Any] | None, fields_to_remove: list[str] | None) -> None:
        """jobs/update."""
        jobs.update_job(self, job_id, new_settings, fields_to_remove)

    def delete_job(self, job_id: Any) -> None:
        """jobs/delete."""
        jobs.delete_job(self, job_id)

    def run_now(self, job_id: Any, params: dict[str, Any]) -> int:
        """jobs/run-now."""
        return jobs.run_now(self, job_id, params)

    # ---------------------------------------------------------------- clusters (simulator/clusters.py)
    def _cluster(self, cluster_id: Any) -> dict[str, Any]:
        return clusters.find_cluster(self, cluster_id)

    def _cluster_end_s(self, c: dict[str, Any]) -> float:
        return clusters.cluster_end_s(c)

    def get_cluster(self, cluster_id: Any) -> dict[str, Any]:
        """clusters/get."""
        return clusters.get_cluster(self, cluster_id)

    def cluster_events(self, req: dict[str, Any]) -> dict[str, Any]:
        """clusters/events."""
        return clusters.cluster_events(self, req)

    # ---------------------------------------------------------------- side effects (event logs, AWS)
    def tick(self, wait: bool = True) -> None:
        """Perform due side effects: create/terminate cloud instances, deliver event logs.

        The work list is taken under the lock; the slow parts (rendering logs, AWS calls) run outside it so
        API requests are never blocked behind them. One tick runs at a time: with ``wait`` a caller waits for
        a running tick (so everything due is done on return), without it (the ticker thread) it skips.
        """
        from airflow_provider_gradient.simulator.delivery import deliver_event_log

        if not self._tick_lock.acquire(blocking=wait):
            return
        try:
            with self.lock:
                now = self.clock.now_ms()
                due: list[tuple[str, dict[str, Any], SimResult, int]] = []
                for c in self.clusters.values():
                    if c["aws_done"] and c["eventlog_written"]:
                        continue
                    res = self.sim(c["cluster_id"])
                    end_ms = c["created_ms"] + int(self._cluster_end_s(c) * 1000)
                    if self.aws is None:
                        c["aws_done"] = True
                    elif not c["aws_started"] and now >= c["created_ms"]:
                        due.append(("launch", c, res, end_ms))
                    elif c["aws_started"] and not c["aws_done"] and now >= end_ms:
                        due.append(("terminate", c, res, end_ms))
                    if not c["eventlog_written"] and now >= end_ms:
                        mode = c.get("eventlog_faults", "ok")
                        if c["internal_error"] or not c["new_cluster"].get("cluster_log_conf") or mode == "missing":
                            c["eventlog_written"] = True
                        elif mode != "late" or now >= end_ms + int(c.get("eventlog_delay_s", 600) * 1000):
                            due.append(("eventlog", c, res, end_ms))
            done: list[tuple[str, dict[str, Any], bool]] = []
            for kind, c, res, end_ms in due:
                if kind == "launch":
                    done.append((kind, c, bool(self.aws.launch(c, res))))
                elif kind == "terminate":
                    done.append((kind, c, bool(self.aws.terminate(c, res, end_ms))))
                else:
                    deliver_event_log(self, c, res, partial=(c.get("eventlog_faults") == "partial"))
                    done.append((kind, c, True))
            if done:
                with self.lock:
                    for kind, c, ok in done:
                        key = {"launch": "aws_started", "terminate": "aws_done", "eventlog": "eventlog_written"}[kind]
                        c[key] = c[key] or ok
                    self.save()
        finally:
            self._tick_lock.release()

    def task_result(self, cluster_id: str) -> SimResult:
        """The SimResult behind a cluster (what the emulator simulated; for tests)."""
        with self.lock:
            self._cluster(cluster_id)
            return self.sim(cluster_id)


def _timeout_s(value: Any) -> int:
    """A ``timeout_seconds`` value in seconds (0: none; Databricks' 0 means no timeout)."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError) as exc:
        raise _bad(f"timeout_seconds must be an integer, got {value!r}") from exc


def _deadline_ms(raw: dict[str, Any], start_ms: int, run: dict[str, Any], submit_ms: int) -> int | None:
    """When a task is stopped for its timeout: its own ``timeout_seconds`` from its start, the run's (a multi-task
    payload's top-level ``timeout_seconds``) from the submit; None without either."""
    limits = []
    if task_s := _timeout_s(raw.get("timeout_seconds")):
        limits.append(start_ms + task_s * 1000)
    if not run.get("single_task") and (run_s := _timeout_s((run.get("payload") or {}).get("timeout_seconds"))):
        limits.append(submit_ms + run_s * 1000)
    return min(limits) if limits else None


def _status(state: dict[str, Any]) -> dict[str, Any]:
    lc = state["life_cycle_state"]
    st = {"PENDING": "PENDING", "BLOCKED": "BLOCKED", "RUNNING": "RUNNING", "TERMINATING": "TERMINATING"}.get(lc, "TERMINATED")
    out: dict[str, Any] = {"state": st}
    if st == "TERMINATED":
        rs = state.get("result_state", "FAILED")
        # Jobs API 2.2: a user's cancel is USER_CANCELED, a run the platform stopped (its timeout) CANCELED
        codes = {"SUCCESS": "SUCCESS", "CANCELED": "USER_CANCELED", "TIMEDOUT": "CANCELED"}
        out["termination_details"] = {"code": codes.get(rs, "RUN_EXECUTION_ERROR"),
                                      "type": "SUCCESS" if rs == "SUCCESS" else "CLIENT_ERROR",
                                      "message": state.get("state_message", "")}
    return out


def _spec_dict(spec: ClusterSpec) -> dict[str, Any]:
    return {k: getattr(spec, k) for k in spec.__slots__}  # type: ignore[attr-defined]
