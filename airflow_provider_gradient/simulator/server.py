"""The emulator's REST server: Databricks Jobs 2.2/2.1, Clusters 2.1/2.0, DBFS 2.0, Files API, test endpoints.

``create_app(state)`` builds the Starlette app (not FastAPI: the emulator must start in < 3 s);
:class:`EmulatorServer` runs it with uvicorn in a thread plus a ticker thread that performs due side effects
(event-log delivery, EC2 termination) on the simulated clock.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airflow_provider_gradient.simulator.clusters import node_type_list
from airflow_provider_gradient.simulator.delivery import local_path
from airflow_provider_gradient.simulator.errors import ApiError
from airflow_provider_gradient.simulator.faults import FaultError
from airflow_provider_gradient.simulator.state import SPARK_VERSIONS, WorkspaceState

__all__ = ["EmulatorServer", "create_app"]

MAX_READ = 1024 * 1024
VERSIONS = ("2.0", "2.1", "2.2")


def _err(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


async def _params(request: Request) -> dict[str, Any]:
    """Query string merged with a JSON body (GET requests from the async hook carry a body)."""
    out: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    if raw:
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "MALFORMED_REQUEST", f"request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "MALFORMED_REQUEST", "request body must be a JSON object")
        out.update(body)
    return out


def _need(params: dict[str, Any], key: str) -> Any:
    if params.get(key) in (None, ""):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Missing required field: {key}")
    return params[key]


def _drop_connection(send: Any) -> bool:
    """Close the client socket without a response (uvicorn's protocol objects expose the transport)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    transport.close()
    return True


class _Router:
    """Collects routes; every handler gets auth, fault injection and Databricks-style errors."""

    def __init__(self, state: WorkspaceState) -> None:
        self.state = state
        self.routes: list[Route] = []

    def __call__(self, path: str, methods: list[str]) -> Any:
        def deco(fn: Any) -> Any:
            async def endpoint(request: Request) -> Response:
                denied = _check_auth(self.state, request)
                if denied is not None:
                    return denied
                if request.url.path.startswith("/api/"):
                    injected = await _inject_faults(self.state, request)
                    if injected is not None:
                        return injected
                try:
                    result = await fn(request)
                except ApiError as exc:
                    return _err(exc.status, exc.error_code, exc.message)
                except (ValueError, TypeError, KeyError, AttributeError) as exc:
                    return _err(400, "INVALID_PARAMETER_VALUE", f"invalid request: {exc}")
                return result if isinstance(result, Response) else JSONResponse(result)

            self.routes.append(Route(path, endpoint, methods=methods))
            return fn

        return deco

    def get(self, path: str) -> Any:
        return self(path, ["GET"])

    def post(self, path: str) -> Any:
        return self(path, ["POST"])

    def delete(self, path: str) -> Any:
        return self(path, ["DELETE"])

    def api_route(self, path: str, methods: list[str]) -> Any:
        return self(path, methods)


def _check_auth(state: WorkspaceState, request: Request) -> Response | None:
    if request.url.path == "/_emulator/health":
        return None
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        return _err(401, "UNAUTHENTICATED", "Missing or malformed Authorization header (Bearer token expected)")
    if state.config.token is not None and header[7:].strip() != state.config.token:
        return _err(403, "PERMISSION_DENIED", "Invalid access token")
    return None


async def _inject_faults(state: WorkspaceState, request: Request) -> Response | None:
    f = state.faults.faults
    if f.latency_ms:
        await asyncio.sleep(f.latency_ms / 1000.0)
    if state.faults.take_drop() and _drop_connection(request.scope.get("_send")):
        return Response(status_code=499)
    status = state.faults.take_error(request.url.path)
    if status is not None:
        code = {429: "REQUEST_LIMIT_EXCEEDED", 500: "INTERNAL_ERROR"}.get(status, "TEMPORARILY_UNAVAILABLE")
        return _err(status, code, f"injected fault ({status})")
    return None


def create_app(state: WorkspaceState) -> Starlette:
    """The ASGI app serving ``state``."""
    app = _Router(state)

    # ------------------------------------------------------------------ jobs / runs
    for ver in VERSIONS:
        base = f"/api/{ver}/jobs"

        @app.post(f"{base}/runs/submit")
        async def runs_submit(request: Request) -> Any:
            body = await _params(request)
            state.record("POST", request.url.path, body)
            return {"run_id": state.submit(body)}

        @app.get(f"{base}/runs/get")
        async def runs_get(request: Request) -> Any:
            p = await _params(request)
            return state.get_run(_need(p, "run_id"))

        @app.get(f"{base}/runs/get-output")
        async def runs_get_output(request: Request) -> Any:
            p = await _params(request)
            return state.get_output(_need(p, "run_id"))

        @app.post(f"{base}/runs/cancel")
        async def runs_cancel(request: Request) -> Any:
            p = await _params(request)
            state.record("POST", request.url.path, p)
            state.cancel(_need(p, "run_id"))
            return {}

        @app.get(f"{base}/runs/list")
        async def runs_list(request: Request) -> Any:
            return state.list_runs(await _params(request))

        @app.post(f"{base}/create")
        async def jobs_create(request: Request) -> Any:
            p = await _params(request)
            state.record("POST", request.url.path, p)
            return {"job_id": state.create_job(p)}

        @app.get(f"{base}/get")
        async def jobs_get(request: Request) -> Any:
            p = await _params(request)
            return state.get_job(_need(p, "job_id"))

        @app.get(f"{base}/list")
        async def jobs_list(request: Request) -> Any:
            return state.list_jobs(await _params(request))

        @app.post(f"{base}/reset")
        async def jobs_reset(request: Request) -> Any:
            p = await _params(request)
            state.record("POST", request.url.path, p)
            state.reset_job(_need(p, "job_id"), _need(p, "new_settings"))
            return {}

        @app.post(f"{base}/update")
        async def jobs_update(request: Request) -> Any:
            p = await _params(request)
            state.record("POST", request.url.path, p)
            state.update_job(_need(p, "job_id"), p.get("new_settings"), p.get("fields_to_remove"))
            return {}

        @app.post(f"{base}/delete")
        async def jobs_delete(request: Request) -> Any:
            p = await _params(request)
            state.record("POST", request.url.path, p)
            state.delete_job(_need(p, "job_id"))
            return {}

        @app.post(f"{base}/run-now")
        async def jobs_run_now(request: Request) -> Any:
            p = await _params(request)
            state.record("POST", request.url.path, p)
            run_id = state.run_now(_need(p, "job_id"), p)
            return {"run_id": run_id, "number_in_job": run_id}

    # ------------------------------------------------------------------ clusters
    for ver in ("2.0", "2.1"):
        base = f"/api/{ver}/clusters"

        @app.get(f"{base}/get")
        async def clusters_get(request: Request) -> Any:
            p = await _params(request)
            return state.get_cluster(_need(p, "cluster_id"))

        @app.api_route(f"{base}/events", methods=["GET", "POST"])
        async def clusters_events(request: Request) -> Any:
            p = await _params(request)
            _need(p, "cluster_id")
            return state.cluster_events(p)

        @app.get(f"{base}/list")
        async def clusters_list(request: Request) -> Any:
            with state.lock:
                ids = sorted(state.clusters, key=lambda c: state.clusters[c]["created_ms"], reverse=True)[:100]
            return {"clusters": [state.get_cluster(c) for c in ids]}

        @app.get(f"{base}/list-node-types")
        async def list_node_types(request: Request) -> Any:
            return {"node_types": node_type_list(state.config.cloud)}

        @app.get(f"{base}/spark-versions")
        async def spark_versions(request: Request) -> Any:
            return {"versions": [{"key": v, "name": v.replace("-scala2.12", " (Scala 2.12)")} for v in SPARK_VERSIONS]}

    # ------------------------------------------------------------------ DBFS 2.0 and Files API
    def _dbfs_path(p: dict[str, Any]) -> tuple[str, Any]:
        raw = str(_need(p, "path"))
        uri = raw if raw.startswith("dbfs:") else "dbfs:" + (raw if raw.startswith("/") else "/" + raw)
        try:
            return uri, local_path(state, uri)
        except ValueError as exc:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", str(exc)) from exc

    def _status(uri: str, path: Any) -> dict[str, Any]:
        st = path.stat()
        return {"path": uri[len("dbfs:"):] or "/", "is_dir": path.is_dir(), "file_size": 0 if path.is_dir() else st.st_size,
                "modification_time": int(st.st_mtime * 1000)}

    @app.get("/api/2.0/dbfs/get-status")
    async def dbfs_get_status(request: Request) -> Any:
        uri, path = _dbfs_path(await _params(request))
        if not path.exists():
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"No file or directory exists on path {uri[5:]}.")
        return _status(uri, path)

    @app.get("/api/2.0/dbfs/list")
    async def dbfs_list(request: Request) -> Any:
        uri, path = _dbfs_path(await _params(request))
        if not path.exists():
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"No file or directory exists on path {uri[5:]}.")
        if not path.is_dir():
            return {"files": [_status(uri, path)]}
        prefix = uri.rstrip("/")
        return {"files": [_status(f"{prefix}/{c.name}", c) for c in sorted(path.iterdir()) if not c.name.endswith(".tmp")]}

    @app.get("/api/2.0/dbfs/read")
    async def dbfs_read(request: Request) -> Any:
        p = await _params(request)
        uri, path = _dbfs_path(p)
        if not path.is_file():
            if path.is_dir():
                raise ApiError(400, "NOT_A_FILE", f"A directory exists on path {uri[5:]}.")
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"No file or directory exists on path {uri[5:]}.")
        offset = int(p.get("offset", 0) or 0)
        length = int(p.get("length", MAX_READ) or MAX_READ)
        if offset < 0 or length < 0:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "offset and length must be >= 0")
        if length > MAX_READ:
            raise ApiError(400, "MAX_READ_SIZE_EXCEEDED", f"Cannot read more than {MAX_READ} bytes at once")
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read(length)
        return {"bytes_read": len(data), "data": base64.b64encode(data).decode()}

    @app.get("/api/2.0/fs/files/{path:path}")
    async def files_download(request: Request) -> Response:
        path = request.path_params["path"]
        local = local_path(state, "/" + path)
        if not local.is_file():
            raise ApiError(404, "NOT_FOUND", f"File /{path} not found")
        return Response(local.read_bytes(), media_type="application/octet-stream")

    @app.get("/api/2.0/fs/directories/{path:path}")
    async def files_list(request: Request) -> Any:
        path = request.path_params["path"]
        local = local_path(state, "/" + path)
        if not local.is_dir():
            raise ApiError(404, "NOT_FOUND", f"Directory /{path} not found")
        return {"contents": [{"path": f"/{path.rstrip('/')}/{c.name}", "is_directory": c.is_dir(), "name": c.name,
                              "file_size": 0 if c.is_dir() else c.stat().st_size} for c in sorted(local.iterdir())]}

    # ------------------------------------------------------------------ test-only endpoints
    @app.get("/_emulator/health")
    async def health(request: Request) -> Any:
        return {"status": "ok", "sim_time_ms": state.clock.now_ms(), "time_scale": state.clock.time_scale}

    @app.get("/_emulator/faults")
    async def faults_get(request: Request) -> Any:
        return state.faults.faults.to_dict()

    @app.post("/_emulator/faults")
    async def faults_set(request: Request) -> Any:
        p = await _params(request)
        reset = bool(p.pop("reset", False))
        try:
            return state.faults.set(p, reset=reset).to_dict()
        except FaultError as exc:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", str(exc)) from exc

    @app.get("/_emulator/submissions")
    async def submissions(request: Request) -> Any:
        with state.lock:
            return {"submissions": list(state.submissions)}

    @app.delete("/_emulator/submissions")
    async def submissions_clear(request: Request) -> Any:
        with state.lock:
            state.submissions.clear()
        return {}

    @app.get("/_emulator/clusters/{cluster_id}/simulation")
    async def simulation(request: Request) -> Any:
        cluster_id = request.path_params["cluster_id"]
        res = state.task_result(cluster_id)
        c = state.clusters[cluster_id]
        return {"profile": res.profile, "run_index": res.run_index, "seed": res.seed, "succeeded": res.succeeded,
                "tasks_on_cluster": [m["task_key"] for m in c["members"]],
                "failure_kind": res.failure_kind, "failure_message": res.failure_message, "runtime_s": res.runtime_s,
                "startup_s": res.startup_s, "tasks": res.tasks, "failed_tasks": res.failed_tasks,
                "stages": len(res.stages), "jobs": res.num_jobs, "input_bytes": res.input_bytes,
                "executor_run_ms": res.executor_run_ms, "spot_interruptions": res.spot_interruptions,
                "app_start_ms": c["created_ms"] + int(res.app_start_s * 1000),
                "app_end_ms": c["created_ms"] + int(res.app_end_s * 1000),
                "eventlog_written": c["eventlog_written"], "spec": c["spec"]}

    @app.post("/_emulator/tick")
    async def tick(request: Request) -> Any:
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(state.tick)
        return {"sim_time_ms": state.clock.now_ms()}

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        if status == 405:
            return _err(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.url.path}")
        return _err(404, "ENDPOINT_NOT_FOUND", f"No API found for '{request.method} {request.url.path}'")

    return Starlette(routes=app.routes, exception_handlers={404: not_found, 405: not_found})




