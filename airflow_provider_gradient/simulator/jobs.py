"""Jobs API of the emulator: jobs/create, get, list, reset, update (merge by key), run-now."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from airflow_provider_gradient.simulator.errors import bad_request, not_found

if TYPE_CHECKING:
    from airflow_provider_gradient.simulator.state import WorkspaceState

__all__ = ["create_job", "find_job", "get_job", "list_jobs", "reset_job", "run_now", "update_job"]


def create_job(st: WorkspaceState, settings: dict[str, Any]) -> int:
    """jobs/create."""
    if not isinstance(settings, dict) or not (settings.get("tasks") or any(k.endswith("_task") for k in settings)):
        raise bad_request("job settings need tasks")
    with st.lock:
        job_id = st.new_id()
        st.jobs[job_id] = {"job_id": job_id, "settings": copy.deepcopy(settings), "created_time": st.clock.now_ms(),
                             "run_ids": []}
        st.save()
        return job_id


def get_job(st: WorkspaceState, job_id: Any) -> dict[str, Any]:
    """jobs/get."""
    with st.lock:
        job = find_job(st, job_id)
        return {"job_id": job["job_id"], "settings": copy.deepcopy(job["settings"]),
                "created_time": job["created_time"], "creator_user_name": "emulator@example.com"}


def find_job(st: WorkspaceState, job_id: Any) -> dict[str, Any]:
    try:
        jid = int(job_id)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"job_id must be an integer, got {job_id!r}") from exc
    if jid not in st.jobs:
        raise not_found(f"Job {jid} does not exist.")
    return st.jobs[jid]


def delete_job(st: WorkspaceState, job_id: Any) -> None:
    """jobs/delete."""
    with st.lock:
        job = find_job(st, job_id)
        st.jobs.pop(job["job_id"])
        st.save()


def list_jobs(st: WorkspaceState, params: dict[str, Any]) -> dict[str, Any]:
    """jobs/list (name filter, offset/limit)."""
    with st.lock:
        jobs = [get_job(st, j) for j in sorted(st.jobs)]
        name = params.get("name")
        if name:
            jobs = [j for j in jobs if j["settings"].get("name") == name]
        limit = min(int(params.get("limit", 20) or 20), 100)
        offset = int(params.get("offset", 0) or 0)
        return {"jobs": jobs[offset:offset + limit], "has_more": offset + limit < len(jobs)}


def reset_job(st: WorkspaceState, job_id: Any, new_settings: dict[str, Any]) -> None:
    """jobs/reset: replace all settings."""
    if not isinstance(new_settings, dict):
        raise bad_request("new_settings is required")
    with st.lock:
        find_job(st, job_id)["settings"] = copy.deepcopy(new_settings)
        st.save()


def update_job(st: WorkspaceState, job_id: Any, new_settings: dict[str, Any] | None, fields_to_remove: list[str] | None) -> None:
    """jobs/update: merge top-level fields; ``tasks``/``job_clusters`` merge by key like Databricks."""
    with st.lock:
        job = find_job(st, job_id)
        settings = job["settings"]
        for key, value in (new_settings or {}).items():
            if key in ("tasks", "job_clusters") and isinstance(value, list):
                kfield = "task_key" if key == "tasks" else "job_cluster_key"
                by_key = {item.get(kfield): item for item in settings.get(key) or []}
                for item in value:
                    by_key[item.get(kfield)] = copy.deepcopy(item)
                settings[key] = list(by_key.values())
            else:
                settings[key] = copy.deepcopy(value)
        for f in fields_to_remove or []:
            settings.pop(f, None)
        st.save()


def run_now(st: WorkspaceState, job_id: Any, params: dict[str, Any]) -> int:
    """jobs/run-now."""
    with st.lock:
        job = find_job(st, job_id)
        return st.submit(copy.deepcopy(job["settings"]), job_id=job["job_id"], run_type="JOB_RUN")
