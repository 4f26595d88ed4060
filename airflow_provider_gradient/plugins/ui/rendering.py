"""Jinja2 environment (autoescape on) and the formatting filters of the Gradient pages."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from airflow_provider_gradient.charts import sparkline
from airflow_provider_gradient.plugins.ui import auth
from airflow_provider_gradient.plugins.ui.views import change_label, savings_class, savings_label, sign_class

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def money(v: float | None) -> str:
    """``$1,234.56`` (``—`` for None)."""
    if v is None:
        return "—"
    return f"-${-v:,.2f}" if v < 0 else f"${v:,.2f}"


def minutes(seconds: float | None) -> str:
    """``12.3 min`` (``—`` for None)."""
    return "—" if seconds is None else f"{seconds / 60:,.1f} min"


def size(n: float | None) -> str:
    """Human bytes (``1.5 GiB``)."""
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def num(v: float | None) -> str:
    return "—" if v is None else f"{float(v):g}" if float(v).is_integer() else f"{float(v):.1f}"


def when(ms: int | None) -> str:
    """UTC ``YYYY-MM-DD HH:MM`` of epoch milliseconds."""
    if ms is None:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M")


ENV = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.globals.update(
    money=money,
    minutes=minutes,
    size=size,
    num=num,
    when=when,
    spark=sparkline,
    change_label=change_label,
    sign_class=sign_class,
    savings_label=savings_label,
    savings_class=savings_class,
)


_row_cache: dict[tuple[int, str], tuple[Any, Markup]] = {}
_row_lock = threading.Lock()


def project_rows(rows: Sequence[Any], base: str) -> list[Markup]:
    """The projects table's ``<tr>`` of each summary, re-rendered only when the summary object changed
    (summaries are cached per project version by the service's ``project_summaries``)."""
    template = ENV.get_template("project_row.html")
    out: list[Markup] = []
    with _row_lock:
        live = set()
        for r in rows:
            key = (r.id, base)
            live.add(key)
            hit = _row_cache.get(key)
            if hit is None or hit[0] is not r:
                hit = (r, Markup(template.render(r=r, base=base)))
                _row_cache[key] = hit
            out.append(hit[1])
        if len(_row_cache) > 2 * len(live) + 100:
            for key in [k for k in _row_cache if k not in live]:
                del _row_cache[key]
    return out


def base_path(request: Request) -> str:
    """URL path of the pages' root (``/gradient/ui`` when mounted by the plugin)."""
    root = request.scope.get("root_path", "") or ""
    return root.rstrip("/") + "/ui"


def render(request: Request, template: str, user: Any, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    """Render ``template`` with the common context (base path, CSRF token, user name, static URLs)."""
    base = base_path(request)
    embedded = request.query_params.get("embedded") == "1" or template == "ti.html"
    username = ""
    for attr in ("get_name", "get_id"):
        fn = getattr(user, attr, None)
        if callable(fn):
            try:
                username = str(fn())
                break
            except Exception:
                continue
    html = ENV.get_template(template).render(
        base=base,
        csrf=auth.csrf_token(request),
        username=username,
        embedded=embedded,
        static=lambda name: f"{base}/static/{name}",
        **ctx,
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            # Nothing may load from outside the Airflow host; inline scripts are not used.
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                "script-src 'self'; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'"
            ),
        },
    )
