"""Discover's Databricks side: fetch jobs, recent runs and their clusters through ``DatabricksHook``.

Read-only calls only (jobs/list, jobs/runs/list, clusters/get), paginated, with the provider's retries.
The analysis lives in :mod:`airflow_provider_gradient.service.discover`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_gradient.service.client import GradientClient
from airflow_provider_gradient.service.discover import DAY_MS, DEFAULT_DAYS, DiscoverReport, WorkspaceScan

log = logging.getLogger(__name__)

LIST_JOBS = ("GET", "2.2/jobs/list")
LIST_RUNS = ("GET", "2.2/jobs/runs/list")
GET_CLUSTER = ("GET", "2.1/clusters/get")
#: Safety caps per workspace (a huge workspace is sampled, not scanned forever).
MAX_PAGES = 200
MAX_CLUSTERS = 2000


class WorkspaceScanner:
    """Scan one Databricks workspace reachable through an Airflow Databricks connection (over ``DatabricksHook``;
    not an Airflow hook itself).

    :param databricks_conn_id: the Airflow connection (``databricks_default`` by default)
    :param retry_limit: DatabricksHook retries on 429/5xx
    """

    def __init__(self, databricks_conn_id: str = "databricks_default", *, retry_limit: int = 3) -> None:
        from airflow.providers.databricks.hooks.databricks import DatabricksHook

        self.conn_id = databricks_conn_id
        self.hook = DatabricksHook(databricks_conn_id, retry_limit=retry_limit, retry_delay=0.5)

    def _call(self, endpoint: tuple[str, str], params: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self.hook._do_api_call(endpoint, dict(params)) or {})

    def _pages(
        self, endpoint: tuple[str, str], params: Mapping[str, Any], key: str
    ) -> Iterator[dict[str, Any]]:
        """Items of a list endpoint over ``page_token`` or ``offset``/``has_more`` pagination."""
        query = dict(params)
        offset = 0
        for _ in range(MAX_PAGES):
            page = self._call(endpoint, query)
            items = page.get(key) or []
            yield from items
            token = page.get("next_page_token")
            if token:
                query = {**params, "page_token": token}
                continue
            if not page.get("has_more") or not items:
                return
            offset += len(items)
            query = {**params, "offset": offset}
        log.warning("discover: %s stopped after %d pages", endpoint[1], MAX_PAGES)

    def scan(self, *, days: int = DEFAULT_DAYS, now_ms: int | None = None) -> WorkspaceScan:
        """jobs/list, runs/list of the last ``days`` days and clusters/get of every cluster they used.

        :param days: window length (1..60)
        :param now_ms: end of the window (default: now)
        """
        if not 1 <= days <= 60:
            raise ValueError(f"days must be within 1..60, got {days}")
        until = now_ms if now_ms is not None else int(time.time() * 1000)
        since = until - days * DAY_MS
        errors: list[str] = []
        jobs = list(self._pages(LIST_JOBS, {"limit": 100, "expand_tasks": "true"}, "jobs"))
        runs: list[dict[str, Any]] = []
        for run in self._pages(
            LIST_RUNS,
            {"limit": 25, "expand_tasks": "true", "completed_only": "true", "start_time_from": since},
            "runs",
        ):
            start = int(run.get("start_time") or 0)
            if start and start < since:
                break  # newest first: the rest is older than the window
            runs.append(run)
        # tolerate clock skew between Airflow and the workspace: the window ends at the newest run
        newest = max((int(r.get("end_time") or r.get("start_time") or 0) for r in runs), default=0)
        until = max(until, newest + 1)
        clusters: dict[str, dict[str, Any]] = {}
        for cid in _cluster_ids(runs)[:MAX_CLUSTERS]:
            try:
                clusters[cid] = self._call(GET_CLUSTER, {"cluster_id": cid})
            except Exception as exc:  # a deleted cluster: fall back to the run's own spec
                errors.append(f"{self.conn_id}: clusters/get {cid}: {type(exc).__name__}")
        region = None
        extra = self.hook.databricks_conn.extra_dejson if getattr(self.hook, "databricks_conn", None) else {}
        if isinstance(extra, Mapping):
            region = extra.get("region") or None
        return WorkspaceScan(
            name=self.conn_id,
            jobs=tuple(jobs),
            runs=tuple(runs),
            clusters=clusters,
            since_ms=since,
            until_ms=until,
            region=region,
            errors=tuple(errors),
        )


def _cluster_ids(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for run in runs:
        for item in [run, *(run.get("tasks") or [])]:
            cid = (item.get("cluster_instance") or {}).get("cluster_id") or item.get("existing_cluster_id")
            if cid:
                seen.setdefault(str(cid), None)
    return list(seen)


def connection_type(conn_id: str) -> str | None:
    """The ``conn_type`` of an Airflow connection (None when it does not exist).

    :param conn_id: the Airflow connection id
    """
    from airflow.providers.databricks.hooks.databricks import DatabricksHook

    try:
        conn = DatabricksHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - AirflowNotFoundException and friends: no such connection
        return None
    return str(conn.conn_type or "").lower() or None


def databricks_conn_ids() -> list[str]:
    """Ids of the Airflow connections of type ``databricks`` (metadata DB and ``AIRFLOW_CONN_*`` env)."""
    import os

    ids: set[str] = set()
    for key, value in os.environ.items():
        if key.startswith("AIRFLOW_CONN_") and str(value).lstrip().lower().startswith(
            ("databricks:", '{"conn_type": "databricks"')
        ):
            ids.add(key[len("AIRFLOW_CONN_") :].lower())
    try:
        from airflow.models import Connection
        from airflow.utils.session import create_session
        from sqlalchemy import select

        with create_session() as session:
            ids.update(
                session.scalars(select(Connection.conn_id).where(Connection.conn_type == "databricks"))
            )
    except Exception as exc:  # no metadata DB (CLI outside Airflow)
        log.debug("discover: cannot list connections from the metadata DB: %s", exc)
    return sorted(ids)


def discover(
    conn_ids: Sequence[str],
    *,
    days: int = DEFAULT_DAYS,
    store_url: str | None = None,
    now_ms: int | None = None,
    service: GradientClient | None = None,
    plan: str | None = None,
    region: str | None = None,
) -> DiscoverReport:
    """Scan the workspaces of ``conn_ids`` and the provider's store; return the Discover report.

    A workspace that cannot be reached is reported in ``errors`` instead of failing the whole scan.

    :param conn_ids: Airflow Databricks connection ids
    :param store_url: the Gradient store (managed app ids); default ``[gradient] store_url``
    :param service: a Gradient client to use instead of ``store_url``
    :param plan: the Databricks plan to price at (default ``[gradient] plan_type``), as recorded runs are
    :param region: the region of clusters that report none and whose connection names none (default
        ``[gradient] region``; none: those runs are *not priced*)
    """
    from airflow_provider_gradient.service.discover import analyze

    if not conn_ids:
        raise ValueError("no Databricks connection given (e.g. --databricks-conn-id databricks_default)")
    until = now_ms if now_ms is not None else int(time.time() * 1000)
    scans: list[WorkspaceScan] = []
    if not 1 <= days <= 60:
        raise ValueError(f"days must be within 1..60, got {days}")
    for conn_id in conn_ids:
        problem = None
        try:
            if connection_type(conn_id) != "databricks":
                problem = "not a Databricks connection: not used"
            else:
                scans.append(WorkspaceScanner(conn_id).scan(days=days, now_ms=until))
                continue
        except Exception as exc:
            # the details (hosts, URLs) stay in the server log; the report names the connection and the kind
            log.warning("discover: workspace %s failed: %s", conn_id, exc)
            problem = f"workspace not reachable ({type(exc).__name__}); details in the server log"
        scans.append(
            WorkspaceScan(conn_id, (), (), {}, until - days * DAY_MS, until, errors=(f"{conn_id}: {problem}",))
        )
    managed: list[str] = []
    svc: GradientClient | None = service
    if svc is None and store_url:
        from airflow_provider_gradient.service import GradientService

        svc = GradientService.from_url(store_url)
    if svc is not None:
        managed = [p.app_id for p in svc.list_projects()]
    if plan is None or region is None:
        from airflow_provider_gradient.settings import get_settings

        settings = get_settings()
        plan = plan or settings.plan_type
        region = region or settings.region
    return analyze(scans, managed_app_ids=managed, plan=plan, region=region, catalog=_catalog())


def _catalog() -> Any:
    """The price catalog recorded runs use (``[gradient] price_catalog`` merged over the shipped one)."""
    from airflow_provider_gradient.core.pricing import load_catalog
    from airflow_provider_gradient.settings import get_settings

    return load_catalog(get_settings().price_catalog)
