"""``GradientDatabricksOperator``: a ``DatabricksSubmitRunOperator`` that applies, runs, records, recommends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator

from airflow_provider_gradient.operators._apply import GradientTaskState, guarded_apply
from airflow_provider_gradient.operators._params import adopt_settings
from airflow_provider_gradient.operators._record import (
    XCOM_PROJECT_ID,
    XCOM_RECOMMENDATION_ID,
    XCOM_RUN_COST,
    safe_record,
)

Collect = Literal["inline", "defer", "off"]
RECORD_METHOD = "gradient_record_complete"


class GradientDatabricksOperator(DatabricksSubmitRunOperator):
    """Submit a Databricks run on the cluster Gradient recommends, then record the run.

    Takes every argument of ``DatabricksSubmitRunOperator`` plus:

    :param gradient_app_id: project app id (default ``"<dag_id>.<task_id>"``; multi-cluster payloads get
        one project per cluster, ``<app id>.<task_key|job_cluster_key>``).
    :param gradient_sla_minutes: runtime SLA given to a project created by this task.
    :param gradient_auto_apply: auto-apply setting given to a project created by this task (default:
        ``[gradient] default_auto_apply``, off unless the deployment turns it on).
    :param gradient_conn_id: Gradient connection (default ``gradient_default``).
    :param collect: ``inline`` (record right after the run, also when it failed), ``defer`` (wait for the
        event log in the triggerer, then record) or ``off``.
    :param gradient_aws_conn_id: AWS connection to read EC2/EBS facts (exact node lifetimes); optional.
    :param gradient_log_tries: tries to find a complete event log before recording it as incomplete.
    :param gradient_log_backoff_s: first delay between those tries (doubles each time).

    XComs: ``gradient_project_id``, ``gradient_recommendation_id`` (a dict by cluster for multi-cluster
    payloads) and ``gradient_run_cost_usd``.
    """

    template_fields: Sequence[str] = (
        *DatabricksSubmitRunOperator.template_fields,
        "gradient_app_id",
        "gradient_sla_minutes",
    )

    def __init__(
        self,
        *,
        gradient_app_id: str | None = None,
        gradient_sla_minutes: float | str | None = None,
        gradient_auto_apply: bool | None = None,
        gradient_conn_id: str | None = None,
        collect: Collect = "inline",
        gradient_aws_conn_id: str | None = None,
        gradient_log_tries: int | None = None,
        gradient_log_backoff_s: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if collect not in ("inline", "defer", "off"):
            raise ValueError(f"collect must be 'inline', 'defer' or 'off', got {collect!r}")
        self.gradient_app_id = gradient_app_id
        self.gradient_sla_minutes = gradient_sla_minutes
        self.gradient_auto_apply = gradient_auto_apply
        self.gradient_conn_id = gradient_conn_id
        self.collect = collect
        self.gradient_aws_conn_id = gradient_aws_conn_id
        self.gradient_log_tries = gradient_log_tries
        self.gradient_log_backoff_s = gradient_log_backoff_s

    # -- apply + run -------------------------------------------------------------------------------
    def execute(self, context: Any) -> Any:
        adopt_settings(self, context)  # gradient_* params never reach the Databricks job
        state = guarded_apply(self, context)
        self._push_ids(context, state)
        error: BaseException | None = None
        try:
            return super().execute(context)
        except BaseException as e:
            error = e
            raise
        finally:
            if error is None or not _is_deferral(error):
                self._after_run(context, error)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Resume after the Databricks trigger (deferrable mode), then record the run."""
        if event and event.get("run_id") and not self.run_id:
            self.run_id = event["run_id"]
        error: BaseException | None = None
        try:
            return super().execute_complete(context, event)
        except BaseException as e:
            error = e
            raise
        finally:
            self._after_run(context, error)

    def _after_run(self, context: Any, error: BaseException | None) -> None:
        if getattr(self, "_gradient_recorded", False) or self.collect == "off" or not self.run_id:
            return
        self._gradient_recorded = True
        if self.collect == "defer":
            from airflow_provider_gradient.triggers.eventlog import GradientEventLogTrigger

            self.defer(
                trigger=GradientEventLogTrigger(
                    run_id=int(self.run_id),
                    databricks_conn_id=self.databricks_conn_id,
                    timeout_s=_log_timeout_s(),
                    poll_interval_s=float(self.polling_period_seconds),
                ),
                method_name=RECORD_METHOD,
                kwargs={"error": None if error is None else f"{type(error).__name__}: {error}"},
            )
        self._record(context)

    def gradient_record_complete(self, context: Any, event: dict[str, Any] | None = None, error: str | None = None) -> None:
        """Record after :class:`GradientEventLogTrigger` fired (collect="defer"); re-raise the run's failure."""
        self.run_id = self.run_id or (event or {}).get("run_id")
        self._record(context)
        if error:
            from airflow.exceptions import AirflowException

            raise AirflowException(error)

    def _record(self, context: Any) -> None:
        results = safe_record(self, context, self.run_id)
        if not results:
            return
        total = sum(r.cost_usd or 0.0 for r in results if r.error is None)
        _xcom(context, XCOM_RUN_COST, round(total, 6))

    def _push_ids(self, context: Any, state: GradientTaskState) -> None:
        if not state.clusters:
            return
        clusters = state.clusters
        if len(clusters) == 1:
            only = next(iter(clusters.values()))
            _xcom(context, XCOM_PROJECT_ID, only.project_id)
            _xcom(context, XCOM_RECOMMENDATION_ID, only.recommendation_id)
        else:
            _xcom(context, XCOM_PROJECT_ID, {k: c.project_id for k, c in clusters.items()})
            _xcom(context, XCOM_RECOMMENDATION_ID, {k: c.recommendation_id for k, c in clusters.items()})


def _is_deferral(e: BaseException) -> bool:
    return type(e).__name__ == "TaskDeferred"


def _xcom(context: Any, key: str, value: Any) -> None:
    ti = context.get("ti") if hasattr(context, "get") else None
    if ti is None:
        return
    try:
        ti.xcom_push(key=key, value=value)
    except Exception:  # noqa: BLE001 - XCom problems must not fail the task
        pass


def _log_timeout_s() -> float:
    from airflow_provider_gradient.settings import GradientConfigError, declared_defaults, get_settings

    try:
        return get_settings().log_collection_timeout_seconds
    except GradientConfigError:  # the record step fails open and says why
        return float(declared_defaults()["log_collection_timeout_seconds"])
