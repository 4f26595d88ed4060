"""The optimisation loop's Airflow steps, for code outside ``operators/`` (sensor, listener, CLI, benchmarks).

``_apply``, ``_record`` and ``_pending`` are private to ``operators/``; import these names from here instead:

- apply: :func:`guarded_apply` (apply a recommendation to a task once, bounded in time, fail-open; never
  raises) with :func:`get_client` (the task's Gradient client); the result, a :class:`GradientTaskState`, is
  kept on the task as the attribute named :data:`STATE_ATTR`.
- record: :func:`safe_record` (collect and record a Databricks run of a task; a run that cannot be recorded
  is queued; never raises); :data:`XCOM_RUN_COST` is the XCom key of the run's cost.
- queue: :func:`sync_pending` records the queued runs, one :class:`SyncResult` per :class:`PendingRun`;
  :func:`pending_runs` lists the queue (what ``gradient runs sync`` would record) and :func:`remember` queues a
  run (written privately, secrets redacted), e.g. from your own operator whose run could not be recorded.

Each name is imported on first use, so ``gradient runs sync`` with an empty queue does not load Airflow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_gradient.operators._apply import (
        STATE_ATTR,
        GradientTaskState,
        get_client,
        guarded_apply,
    )
    from airflow_provider_gradient.operators._pending import (
        PendingRun,
        SyncResult,
        pending_runs,
        remember,
        sync_pending,
    )
    from airflow_provider_gradient.operators._record import XCOM_RUN_COST, safe_record

#: public name -> private module defining it
_SOURCES = {
    "STATE_ATTR": "_apply",
    "GradientTaskState": "_apply",
    "get_client": "_apply",
    "guarded_apply": "_apply",
    "PendingRun": "_pending",
    "SyncResult": "_pending",
    "sync_pending": "_pending",
    "pending_runs": "_pending",
    "remember": "_pending",
    "XCOM_RUN_COST": "_record",
    "safe_record": "_record",
}

__all__ = [
    "STATE_ATTR",
    "XCOM_RUN_COST",
    "GradientTaskState",
    "PendingRun",
    "SyncResult",
    "get_client",
    "guarded_apply",
    "pending_runs",
    "remember",
    "safe_record",
    "sync_pending",
]


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # not cached here: always the private module's current attribute (as a direct import would see it)
    return getattr(importlib.import_module(f"airflow_provider_gradient.operators.{source}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
