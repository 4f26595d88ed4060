"""GradientHook: the ``gradient`` connection -> a Gradient client (local or http), same methods either way.

* **local** (default; also when no ``gradient_default`` connection exists): the in-process
  :class:`~airflow_provider_gradient.service.GradientService` over the store URL (connection extra
  ``store_url``, else ``[gradient] store_url``, else ``sqlite:///$AIRFLOW_HOME/gradient.db``).
* **http**: :class:`~airflow_provider_gradient.hooks.http_client.GradientHttpClient` calling the plugin's REST
  API (``<host>/gradient/api/v1``) with a bearer token (the connection password; or, when a login is set,
  a token obtained from ``/auth/token`` with login + password). Timeouts; retries with backoff on
  429/5xx/connection errors for idempotent calls only.

Connection: ``host`` = Airflow API base URL (e.g. ``http://airflow-api-server:8080``; empty = local),
``password`` = token, extra ``{"mode": "local"|"http", "store_url": ..., "timeout": 10, "retries": 3,
"verify": true}``.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_gradient.settings import GradientSettings, get_settings

if TYPE_CHECKING:
    from airflow_provider_gradient.service import GradientService
    from airflow_provider_gradient.service.client import GradientClient


log = logging.getLogger(__name__)


def _as_bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@functools.lru_cache(maxsize=8)
def _cached_service(url: str, settings: GradientSettings) -> GradientService:
    from airflow_provider_gradient.service import GradientService

    return GradientService.from_settings(settings, url)


def local_service(store_url: str | None = None) -> GradientService:
    """The process-wide GradientService of ``store_url`` (default: from ``[gradient]``)."""
    settings = get_settings()
    return _cached_service(store_url or settings.resolved_store_url(), settings)


class GradientHook(BaseHook):
    """Connection to Gradient: ``get_client()`` returns the local service or the http client.

    :param gradient_conn_id: the ``gradient`` connection (``gradient_default``); when the default one does
        not exist, local mode with the ``[gradient]`` settings is used.
    :param mode: force ``local`` or ``http`` (default: the connection's ``mode`` extra, else http when the
        connection has a host, else local).
    :param store_url: force local mode over this store URL.
    """

    conn_name_attr = "gradient_conn_id"
    default_conn_name = "gradient_default"
    conn_type = "gradient"
    hook_name = "Gradient"

    def __init__(
        self,
        gradient_conn_id: str = default_conn_name,
        *,
        mode: str | None = None,
        store_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.gradient_conn_id = gradient_conn_id
        self._mode = mode
        self._store_url = store_url
        self._client: GradientClient | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: the fields that matter, relabelled (also declared in get_provider_info)."""
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {
                "host": "Airflow API base URL (http mode; empty = local mode)",
                "login": "Username (optional: to obtain a token from /auth/token)",
                "password": "API token (or the password of the username)",
            },
            "placeholders": {
                "host": "http://airflow-api-server:8080",
                "password": "JWT bearer token",
                "extra": '{"mode": "http", "timeout": 10, "retries": 3}',
            },
        }

    # ------------------------------------------------------------------ connection
    def _connection(self) -> Any | None:
        if self._store_url is not None:
            return None
        try:
            return self.get_connection(self.gradient_conn_id)
        except Exception as exc:  # noqa: BLE001
            if exc.__class__.__name__ == "AirflowNotFoundException":
                if self.gradient_conn_id != self.default_conn_name:
                    raise
                return None
            if self.gradient_conn_id == self.default_conn_name:
                log.warning("connection %s not readable (%s); using local mode", self.gradient_conn_id, exc)
                return None
            raise

    @staticmethod
    def _extra(conn: Any) -> dict[str, Any]:
        try:
            extra = dict(conn.extra_dejson or {})
        except Exception:  # noqa: BLE001
            extra = {}
        # new-style keys win over the legacy prefixed ones
        for k in list(extra):
            if k.startswith("extra__gradient__"):
                extra.setdefault(k[len("extra__gradient__") :], extra[k])
        return extra

    def get_client(self) -> GradientClient:
        """The Gradient client (cached on the hook): ``GradientService`` or ``GradientHttpClient``."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    get_conn = get_client

    def _make_client(self) -> GradientClient:
        conn = self._connection()
        extra = self._extra(conn) if conn is not None else {}
        mode = (
            self._mode or extra.get("mode") or ("http" if conn is not None and conn.host else "local")
        ).lower()
        if mode == "local":
            return local_service(self._store_url or extra.get("store_url") or None)
        if mode != "http":
            raise ValueError(
                f"gradient connection {self.gradient_conn_id}: mode must be local or http, not {mode!r}"
            )
        if conn is None or not conn.host:
            raise ValueError(
                f"gradient connection {self.gradient_conn_id}: http mode needs the API base URL as host"
            )
        from airflow_provider_gradient.hooks.http_client import GradientHttpClient

        base = str(conn.host)
        if "://" not in base:
            scheme = conn.schema or "http"
            base = f"{scheme}://{base}" + (f":{conn.port}" if conn.port else "")
        return GradientHttpClient(
            base,
            token=None if conn.login else (conn.password or None),
            username=conn.login or None,
            password=conn.password if conn.login else None,
            timeout=float(extra.get("timeout", 10) or 10),
            retries=int(extra.get("retries", 3) if extra.get("retries") is not None else 3),
            verify=_as_bool(extra.get("verify"), True),
        )

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's "Test" button: calls the health endpoint / the store."""
        try:
            health = self.get_client().health()
        except Exception as exc:  # noqa: BLE001
            return False, str(exc)
        return health.status == "ok", f"Gradient {health.version}, store {health.store}: {health.status}"
