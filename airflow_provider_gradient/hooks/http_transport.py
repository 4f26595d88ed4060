"""Transport of the Gradient REST API client: base URL, auth, timeouts, retries, error mapping (no Airflow).

httpx with timeouts; tenacity retries with exponential backoff + jitter on 429/5xx and on connection/read
errors for idempotent calls only (a connection that never opened is retried for every call, since nothing
was sent). Error responses become the service's typed errors. The domain calls live in
:mod:`~airflow_provider_gradient.hooks.http_client` (like the Databricks provider's ``databricks_base.py``
and ``databricks.py``).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any, Self, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from airflow_provider_gradient.service.errors import (
    AuthenticationError,
    ConflictError,
    GradientError,
    GradientValidationError,
    NotFoundError,
    OptimizerUnavailableError,
    PermissionDeniedError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
API_PREFIX = "/gradient/api/v1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _retry_after(exc: BaseException | None) -> float:
    if isinstance(exc, _RetryableStatus):
        value = exc.response.headers.get("retry-after", "")
        try:
            return min(max(float(value), 0.0), 30.0)
        except ValueError:
            return 0.0
    return 0.0


class GradientHttpTransport:
    """Authenticated, retrying JSON requests to ``<base_url>/gradient/api/v1``.

    :param base_url: the Airflow API server, e.g. ``http://127.0.0.1:8080`` (``/gradient/api/v1`` appended).
    :param token: bearer token (JWT from Airflow's ``/auth/token``).
    :param username: with ``password``: obtain (and renew on 401) the token from ``/auth/token``.
    :param password: see ``username``.
    :param timeout: per-request timeout in seconds.
    :param retries: retries of idempotent calls on 429/5xx/connection errors (0 disables).
    :param verify: TLS certificate verification.
    :param backoff_initial: first backoff in seconds (doubles, with jitter, up to ``backoff_max``).
    :param transport: an httpx transport (tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        verify: bool = True,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api = self.base_url + API_PREFIX
        self._token = token
        self._username = username
        self._password = password
        self.retries = max(0, int(retries))
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._lock = threading.Lock()
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            verify=verify,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "airflow-provider-gradient"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def _fetch_token(self) -> str:
        resp = self._http.post(
            self.base_url + "/auth/token", json={"username": self._username, "password": self._password}
        )
        if resp.status_code not in (200, 201):
            raise AuthenticationError(
                f"could not obtain a token from {self.base_url}/auth/token: {resp.status_code}"
            )
        return str(resp.json()["access_token"])

    def _auth_header(self, renew: bool = False) -> dict[str, str]:
        with self._lock:
            if self._username and (renew or not self._token):
                self._token = self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _send(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        resp = self._http.request(
            method, self.api + path, json=json, params=params, headers=self._auth_header()
        )
        if resp.status_code == 401 and self._username:
            resp = self._http.request(
                method, self.api + path, json=json, params=params, headers=self._auth_header(renew=True)
            )
        return resp

    def _request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok_404_after_retry: bool = False,
    ) -> httpx.Response:
        attempts = {"n": 0}

        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                return True  # nothing was sent
            if not idempotent:
                return False
            return isinstance(exc, (_RetryableStatus, httpx.TransportError))

        def wait(state: RetryCallState) -> float:
            n = max(state.attempt_number - 1, 0)
            base = min(self.backoff_max, self.backoff_initial * 2**n) + random.uniform(0, self.backoff_initial)
            exc = state.outcome.exception() if state.outcome else None
            return max(base, _retry_after(exc))

        def once() -> httpx.Response:
            attempts["n"] += 1
            resp = self._send(method, path, json=json, params=params)
            if resp.status_code in RETRY_STATUSES and idempotent:
                raise _RetryableStatus(resp)
            return resp

        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait,
            retry=retry_if_exception(retryable),
            reraise=True,
            before_sleep=lambda s: log.warning(
                "gradient %s %s failed (%s); retrying",
                method,
                path,
                s.outcome.exception() if s.outcome else "?",
            ),
        )
        try:
            resp = retrying(once)
        except _RetryableStatus as exc:
            resp = exc.response
        except httpx.TimeoutException as exc:
            raise GradientError(f"gradient API {method} {path} timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise GradientError(f"gradient API {method} {path} unreachable: {exc}") from exc
        if resp.status_code == 404 and ok_404_after_retry and attempts["n"] > 1:
            return resp
        if resp.status_code >= 400:
            raise self._error(resp)
        return resp

    @staticmethod
    def _error(resp: httpx.Response) -> GradientError:
        try:
            body = resp.json()
        except ValueError:
            body = {"detail": resp.text[:500]}
        detail = body.get("detail") if isinstance(body, dict) else body
        code = resp.status_code
        if code == 422:
            errors = detail if isinstance(detail, list) else []
            errors = [
                {
                    "loc": [str(x) for x in e.get("loc", []) if x != "body"],
                    "msg": e.get("msg", ""),
                    "type": e.get("type", ""),
                }
                for e in errors
                if isinstance(e, dict)
            ]
            msg = "; ".join(f"{'.'.join(e['loc']) or 'value'}: {e['msg']}" for e in errors) or str(detail)
            return GradientValidationError(msg, errors)
        msg = detail if isinstance(detail, str) else str(detail)
        cls: type[GradientError] = {
            401: AuthenticationError,
            403: PermissionDeniedError,
            404: NotFoundError,
            409: ConflictError,
            503: OptimizerUnavailableError,
        }.get(code, GradientError)
        err = cls(msg)
        err.status_code = code
        return err

    def _get(self, path: str, adapter: Callable[[Any], T], params: dict[str, Any] | None = None) -> T:
        return adapter(self._request("GET", path, idempotent=True, params=params).json())
