"""Databricks collector: run, cluster, cluster events and event-log files, all through ``DatabricksHook``.

The small domain methods live on :class:`GradientDatabricksHook` (a ``DatabricksHook`` subclass), so the
connection, auth, retries with backoff on 429/5xx and timeouts stay the provider's.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from airflow.providers.databricks.hooks.databricks import DatabricksHook

CLUSTER_EVENTS_ENDPOINT = ("POST", "2.1/clusters/events")
GET_CLUSTER_ENDPOINT = ("GET", "2.1/clusters/get")
DBFS_READ_ENDPOINT = ("GET", "2.0/dbfs/read")
DBFS_LIST_ENDPOINT = ("GET", "2.0/dbfs/list")
FILES_DIR_ENDPOINT = "2.0/fs/directories"
FILES_ENDPOINT = "2.0/fs/files"
GET_JOB_ENDPOINT = ("GET", "2.2/jobs/get")
#: dbfs/read returns at most 1 MiB per call.
DBFS_CHUNK = 1 << 20
#: Upper bound of cluster-event pages read (500 events each): a guard against a looping next_page.
MAX_EVENT_PAGES = 2000


class CollectionError(RuntimeError):
    """A Databricks resource needed to record a run could not be read."""


class GradientDatabricksHook(DatabricksHook):
    """``DatabricksHook`` with the read calls Gradient needs to record a run.

    :param databricks_conn_id: the Databricks connection (same as the operators').
    """

    def get_cluster(self, cluster_id: str) -> dict[str, Any]:
        """``clusters/get`` of one cluster."""
        return dict(self._do_api_call(GET_CLUSTER_ENDPOINT, {"cluster_id": cluster_id}))

    def iter_cluster_events(
        self, cluster_id: str, *, start_ms: int | None = None, end_ms: int | None = None, page_size: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Yield every event of a cluster, oldest first, following all pages (``next_page`` or ``next_page_token``)."""
        body: dict[str, Any] = {"cluster_id": cluster_id, "order": "ASC", "limit": page_size}
        if start_ms is not None:
            body["start_time"] = int(start_ms)
        if end_ms is not None:
            body["end_time"] = int(end_ms)
        for _ in range(MAX_EVENT_PAGES):
            page = self._do_api_call(CLUSTER_EVENTS_ENDPOINT, body) or {}
            yield from page.get("events") or []
            if page.get("next_page"):
                body = dict(page["next_page"])
            elif page.get("next_page_token"):
                body = {**body, "page_token": page["next_page_token"]}
                body.pop("offset", None)
            else:
                return
        raise CollectionError(f"clusters/events of {cluster_id} returned more than {MAX_EVENT_PAGES} pages")

    def get_job_settings(self, job_id: int) -> dict[str, Any]:
        """``jobs/get`` settings of a job (all pages of tasks/job_clusters collected)."""
        job = self._do_api_call(GET_JOB_ENDPOINT, {"job_id": job_id})
        settings = dict(job.get("settings") or {})
        token = job.get("next_page_token")
        while token:
            page = self._do_api_call(GET_JOB_ENDPOINT, {"job_id": job_id, "page_token": token})
            for key in ("tasks", "job_clusters"):
                settings.setdefault(key, []).extend((page.get("settings") or {}).get(key) or [])
            token = page.get("next_page_token")
        return settings

    # -- files -------------------------------------------------------------------------------------
    def list_files(self, url: str) -> list[dict[str, Any]]:
        """List a ``dbfs:/`` or ``/Volumes/`` directory: ``[{path, is_dir, file_size, modification_time}]``.

        A missing directory gives an empty list.
        """
        from airflow.providers.databricks.hooks.databricks_base import DatabricksApiError

        try:
            if url.startswith("dbfs:"):
                res = self._do_api_call(DBFS_LIST_ENDPOINT, {"path": url})
                files = [dict(f) for f in res.get("files") or []]
                for f in files:  # the API answers "/a/b"; keep the scheme so later calls stay on DBFS
                    path = str(f.get("path") or "")
                    if not path.startswith("dbfs:"):
                        f["path"] = "dbfs:" + (path if path.startswith("/") else "/" + path)
                return files
            out: list[dict[str, Any]] = []
            token: str | None = None
            while True:
                params: dict[str, Any] = {"page_token": token} if token else {}
                res = self._do_api_call(("GET", f"{FILES_DIR_ENDPOINT}{url}"), params or None)
                for e in res.get("contents") or []:
                    out.append(
                        {
                            "path": e.get("path"),
                            "is_dir": bool(e.get("is_directory")),
                            "file_size": e.get("file_size", 0),
                            "modification_time": e.get("last_modified", 0),
                        }
                    )
                token = res.get("next_page_token")
                if not token:
                    return out
        except DatabricksApiError as e:
            if e.http_status_code == 404:
                return []
            raise

    def read_to(self, url: str, out: BinaryIO) -> int:
        """Stream a ``dbfs:/`` file into ``out`` 1 MiB at a time (``/Volumes/`` through the Files API).

        :return: bytes written.
        """
        if not url.startswith("dbfs:"):
            return self._read_volume_file(url, out)
        offset = 0
        while True:
            res = self._do_api_call(DBFS_READ_ENDPOINT, {"path": url, "offset": offset, "length": DBFS_CHUNK})
            n = int(res.get("bytes_read") or 0)
            if n <= 0:
                return offset
            out.write(base64.b64decode(res.get("data") or b""))
            offset += n

    def _read_volume_file(self, path: str, out: BinaryIO) -> int:
        import requests

        url = self._endpoint_url(f"api/{FILES_ENDPOINT}{path}")
        token = self._get_token()
        headers = {**self.user_agent_header, **self._get_aad_headers()}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        written = 0
        with requests.get(url, headers=headers, stream=True, timeout=self.timeout_seconds) as resp:
            resp.raise_for_status()
            for chunk in resp.iter_content(DBFS_CHUNK):
                out.write(chunk)
                written += len(chunk)
        return written

    def list_recursive(self, url: str, *, max_entries: int = 10_000) -> list[dict[str, Any]]:
        """All files (not directories) under ``url``."""
        stack: list[str] = [url.rstrip("/")]
        files: list[dict[str, Any]] = []
        while stack and len(files) < max_entries:
            for entry in self.list_files(stack.pop()):
                if entry.get("is_dir"):
                    stack.append(str(entry["path"]).rstrip("/"))
                else:
                    files.append(entry)
        return files


def cluster_ids_of_run(run: Mapping[str, Any], *, single: bool) -> dict[str, dict[str, Any]]:
    """Map a ``runs/get`` response to ``{slot_id: {cluster_id, spark_context_id, task_keys, ...}}``.

    ``slot_id`` matches :attr:`ClusterSlot.slot_id`: ``new_cluster`` for a single-cluster submit
    (``single=True``), ``tasks/<task_key>`` for a task with its own cluster, ``job_clusters/<key>`` for a
    shared job cluster. Tasks on existing clusters are skipped.
    """
    out: dict[str, dict[str, Any]] = {}
    tasks = list(run.get("tasks") or []) or [run]
    for task in tasks:
        inst = task.get("cluster_instance") or {}
        if not inst.get("cluster_id") or task.get("existing_cluster_id"):
            continue
        if single:
            slot = "new_cluster"
        elif task.get("job_cluster_key"):
            slot = f"job_clusters/{task['job_cluster_key']}"
        else:
            slot = f"tasks/{task.get('task_key')}"
        entry = out.setdefault(
            slot,
            {
                "cluster_id": inst["cluster_id"],
                "spark_context_id": inst.get("spark_context_id"),
                "task_keys": [],
                "start_ms": task.get("start_time") or run.get("start_time"),
                "end_ms": task.get("end_time") or run.get("end_time"),
                "state": task.get("state") or run.get("state") or {},
            },
        )
        if task.get("task_key"):
            entry["task_keys"].append(task["task_key"])
        if task.get("end_time") and (entry["end_ms"] or 0) < task["end_time"]:
            entry["end_ms"] = task["end_time"]
    return out


def eventlog_files(files: list[dict[str, Any]], spark_context_id: str | int | None) -> list[dict[str, Any]]:
    """Pick the event-log parts of one Spark context from a listing under ``<dest>/<cluster>/eventlog``.

    Databricks writes ``.../eventlog/<cluster>_<driver ip>/<spark_context_id>/eventlog`` (the live part)
    plus rolled parts ``eventlog-<date>--<time>[.gz]``. Returns rolled parts in name order, then the live part.
    When no ``spark_context_id`` is known the folder holding the newest part is used.
    """
    parts = [f for f in files if Path(str(f["path"])).name.startswith("eventlog")]
    if spark_context_id is not None:
        ctx = str(spark_context_id)
        chosen = [f for f in parts if Path(str(f["path"])).parent.name == ctx]
    else:
        chosen = []
    if not chosen and parts:
        newest = max(parts, key=lambda f: f.get("modification_time") or 0)
        folder = Path(str(newest["path"])).parent
        chosen = [f for f in parts if Path(str(f["path"])).parent == folder]
    rolled = sorted((f for f in chosen if Path(str(f["path"])).name != "eventlog"), key=lambda f: str(f["path"]))
    live = [f for f in chosen if Path(str(f["path"])).name == "eventlog"]
    return rolled + live


def download_parts(hook: GradientDatabricksHook, parts: list[dict[str, Any]], dest_dir: Path) -> list[Path]:
    """Stream each part to ``dest_dir`` (keeping its file name); returns local paths in order."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for part in parts:
        local = dest_dir / Path(str(part["path"])).name
        with open(local, "wb") as fh:
            hook.read_to(str(part["path"]), fh)
        paths.append(local)
    return paths


def backoff_delays(limit: int, *, base_s: float = 1.0, cap_s: float = 60.0) -> Iterator[float]:
    """Exponential backoff delays (``base * 2**i`` capped), ``limit`` of them."""
    for i in range(max(0, limit)):
        yield min(cap_s, base_s * (2**i))


def sleep(seconds: float) -> None:
    """Indirection so tests and the emulator's accelerated time can shorten waits."""
    time.sleep(seconds)
