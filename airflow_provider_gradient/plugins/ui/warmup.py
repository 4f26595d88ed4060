"""Start-up warm-up of the projects page inside ``airflow api-server``.

Airflow runs the lifespan of mounted ``FastAPI`` apps only, and the plugin mounts a lazily built app, so the
UI router's lifespan does not run there; :func:`start_in_api_server` (called when the plugin's lazy app is
created) builds the real app and warms the projects-page cache in a daemon thread. Light imports only: the
plugin is loaded by every Airflow component, and only the api-server warms.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


def is_api_server(argv: Sequence[str] | None = None) -> bool:
    """Whether this process is ``airflow api-server`` (or one of its workers).

    :param argv: the command line (default ``sys.argv``)
    """
    return "api-server" in (sys.argv if argv is None else argv)[1:3]


def start_in_api_server(lazy_app: Any, argv: Sequence[str] | None = None) -> threading.Thread | None:
    """In the api-server: build ``lazy_app.app`` and warm the projects cache in a daemon thread.

    Never blocks and never raises (errors are logged); elsewhere does nothing and returns None.

    :param lazy_app: an object whose ``app`` property builds the plugin's FastAPI app
    :param argv: the command line (default ``sys.argv``)
    """
    try:
        if not is_api_server(argv):
            return None

        def run() -> None:
            try:
                from airflow_provider_gradient.plugins.api.deps import service_of
                from airflow_provider_gradient.plugins.ui import data
                from airflow_provider_gradient.plugins.ui.routes import compile_templates

                svc = service_of(lazy_app.app)
                if data.is_local(svc):
                    seconds = data.warm_cache(svc)
                    compile_templates()
                    log.info("Gradient pages: projects cache warmed in %.2f s", seconds)
            except Exception:  # a failed warm-up only means the first request computes
                log.exception("Gradient pages: cache warm-up failed")

        thread = threading.Thread(target=run, name="gradient-ui-warmup", daemon=True)
        thread.start()
        return thread
    except Exception:  # pragma: no cover - thread creation failure
        log.exception("Gradient pages: cache warm-up not started")
        return None
