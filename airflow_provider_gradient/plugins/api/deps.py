"""Dependencies of the REST API: the authenticated Airflow user, its permissions, the service, the CSRF check."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any, Literal

from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, HTTPException, Request, status
from starlette.applications import Starlette

from airflow_provider_gradient.plugins.access import Access
from airflow_provider_gradient.plugins.ui.auth import csrf_token
from airflow_provider_gradient.service import GradientService, Project

log = logging.getLogger(__name__)

#: Every route depends on this: Airflow's own authentication (JWT bearer token or the UI's cookie).
CurrentUser = Annotated[Any, Depends(get_user)]

CSRF_HEADER = "X-Gradient-CSRF"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def service_of(app: Starlette) -> GradientService:
    """The GradientService of ``app`` (``app.state.gradient_service``), built from ``[gradient]`` on first use.

    :param app: the plugin's app (:func:`~airflow_provider_gradient.plugins.app.create_app`).
    """
    svc: GradientService | None = getattr(app.state, "gradient_service", None)
    if svc is None:
        from airflow_provider_gradient.hooks.gradient import local_service

        svc = app.state.gradient_service = local_service()
    return svc


def get_service(request: Request) -> GradientService:
    """The service of the request's app (:func:`service_of`)."""
    return service_of(request.app)


Service = Annotated[GradientService, Depends(get_service)]


def csrf_guard(request: Request) -> None:
    """Writes authenticated by the ambient cookie alone must prove they come from our pages.

    A request with an explicit ``Authorization: Bearer`` header cannot be forged cross-site. A cookie-only
    write must carry the pages' ``X-Gradient-CSRF`` token (an HMAC of the session token); browsers send
    neither that header nor a JSON body cross-site without a CORS preflight, which Airflow does not grant.
    """
    if request.method not in _UNSAFE:
        return
    if (request.headers.get("authorization") or "").lower().startswith("bearer "):
        return
    if not request.cookies:
        return  # no ambient credential to abuse: the authentication dependency answers 401
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused")
    expected = csrf_token(request)
    given = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected, given):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or invalid CSRF token (use a bearer token)")


def get_access(user: CurrentUser) -> Access:
    """The permissions of the request's user (:mod:`airflow_provider_gradient.plugins.access`)."""
    return Access(user)


UserAccess = Annotated[Access, Depends(get_access)]


def authorized_project(
    svc: GradientService, access: Access, ref: int | str, method: Literal["GET", "PUT"] = "GET"
) -> Project:
    """The project of ``ref`` (404 when absent) if the user may ``method`` it (else 403)."""
    project = svc.get_project(ref)
    access.require(project.dag_id, method)
    return project
