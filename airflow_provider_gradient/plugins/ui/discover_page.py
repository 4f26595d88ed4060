"""The Discover page (``/gradient/ui/discover``) and its CSV export.

Scanning a workspace takes a few Databricks API calls per run, so a report is cached for
:data:`CACHE_TTL_S` per (connections, days); the page's "Scan" button forces a fresh scan.

Discover calls a workspace with a connection's credentials, so it only uses connections of type
``databricks`` that the user may read (``is_authorized_connection``) or that ``[gradient] discover_conn_ids``
lists (``plugins/access.py``); anything else is refused (403) before any call, and errors never show a
connection's details.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response

from airflow_provider_gradient.charts import bar_chart
from airflow_provider_gradient.plugins.access import Access
from airflow_provider_gradient.plugins.api.deps import get_service
from airflow_provider_gradient.plugins.ui.rendering import render
from airflow_provider_gradient.plugins.ui.routes import ApiUser, PageUser, router

CACHE_TTL_S = 300.0
_cache: dict[tuple[tuple[str, ...], int], tuple[float, Any]] = {}
_lock = threading.Lock()


def _conn_ids(raw: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for item in raw:
        for part in item.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return tuple(out)


REFUSED = (
    "Discover cannot use connection(s) {ids}: only Databricks connections you may read "
    "(Airflow connection permission) or listed in [gradient] discover_conn_ids."
)


def usable_conn_ids(user: Any) -> list[str]:
    """The Databricks connections ``user`` may scan.

    :param user: the Airflow user
    """
    from airflow_provider_gradient.hooks.discover import databricks_conn_ids

    access = Access(user)
    return [c for c in databricks_conn_ids() if access.can_use_connection(c)]


def _refused(requested: tuple[str, ...], usable: list[str]) -> list[str]:
    return [c for c in requested if c not in usable]


def _report(request: Request, conn_ids: tuple[str, ...], days: int, refresh: bool) -> Any:
    from airflow_provider_gradient.hooks.discover import discover

    key = (conn_ids, days)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit and not refresh and now - hit[0] < CACHE_TTL_S:
            return hit[1]
    report = discover(list(conn_ids), days=days, service=get_service(request))
    with _lock:
        _cache[key] = (time.monotonic(), report)
    return report


@router.get("/discover", name="gradient_discover")
def discover_page(
    request: Request,
    user: PageUser,
    conn_id: list[str] = Query(default=[]),  # noqa: B008
    days: int = 30,
    refresh: str = "",
) -> Response:
    """Top jobs to optimise, findings widgets, timelines of job count and core-hours."""
    from airflow_provider_gradient.service.discover import DEFAULT_RIGHTSIZING_RATE, FINDING_LABELS, FINDINGS

    all_conns = usable_conn_ids(user)
    ids = _conn_ids(conn_id) or (
        ("databricks_default",) if "databricks_default" in all_conns else tuple(all_conns[:1])
    )
    ctx: dict[str, Any] = {
        "all_conns": all_conns,
        "conn_ids": ids,
        "days": days,
        "report": None,
        "error": None,
        "finding_labels": [(f, FINDING_LABELS[f]) for f in FINDINGS],
        "rate": DEFAULT_RIGHTSIZING_RATE,
        "query": urlencode([("conn_id", c) for c in ids] + [("days", days)]),
    }
    refused = _refused(ids, all_conns)
    if refused:
        ctx["error"] = REFUSED.format(ids=", ".join(refused))
        ctx["conn_ids"] = ()
        return render(request, "discover.html", user, 403, nav="discover", **ctx)
    if not 1 <= days <= 60:
        ctx["error"] = "days must be within 1..60"
    elif not ids:
        ctx["error"] = "No Databricks connection found: create one (conn type databricks) in Airflow."
    else:
        try:
            report = _report(request, ids, days, refresh == "1")
        except ValueError as exc:
            ctx["error"] = str(exc)
        else:
            ctx["report"] = report
            ctx["jobs_chart"] = bar_chart(
                report.days, report.jobs_per_day, title="Jobs per day", css="jobs-chart"
            )
            ctx["hours_chart"] = bar_chart(
                report.days, report.core_hours_per_day, title="Core-hours per day", css="hours-chart"
            )
    return render(request, "discover.html", user, nav="discover", **ctx)


@router.get("/discover.csv", name="gradient_discover_csv")
def discover_csv(
    request: Request,
    user: ApiUser,
    conn_id: list[str] = Query(default=[]),  # noqa: B008
    days: int = 30,
) -> Response:
    """The top-jobs table as CSV."""
    from airflow_provider_gradient.service.discover import report_csv

    ids = _conn_ids(conn_id) or ("databricks_default",)
    refused = _refused(ids, usable_conn_ids(user))
    if refused:
        return Response(
            REFUSED.format(ids=", ".join(refused)) + "\n", status_code=403, media_type="text/plain"
        )
    if not 1 <= days <= 60:
        return Response("days must be within 1..60\n", status_code=422, media_type="text/plain")
    try:
        report = _report(request, ids, days, False)
    except ValueError as exc:
        return Response(f"{exc}\n", status_code=422, media_type="text/plain")
    return Response(
        report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="gradient-discover.csv"'},
    )