class _SendCapture:
    """ASGI wrapper exposing the server's ``send`` in the scope (for dropping connections)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            scope["_send"] = send
        await self.app(scope, receive, send)


class EmulatorServer:
    """uvicorn serving the emulator in a background thread, plus the side-effect ticker thread."""

    def __init__(self, state: WorkspaceState, host: str = "127.0.0.1", port: int = 0, tick_s: float = 0.1) -> None:
        import uvicorn

        self.state = state
        self.app = create_app(state)
        self.tick_s = tick_s
        config = uvicorn.Config(_SendCapture(self.app), host=host, port=port, log_level="warning", access_log=False,
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self.port = port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> EmulatorServer:
        """Start serving; returns once the socket is bound."""
        self._thread = threading.Thread(target=self.server.run, name="emulator-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("emulator HTTP server did not start")
            time.sleep(0.01)
        sockets = [s for srv in getattr(self.server, "servers", []) for s in srv.sockets]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        cfg = self.state.config
        object.__setattr__(cfg, "port", self.port)
        self._ticker = threading.Thread(target=self._tick_loop, name="emulator-ticker", daemon=True)
        self._ticker.start()
        return self

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.state.tick(wait=False)
            except Exception:  # noqa: BLE001 - keep ticking; errors surface in the state's effects
                import logging

                logging.getLogger(__name__).exception("emulator tick failed")

    def stop(self) -> None:
        """Stop serving and persist the state."""
        self._stop.set()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self.state.save()

    @property
    def alive(self) -> bool:
        """True while the HTTP server thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self) -> None:
        """Block until the server exits (CLI foreground mode)."""
        if self._thread is not None:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
