"""Warming the projects page: compute every project's summary (the service's read model caches them) before
the first request, in a daemon thread. The reads themselves are service methods (``service/read_model.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from airflow_provider_gradient.service import GradientService

log = logging.getLogger(__name__)

#: ``warmups``: warm-ups finished (``service.read_model.stats["computed"]`` counts the summaries computed).
stats: dict[str, int] = {"warmups": 0}


def warm_cache(svc: GradientService) -> float:
    """Compute (and cache) every project's summary now; the seconds it took.

    :param svc: the GradientService
    """
    t0 = time.perf_counter()
    svc.project_summaries()
    stats["warmups"] += 1
    return time.perf_counter() - t0


def is_local(svc: object) -> TypeGuard[GradientService]:
    """Whether ``svc`` is the in-process service (whose summaries are cached here), not an HTTP client."""
    from airflow_provider_gradient.service import GradientService

    return isinstance(svc, GradientService)


def start_warmup(get_service: Callable[[], object], also: Callable[[], Any] | None = None) -> threading.Thread:
    """Warm the projects-page cache in a daemon thread (never blocks, never raises: errors are logged).

    :param get_service: returns the GradientService to warm (called in the thread)
    :param also: more warming to do afterwards in the same thread (e.g. compiling the page templates)
    """

    def run() -> None:
        try:
            svc = get_service()
            if not is_local(svc):
                return
            seconds = warm_cache(svc)
            if also is not None:
                also()
            log.info("Gradient pages: projects cache warmed in %.2f s", seconds)
        except Exception:  # a failed warm-up only means the first request computes
            log.exception("Gradient pages: cache warm-up failed")

    thread = threading.Thread(target=run, name="gradient-ui-warmup", daemon=True)
    thread.start()
    return thread
