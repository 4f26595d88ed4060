"""Authentication, authorisation and CSRF protection of the Gradient pages.

Pages authenticate exactly like Airflow's own API: an ``Authorization: Bearer`` JWT or the ``_token``
cookie that Airflow's React UI keeps after login (both resolved by the configured auth manager).

* An unauthenticated **page** request is redirected to the auth manager's login URL (``?next=`` back).
* An unauthenticated **action** (JSON endpoint) request gets ``401``.
* Actions are ``POST`` with a JSON body and an ``X-Gradient-CSRF`` header carrying a token derived from
  the caller's session JWT (HMAC); a cross-site form cannot set that header nor send JSON without a
  CORS preflight, so cookie-only writes are refused.
* Reads of a project need read (``GET``) permission on its DAG, writes (settings, apply, generate, delete)
  edit (``PUT``) permission (``plugins/access.py``: the whole permission model).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request, status

from airflow_provider_gradient.plugins.access import Access

log = logging.getLogger(__name__)

COOKIE_NAME = "_token"
CSRF_HEADER = "X-Gradient-CSRF"
_FALLBACK_KEY = secrets.token_bytes(32)


def _raw_token(request: Request) -> str | None:
    auth = request.headers.get("authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE_NAME) or None


async def _resolve(request: Request) -> Any:
    """Return the Airflow user of the request or raise ``HTTPException(401/403)``."""
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    trusted = getattr(request.state, "user", None)
    if trusted is not None and not request.headers.get("authorization"):
        # Set by Airflow's JWTRefreshMiddleware only together with its trust sentinel.
        from airflow.api_fastapi.core_api import security

        marker = getattr(security, "USER_INJECTED_BY_TRUSTED_MIDDLEWARE", None)
        if marker is not None and getattr(request.state, "user_authenticated_via", None) is marker:
            return trusted
    return await resolve_user_from_token(_raw_token(request))


def login_url(request: Request) -> str:
    """The auth manager's login URL, coming back to the requested page after login."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return str(get_auth_manager().get_url_login(next_url=target))
    except Exception:  # auth manager not initialised (unit tests): Airflow's default route
        return "/auth/login?next=" + quote(target, safe="")


async def page_user(request: Request) -> Any:
    """FastAPI dependency of HTML pages: the user, or a redirect (307) to the login page.

    :param request: the incoming request
    """
    try:
        return await _resolve(request)
    except HTTPException as exc:
        if exc.status_code in (401, 403):
            raise HTTPException(
                status_code=status.HTTP_307_TEMPORARY_REDIRECT,
                detail="login required",
                headers={"Location": login_url(request)},
            ) from None
        raise


async def api_user(request: Request) -> Any:
    """FastAPI dependency of JSON/CSV endpoints: the user, or ``401``."""
    try:
        return await _resolve(request)
    except HTTPException as exc:
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail=exc.detail) from None


def _key() -> bytes:
    try:
        from airflow.configuration import conf

        for section, option in (("api_auth", "jwt_secret"), ("api", "secret_key")):
            value = conf.get(section, option, fallback="")
            if value:
                return hashlib.sha256(("gradient-csrf:" + value).encode()).digest()
    except Exception:
        log.debug("no Airflow secret configured; using a per-process CSRF key")
    return _FALLBACK_KEY


def csrf_token(request: Request) -> str:
    """The CSRF token of the caller's session (empty without a session)."""
    raw = _raw_token(request)
    if not raw:
        return ""
    return hmac.new(_key(), raw.encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request) -> None:
    """Refuse a write that does not prove it comes from our own page (``403``).

    :param request: the incoming (POST/DELETE) request
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method != "DELETE" and ctype != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "actions take application/json")
    auth = request.headers.get("authorization") or ""
    if auth.lower().startswith("bearer "):
        return  # an explicit bearer token is not ambient: not forgeable cross-site
    expected = csrf_token(request)
    given = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected, given):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or invalid CSRF token")


def can_edit_dag(user: Any, dag_id: str | None) -> bool:
    """Whether ``user`` may edit the project of ``dag_id`` (see :mod:`airflow_provider_gradient.plugins.access`).

    :param user: the Airflow user
    :param dag_id: the project's DAG id, if known
    """
    return Access(user).can(dag_id, "PUT")


def require_edit(user: Any, dag_id: str | None) -> None:
    """Raise ``403`` unless :func:`can_edit_dag`."""
    Access(user).require(dag_id, "PUT")
