"""A run's store columns from a ``RunIn`` (secrets redacted), and the merge of a later record of the same run."""

from __future__ import annotations

from typing import Any

from airflow_provider_gradient.service.redaction import redacted
from airflow_provider_gradient.service.schemas import RunIn
from airflow_provider_gradient.store.models import RunRow

_LOG_RANK = {"missing": 0, "pending": 1, "incomplete": 2, "complete": 3}
#: Run fields that only say which Airflow task run recorded it: a retried record may change them (a later try
#: of the recording task) and is still a retry
AIRFLOW_FIELDS = frozenset({"dag_id", "task_id", "airflow_run_id", "try_number", "map_index", "logical_ms"})


def run_columns(run_in: RunIn) -> dict[str, Any]:
    """Column values of a RunIn (None = not given), secrets redacted."""
    d = redacted(run_in).model_dump(exclude={"databricks_run_id", "cost"})  # cluster, metrics, texts
    if run_in.cost is not None:
        c = run_in.cost
        d.update(
            cost_cloud_usd=c.cloud_usd,
            cost_dbu_usd=c.dbu_usd,
            cost_storage_usd=c.storage_usd,
            cost_total_usd=c.total_usd,
            cost_low_usd=c.low_usd,
            cost_high_usd=c.high_usd,
        )
    return d


def merge_run(row: RunRow, values: dict[str, Any], t: int) -> bool:
    """Apply a later record of the same run: given fields win, a complete log is never downgraded.

    :return: whether a field other than the Airflow bookkeeping (:data:`AIRFLOW_FIELDS`) changed.
    """
    before = {k: getattr(row, k) for k in values if k not in AIRFLOW_FIELDS}
    downgrade = _LOG_RANK[values["log_status"]] < _LOG_RANK[row.log_status] and row.log_status == "complete"
    for k, v in values.items():
        if v is None:
            continue
        if downgrade and k in ("log_status", "log_reason", "metrics"):
            continue
        setattr(row, k, v)
    if not downgrade and values["log_status"] == "complete" and values.get("log_reason") is None:
        row.log_reason = None
    row.updated_ms = t
    return any(getattr(row, k) != v for k, v in before.items())
